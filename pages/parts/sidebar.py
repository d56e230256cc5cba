"""The chat sidebar: new chat, the user's conversations, model notice, logout."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from chat import runtime
from chat.accounts import Account
from chat.conversations import ConversationView
from chat.errors import ChatError
from chat.llm import model_label
from chat.services import Services


def open_conversation(conversation_id: uuid.UUID) -> None:
    st.query_params["c"] = str(conversation_id)


def draw_sidebar(
    services: Services,
    account: Account,
    current: uuid.UUID | None,
    view: ConversationView | None,
    extra: Callable[[ConversationView], None] | None = None,
) -> None:
    """`extra` draws conversation-specific panels (e.g. memory settings) under the list."""
    settings = services.settings
    with st.sidebar:
        st.markdown(f"**{account.display_name}**")
        if st.button("New chat", icon=":material/add:", use_container_width=True, key="new-chat"):
            st.query_params.clear()
            st.rerun()
        st.caption("Conversations")
        try:
            conversations = services.conversations.list(user_id=account.id)
        except ChatError as exc:
            st.error(exc.user_message)
            conversations = []
        if not conversations:
            st.caption("No conversations yet: say hello below.")
        for item in conversations:
            st.button(
                item.title,
                key=f"conv-{item.id}",
                use_container_width=True,
                type="primary" if item.id == current else "secondary",
                on_click=open_conversation,
                args=(item.id,),
            )
        if view is not None and extra is not None:
            extra(view)
        st.divider()
        st.caption(f"Model: {model_label(settings, view.model if view else 'offline')}")
        if settings.offline:
            st.info(
                "Running on the built-in offline model: no API key is configured.",
                icon=":material/cloud_off:",
            )

        def revoke_on_logout(_details: dict[str, object]) -> None:
            services.accounts.revoke_sessions(user_id=account.id)

        runtime.authenticator().logout(
            "Log out", location="sidebar", key="logout-button", callback=revoke_on_logout
        )
