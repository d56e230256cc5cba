"""A conversation's settings: memory, model, temperature, system prompt (persona). A new
chat has them too, before its first message: they are kept in the page's state and given
along with the first message (chat.turn.start)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from chat.auth.accounts import Account
from chat.auth.preferences import Preferences, new_conversation_model, new_conversation_prompt
from chat.conversations.service import ConversationView
from chat.errors import ChatError
from chat.llm.factory import model_label
from chat.services import Services
from pages.parts.memory_panel import draw_memory_panel

NEW = "new"  # the widgets' key suffix for a chat not started yet
DEFAULT_TEMPERATURE = 0.7


@dataclass(frozen=True)
class NewChatSetup:
    """What a new chat starts with, as set before its first message."""

    model: str
    temperature: float | None  # None: the model's default
    system_prompt: str


def new_chat_setup(services: Services, preferences: Preferences) -> NewChatSetup:
    """The new chat's settings as the user left them (the user's defaults until changed)."""
    state = st.session_state
    model = state.get(f"model-{NEW}") or new_conversation_model(services.settings, preferences)
    prompt = state.get(f"prompt-{NEW}")
    return NewChatSetup(
        model=model,
        temperature=None
        if state.get(f"default-temperature-{NEW}", True)
        else float(state.get(f"temperature-{NEW}", DEFAULT_TEMPERATURE)),
        system_prompt=new_conversation_prompt(services.settings, preferences)
        if prompt is None
        else prompt,
    )


def forget_new_chat_setup() -> None:
    """After the first message: the next new chat starts from the user's defaults."""
    for name in ("model", "default-temperature", "temperature", "prompt"):
        st.session_state.pop(f"{name}-{NEW}", None)


def draw_new_chat_settings(services: Services, setup: NewChatSetup) -> None:
    with st.popover(
        f"Model: {model_label(services.settings, setup.model)}",
        icon=":material/tune:",
        help="Model, temperature and persona of this new chat",
    ):
        st.caption("Set up this chat before your first message. Memory can be chosen after it.")
        draw_fields(services, NEW, setup.model, setup.temperature, setup.system_prompt)


def settings_key(conversation_id: object) -> str:
    """The key of a conversation's Settings popover (its state: open or not)."""
    return f"settings-{conversation_id}"


def draw_conversation_settings(
    services: Services, account: Account, view: ConversationView
) -> None:
    with st.popover(
        "Settings",
        icon=":material/tune:",
        help="Memory, model, temperature, persona",
        key=settings_key(view.id),
        on_change="rerun",
    ) as settings:
        # Drawn only while open (opening it reruns the page): closed, its inputs and the
        # summary's state, read from the database, went with every run of the page.
        # Closing it drops what was changed and not saved.
        if not settings.open:
            return
        draw_memory_panel(services, account, view)
        st.divider()
        model, temperature, prompt = draw_fields(
            services, str(view.id), view.model, view.temperature, view.system_prompt
        )
        if st.button("Save settings", type="primary", key=f"save-settings-{view.id}"):
            try:
                services.conversations.configure(
                    user_id=account.id,
                    conversation_id=view.id,
                    model=model,
                    temperature=temperature,
                    system_prompt=prompt,
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.toast("Settings saved: they apply from your next message.")


def draw_fields(
    services: Services, suffix: str, model: str, temperature: float | None, prompt: str
) -> tuple[str, float | None, str]:
    """Model, temperature and persona inputs; returns what they hold."""
    models = services.conversations.available_models()
    chosen = st.selectbox(
        "Model",
        models,
        index=models.index(model) if model in models else 0,
        format_func=lambda name: model_label(services.settings, name),
        key=f"model-{suffix}",
    )
    use_default = st.checkbox(
        "Model's default temperature",
        value=temperature is None,
        key=f"default-temperature-{suffix}",
    )
    chosen_temperature = st.slider(
        "Temperature",
        min_value=0.0,
        max_value=2.0,
        step=0.1,
        value=DEFAULT_TEMPERATURE if temperature is None else float(temperature),
        help="Lower is more focused, higher more varied. Ignored by the offline model.",
        disabled=use_default,
        key=f"temperature-{suffix}",
    )
    chosen_prompt = st.text_area(
        "System prompt (persona)",
        value=prompt,
        height=120,
        help="How the assistant should behave in this conversation.",
        key=f"prompt-{suffix}",
    )
    st.caption(
        "Your name, preferred language and “about me” from the Account page are added "
        "to this, so answers come in your language."
    )
    return chosen, None if use_default else float(chosen_temperature), chosen_prompt
