"""The chat sidebar: new chat, search, the user's conversations grouped by age (pinned on
top, "load more" paging), per-conversation actions, model notice, account link, logout."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from chat.auth.accounts import Account
from chat.conversations.service import ConversationView, group_by_age
from chat.errors import ChatError
from chat.llm.factory import model_label
from chat.markup import plain
from chat.services import Services
from chat.storage.repository import ConversationSummary
from pages.parts.dialogs import draw_conversation_dialogs, request_dialog
from pages.parts.search import draw_search
from pages.support.web_auth import sign_out

PAGE_SIZE = 30
SHOWN_KEY = "_sidebar_shown"


def open_conversation(conversation_id: uuid.UUID, message_id: uuid.UUID | None = None) -> None:
    st.query_params.clear()
    st.query_params["c"] = str(conversation_id)
    if message_id is not None:
        st.query_params["m"] = str(message_id)


def viewer_zone() -> ZoneInfo | None:
    """The browser's time zone, so "Today" is the viewer's day (server's when unknown)."""
    try:
        name = st.context.timezone
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):  # a zone name this server does not know
        return None


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
        st.markdown(f"**{plain(account.display_name)}**")
        if st.button("New chat", icon=":material/add:", use_container_width=True, key="new-chat"):
            st.query_params.clear()
            st.rerun()
        if not draw_search(services, account, open_conversation):
            draw_conversation_list(services, account, current)
        if view is not None and extra is not None:
            extra(view)
        st.divider()
        st.caption(f"Model: {model_label(settings, view.model if view else 'offline')}")
        if settings.offline:
            st.info(
                "Running on the built-in offline model: no API key is configured.",
                icon=":material/cloud_off:",
            )
        st.button(
            "Log out", key="logout-button", on_click=sign_out, args=(services.accounts, account)
        )
    draw_conversation_dialogs(services, account)


def draw_conversation_list(services: Services, account: Account, current: uuid.UUID | None) -> None:
    shown = int(st.session_state.get(SHOWN_KEY, PAGE_SIZE))
    try:
        # One row more than shown tells whether "load more" has anything to load.
        conversations = services.conversations.list(user_id=account.id, limit=shown + 1)
    except ChatError as exc:
        st.error(exc.user_message)
        return
    more = len(conversations) > shown
    if not conversations:
        st.caption("No conversations yet: say hello below.")
        return
    tz = viewer_zone()
    today = datetime.now(tz).date()
    for group, items in group_by_age(conversations[:shown], today=today, tz=tz):
        st.caption(group)
        for item in items:
            draw_row(services, account, item, selected=item.id == current)
    if more and st.button("Load more", key="load-more", use_container_width=True):
        st.session_state[SHOWN_KEY] = shown + PAGE_SIZE
        st.rerun()


def draw_row(
    services: Services, account: Account, item: ConversationSummary, *, selected: bool
) -> None:
    title_column, menu_column = st.columns([5, 1], vertical_alignment="center", gap="small")
    with title_column:
        st.button(
            plain(item.title),
            key=f"conv-{item.id}",
            use_container_width=True,
            type="primary" if selected else "secondary",
            icon=":material/push_pin:" if item.pinned else None,
            on_click=open_conversation,
            args=(item.id,),
        )
    with (
        menu_column,
        st.popover(
            "", icon=":material/more_vert:", help="Rename, pin, delete", key=f"menu-{item.id}"
        ),
    ):
        if st.button(
            "Unpin" if item.pinned else "Pin",
            key=f"pin-{item.id}",
            icon=":material/push_pin:",
        ):
            try:
                services.conversations.set_pinned(
                    user_id=account.id, conversation_id=item.id, pinned=not item.pinned
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.rerun()
        if st.button("Rename", key=f"rename-{item.id}", icon=":material/edit:"):
            request_dialog("rename", id=str(item.id), title=item.title)
            st.rerun()
        if st.button("Delete", key=f"delete-{item.id}", icon=":material/delete:"):
            request_dialog("delete", id=str(item.id), title=item.title)
            st.rerun()
