"""Chat page: sidebar of conversations, the selected conversation, a streamed answer.

The selected conversation lives in the URL (?c=<id>, and ?m=<message id> for a search
result) so reload and deep links open it. This file only draws: every read and write is one
call into chat/.
"""

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st

from chat.conversations.service import ConversationView
from chat.errors import ChatError, NotFound
from chat.markup import plain
from chat.turn.engine import Turn
from chat.turn.history import parse_id
from chat.validation import displayable, unsendable_reason
from pages.parts.conversation_settings import draw_conversation_settings
from pages.parts.economics import draw_economics
from pages.parts.memory_panel import draw_memory_panel
from pages.parts.messages import (
    EDIT_KEY,
    MEMORY_NOTICE_KEY,
    REGENERATE_KEY,
    RETRY_KEY,
    draw_markdown,
    draw_message,
    stream_answer,
    update_memory,
)
from pages.parts.sidebar import draw_sidebar, open_conversation
from pages.support import runtime

services = runtime.services()
account = runtime.account()
DRAFT_KEY = runtime.DRAFT_KEY
SHOWN_PREFIX = "_shown-"
RECENT = 50  # messages shown at first; "Show earlier" adds as many again
sidebar = partial(
    draw_sidebar, services, account, extra=partial(draw_memory_panel, services, account)
)


def url_id(name: str, what: str) -> uuid.UUID | None:
    raw = st.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_id(raw, what=what)
    except NotFound:
        return uuid.UUID(int=0)  # malformed: shown as "not found" like any foreign id


def after_answer(turn: Turn) -> None:
    """The answer is on screen and stored; now name a new conversation, then reload."""
    if turn.needs_title:
        with st.spinner("Naming this conversation…"):
            try:
                services.turns.name_conversation(turn)
            except ChatError as exc:  # cosmetic: the first title stays
                st.toast(f"The conversation keeps its first title. {exc.user_message}")
    open_conversation(turn.conversation_id)
    st.rerun()


retry_id = st.session_state.pop(RETRY_KEY, None)
regenerate_id = st.session_state.pop(REGENERATE_KEY, None)
edit = st.session_state.pop(EDIT_KEY, None)
# What is about to be answered again is not drawn twice: the old answer (retry, regenerate)
# or the whole last exchange (edit) is replaced by the new stream below.
replaced = 2 if edit else 1 if (retry_id or regenerate_id) else 0

current = url_id("c", "conversation")
found = url_id("m", "message")
shown = int(st.session_state.get(f"{SHOWN_PREFIX}{current}", RECENT))
view: ConversationView | None = None
if current is not None:
    try:
        view = services.conversations.open(
            user_id=account.id, conversation_id=current, limit=shown, at_message=found
        )
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
    title_column, settings_column = st.columns([5, 2], vertical_alignment="bottom")
    title_column.title(plain(view.title))
    with settings_column:
        draw_conversation_settings(services, account, view)
    try:
        draw_economics(
            services.conversations.economics(user_id=account.id, conversation_id=view.id)
        )
    except ChatError as exc:
        st.error(exc.user_message)
    if not view.messages:
        st.caption("No messages yet. Type below to start.")
    if view.earlier and st.button(
        f"Show earlier messages ({view.earlier} not shown)",
        icon=":material/expand_less:",
        key="show-earlier",
    ):
        st.session_state[f"{SHOWN_PREFIX}{current}"] = len(view.messages) + RECENT
        st.rerun()
    last = len(view.messages) - 1
    last_answer_settled = bool(view.messages) and view.messages[-1].status != "pending"
    for index, message in enumerate(view.messages[: len(view.messages) - replaced]):
        draw_message(
            message,
            is_last=index == last,
            found=message.id == found,
            editable=index == last - 1 and message.role == "human" and last_answer_settled,
        )

memory_notice = st.session_state.pop(MEMORY_NOTICE_KEY, None)
if memory_notice:
    st.warning(memory_notice, icon=":material/warning:")

# An unsent message stays on offer (across reruns) until the user sends one or dismisses it.
refused = st.session_state.get(DRAFT_KEY)
if refused:
    st.error(refused["error"])
    with st.expander("Your text was not sent. Copy it from here", expanded=False):
        st.code(displayable(refused["text"]), language=None)
    if st.button("Dismiss", key="dismiss-draft", type="tertiary", icon=":material/close:"):
        st.session_state.pop(DRAFT_KEY, None)
        st.rerun()

prompt = st.chat_input("Message", key=runtime.CHAT_INPUT_KEY, submit_mode="stop")
if view is not None and (retry_id or regenerate_id or edit):
    try:
        if edit:
            turn = services.turns.edit_last(
                user_id=account.id,
                conversation_id=view.id,
                human_id=uuid.UUID(edit["human_id"]),
                text=edit["text"],
            )
        else:
            restart = services.turns.retry if retry_id else services.turns.regenerate
            turn = restart(
                user_id=account.id,
                conversation_id=view.id,
                reply_id=uuid.UUID(retry_id or regenerate_id),
            )
    except ChatError as exc:
        st.error(exc.user_message)
        if edit:  # nothing lost: the edited text is offered back
            with st.expander("Your edited text was not sent. Copy it from here"):
                st.code(displayable(edit["text"]), language=None)
    else:
        if edit:
            with st.chat_message("user"):
                draw_markdown(edit["text"])
        stream_answer(turn)
        update_memory(services, turn, account.id)
        after_answer(turn)
elif prompt and (reason := unsendable_reason(prompt)):  # offered back, not sent altered
    st.session_state[DRAFT_KEY] = {"error": reason, "text": prompt}
    st.rerun()
elif prompt:
    try:
        turn = services.turns.send(
            user_id=account.id, conversation_id=view.id if view else None, text=prompt
        )
    except ChatError as exc:
        st.session_state[DRAFT_KEY] = {"error": exc.user_message, "text": prompt}
        st.rerun()
    else:
        st.session_state.pop(DRAFT_KEY, None)  # a message went through: the old one is moot
        open_conversation(turn.conversation_id)  # in the URL before streaming: reload-safe
        with st.chat_message("user"):
            draw_markdown(prompt)
        stream_answer(turn)
        update_memory(services, turn, account.id)
        after_answer(turn)
