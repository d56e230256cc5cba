"""Chat page: sidebar of conversations, the selected conversation, a streamed answer.

The selected conversation lives in the URL (?c=<id>) so reload and deep links open it.
This file only draws: every read and write is one call into chat/.
"""

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st

from chat import runtime
from chat.conversations import ConversationView
from chat.economics import token_economics
from chat.errors import ChatError, NotFound
from chat.history import parse_id
from chat.validation import displayable
from pages.parts.economics import draw_economics
from pages.parts.memory_panel import draw_memory_panel
from pages.parts.messages import (
    MEMORY_NOTICE_KEY,
    RETRY_KEY,
    draw_message,
    stream_answer,
    update_memory,
)
from pages.parts.sidebar import draw_sidebar, open_conversation

services = runtime.services()
account = runtime.account()
DRAFT_KEY = "_refused_draft"
sidebar = partial(
    draw_sidebar, services, account, extra=partial(draw_memory_panel, services, account)
)


def selected_conversation() -> uuid.UUID | None:
    raw = st.query_params.get("c")
    if not raw:
        return None
    try:
        return parse_id(raw, what="conversation")
    except NotFound:
        return uuid.UUID(int=0)  # malformed: shown as "not found" like any foreign id


current = selected_conversation()
view: ConversationView | None = None
if current is not None:
    try:
        view = services.conversations.open(user_id=account.id, conversation_id=current)
    except NotFound:
        sidebar(None, None)
        st.error("Conversation not found.")
        st.caption("It may have been deleted, or the link is not one of your conversations.")
        st.stop()
    except ChatError as exc:
        sidebar(None, None)
        st.error(exc.user_message)
        st.stop()

sidebar(current, view)

if view is None:
    st.title("New chat")
    st.caption("Ask anything. Your conversation is saved as soon as you send a message.")
else:
    st.title(view.title)
    try:
        draw_economics(
            token_economics(
                sessions=services.sessions,
                prices=services.settings.model_prices,
                user_id=account.id,
                conversation_id=view.id,
            )
        )
    except ChatError as exc:
        st.error(exc.user_message)
    if view.earlier:
        st.caption(f"{view.earlier} earlier messages are not shown.")
    for index, message in enumerate(view.messages):
        draw_message(message, is_last=index == len(view.messages) - 1)

memory_notice = st.session_state.pop(MEMORY_NOTICE_KEY, None)
if memory_notice:
    st.warning(memory_notice, icon=":material/warning:")

refused = st.session_state.pop(DRAFT_KEY, None)
if refused:
    st.error(refused["error"])
    with st.expander("Your text was not sent. Copy it from here", expanded=False):
        st.code(displayable(refused["text"]), language=None)

retry_id = st.session_state.pop(RETRY_KEY, None)
prompt = st.chat_input("Message", key="chat-input", submit_mode="stop")
if retry_id and view is not None:
    try:
        turn = services.chat.retry(
            user_id=account.id, conversation_id=view.id, reply_id=uuid.UUID(retry_id)
        )
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        stream_answer(turn)
        update_memory(services, turn, account.id)
        st.rerun()
elif prompt:
    try:
        turn = services.chat.send(
            user_id=account.id, conversation_id=view.id if view else None, text=prompt
        )
    except ChatError as exc:
        st.session_state[DRAFT_KEY] = {"error": exc.user_message, "text": prompt}
        st.rerun()
    else:
        open_conversation(turn.conversation_id)  # in the URL before streaming: reload-safe
        with st.chat_message("user"):
            st.markdown(prompt)
        stream_answer(turn)
        update_memory(services, turn, account.id)
        st.rerun()
