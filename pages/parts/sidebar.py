"""The chat sidebar: new chat, search, the user's conversations grouped by age (pinned on
top, "load more" paging), model notice, logout; and the open conversation's actions."""

from __future__ import annotations

import uuid
from datetime import datetime

import streamlit as st

from chat.auth.accounts import Account
from chat.conversations.service import ConversationView, group_by_age
from chat.errors import ChatError
from chat.llm.factory import model_label
from chat.markup import plain
from chat.services import Services
from pages.parts.dialogs import being_deleted, draw_conversation_dialogs, request_dialog
from pages.parts.search import draw_search
from pages.support.clock import viewer_zone
from pages.support.web_auth import sign_out

PAGE_SIZE = 30
SHOWN_KEY = "_sidebar_shown"


def open_conversation(conversation_id: uuid.UUID, message_id: uuid.UUID | None = None) -> None:
    """Put the conversation (and a message of it) in the URL. Each change is an entry in the
    browser's history, so a URL that already says it is left alone: a message sent in the
    open conversation adds no entry that Back would have to step through."""
    wanted = {"c": str(conversation_id)}
    if message_id is not None:
        wanted["m"] = str(message_id)
    if st.query_params.to_dict() == wanted:
        return
    st.query_params.clear()
    st.query_params.update(wanted)


# Conversation rows read as a list: left-aligned titles cut with an ellipsis, the open one
# marked. App-made CSS (the rows' keys start with "conv-").
SIDEBAR_STYLE = """<style>
[class*="st-key-conv-"] button { justify-content: flex-start; min-height: 2rem;
  padding: 0.2rem 0.6rem; }
[class*="st-key-conv-"] button > div { justify-content: flex-start; min-width: 0;
  overflow: hidden; }
[class*="st-key-conv-"] [data-testid="stMarkdownContainer"] { min-width: 0; overflow: hidden; }
[class*="st-key-conv-"] p { white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  text-align: left; }
[class*="st-key-conv-"] button[kind="tertiary"] { font-weight: 400; }
[class*="st-key-conv-"] button[kind="secondary"] { font-weight: 600;
  background: rgba(128, 128, 128, 0.12); border-color: transparent; }
</style>"""


def draw_sidebar(
    services: Services,
    account: Account,
    current: uuid.UUID | None,
    model: str,
) -> None:
    """`model`: the model of the open conversation, or the one a new chat will use."""
    settings = services.settings
    with st.sidebar:
        st.html(SIDEBAR_STYLE)  # reviewed: app-made, no user text
        st.markdown(f"**{plain(account.display_name)}**")
        if st.button("New chat", icon=":material/add:", use_container_width=True, key="new-chat"):
            st.query_params.clear()
            st.rerun()
        if not draw_search(services, account, open_conversation):
            draw_conversation_list(services, account, current)
        st.divider()
        st.caption(f"Model: {model_label(settings, model)}")
        if settings.offline:
            st.info(
                "Running on the built-in offline model: no API key is configured.",
                icon=":material/cloud_off:",
            )
        st.button("Log out", key="logout-button", on_click=sign_out, args=(services, account))
    draw_conversation_dialogs(services, account)


def draw_conversation_list(services: Services, account: Account, current: uuid.UUID | None) -> None:
    shown = int(st.session_state.get(SHOWN_KEY, PAGE_SIZE))
    try:
        # One row more than shown tells whether "load more" has anything to load.
        conversations = services.conversations.list(user_id=account.id, limit=shown + 1)
    except ChatError as exc:
        st.error(exc.user_message)
        return
    hidden = being_deleted()
    conversations = [item for item in conversations if str(item.id) != hidden]
    more = len(conversations) > shown
    if not conversations:
        st.caption("No conversations yet: say hello below.")
        return
    tz = viewer_zone()
    today = datetime.now(tz).date()
    for group, items in group_by_age(conversations[:shown], today=today, tz=tz):
        st.caption(group)
        for item in items:
            selected = item.id == current
            st.button(
                plain(item.title),
                key=f"conv-{item.id}",
                use_container_width=True,
                type="secondary" if selected else "tertiary",
                icon=":material/push_pin:" if item.pinned else None,
                on_click=open_conversation,
                args=(item.id,),
            )
    if more and st.button("Load more", key="load-more", use_container_width=True):
        st.session_state[SHOWN_KEY] = shown + PAGE_SIZE
        st.rerun()


def draw_conversation_actions(services: Services, account: Account, view: ConversationView) -> None:
    """Pin, rename and delete the open conversation (a menu by its title)."""
    with st.popover(
        "", icon=":material/more_vert:", help="Pin, rename or delete", key=f"actions-{view.id}"
    ):
        if st.button(
            "Unpin" if view.pinned else "Pin to the top",
            key=f"pin-{view.id}",
            icon=":material/push_pin:",
            type="tertiary",
        ):
            try:
                services.conversations.set_pinned(
                    user_id=account.id, conversation_id=view.id, pinned=not view.pinned
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.rerun()
        if st.button("Rename", key=f"rename-{view.id}", icon=":material/edit:", type="tertiary"):
            request_dialog("rename", id=str(view.id), title=view.title)
            st.rerun()
        if st.button("Delete", key=f"delete-{view.id}", icon=":material/delete:", type="tertiary"):
            request_dialog("delete", id=str(view.id), title=view.title)
            st.rerun()
