"""Per-conversation settings: model, temperature, system prompt (persona)."""

from __future__ import annotations

import streamlit as st

from chat.auth.accounts import Account
from chat.conversations.service import ConversationView
from chat.errors import ChatError
from chat.llm.factory import model_label
from chat.services import Services


def draw_conversation_settings(
    services: Services, account: Account, view: ConversationView
) -> None:
    with (
        st.popover("Settings", icon=":material/tune:", help="Model, temperature, persona"),
        st.form(f"settings-{view.id}", border=False),
    ):
        models = services.conversations.available_models()
        model = st.selectbox(
            "Model",
            models,
            index=models.index(view.model) if view.model in models else 0,
            format_func=lambda name: model_label(services.settings, name),
        )
        default_temperature = st.checkbox(
            "Model's default temperature", value=view.temperature is None
        )
        temperature = st.slider(
            "Temperature",
            min_value=0.0,
            max_value=2.0,
            step=0.1,
            value=0.7 if view.temperature is None else float(view.temperature),
            help="Lower is more focused, higher more varied. Ignored by the offline model.",
        )
        system_prompt = st.text_area(
            "System prompt (persona)",
            value=view.system_prompt,
            height=120,
            help="How the assistant should behave in this conversation.",
        )
        st.caption(
            "Your name, preferred language and “about me” from the Account page are added "
            "to this, so answers come in your language."
        )
        if st.form_submit_button("Save settings", type="primary"):
            try:
                services.conversations.configure(
                    user_id=account.id,
                    conversation_id=view.id,
                    model=model,
                    temperature=None if default_temperature else temperature,
                    system_prompt=system_prompt,
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.toast("Settings saved: they apply from your next message.")
                st.rerun()
