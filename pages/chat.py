"""Chat page: sidebar of conversations, the selected conversation, a streamed answer.

The selected conversation lives in the URL (?c=<id>) so reload and deep links open it.
This file only draws: every read and write is one call into chat/.
"""

from __future__ import annotations

import uuid

import streamlit as st

from chat import runtime
from chat.conversations import ConversationView, StoredMessage
from chat.errors import ChatError, NotFound
from chat.history import parse_id
from chat.llm import model_label
from chat.memory import STRATEGIES
from chat.turns import Turn
from chat.validation import displayable

services = runtime.services()
settings = services.settings
account = runtime.account()
DRAFT_KEY = "_refused_draft"
STATUS_NOTES = {
    "interrupted": "Answer stopped before it finished: this is what was received.",
    "pending": "Answer in progress…",
}


def selected_conversation() -> uuid.UUID | None:
    raw = st.query_params.get("c")
    if not raw:
        return None
    try:
        return parse_id(raw, what="conversation")
    except NotFound:
        return uuid.UUID(int=0)  # malformed: shown as "not found" like any foreign id


def open_conversation(conversation_id: uuid.UUID) -> None:
    st.query_params["c"] = str(conversation_id)


def draw_sidebar(current: uuid.UUID | None, view: ConversationView | None) -> None:
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
        if view is not None:
            draw_memory_settings(view)
        st.divider()
        st.caption(f"Model: {model_label(settings, view.model if view else 'offline')}")
        if settings.offline:
            st.info(
                "Running on the built-in offline model: no API key is configured.",
                icon=":material/cloud_off:",
            )
        runtime.authenticator().logout(
            "Log out", location="sidebar", key="logout-button", callback=_revoke_on_logout
        )


def _revoke_on_logout(_details: dict[str, object]) -> None:
    services.accounts.revoke_sessions(user_id=account.id)


def draw_memory_settings(view: ConversationView) -> None:
    st.divider()
    st.caption("Memory")
    names = list(STRATEGIES)
    strategy = st.selectbox(
        "Memory strategy",
        names,
        index=names.index(view.memory_strategy) if view.memory_strategy in names else 0,
        format_func=lambda name: STRATEGIES[name].label,
        key=f"strategy-{view.id}",
        help=STRATEGIES[view.memory_strategy].description
        if view.memory_strategy in STRATEGIES
        else None,
    )
    params = dict(view.memory_params) if strategy == view.memory_strategy else {}
    if strategy == "window":
        params["k"] = st.number_input(
            "Turns kept (k)",
            min_value=1,
            max_value=200,
            value=int(params.get("k", STRATEGIES["window"].defaults["k"])),
            key=f"window-k-{view.id}",
        )
    if strategy != view.memory_strategy or params != view.memory_params:
        services.conversations.set_memory(
            user_id=account.id, conversation_id=view.id, strategy=strategy, params=params
        )
        st.rerun()


def draw_message(message: StoredMessage, *, is_last: bool, view: ConversationView) -> None:
    role = "user" if message.role == "human" else "assistant"
    with st.chat_message(role):
        if message.content:
            st.markdown(message.content)
        if message.status in STATUS_NOTES:
            st.caption(STATUS_NOTES[message.status])
        if message.status == "error":
            st.error(message.meta.get("error") or "The model did not answer.")
        if role == "assistant" and message.meta.get("model"):
            st.caption(answer_caption(message))
        if is_last and role == "assistant" and message.status in ("error", "interrupted"):
            if st.button("Retry", icon=":material/refresh:", key=f"retry-{message.id}"):
                st.session_state["_retry"] = str(message.id)
                st.rerun()


def answer_caption(message: StoredMessage) -> str:
    meta = message.meta
    parts = [str(meta.get("model"))]
    usage = meta.get("usage") or {}
    if usage.get("input_tokens") is not None:
        parts.append(f"{usage.get('input_tokens')} in / {usage.get('output_tokens')} out tokens")
    if meta.get("first_token_s") is not None:
        parts.append(f"first token {meta['first_token_s']:.2f}s")
    if meta.get("total_s") is not None:
        parts.append(f"total {meta['total_s']:.2f}s")
    return " · ".join(parts)


def stream_turn(turn: Turn) -> None:
    with st.chat_message("assistant"):
        try:
            st.write_stream(turn.stream())
        except ChatError as exc:
            st.error(exc.user_message)


current = selected_conversation()
view: ConversationView | None = None
if current is not None:
    try:
        view = services.conversations.open(user_id=account.id, conversation_id=current)
    except NotFound:
        draw_sidebar(None, None)
        st.error("Conversation not found.")
        st.caption("It may have been deleted, or the link is not one of your conversations.")
        st.stop()
    except ChatError as exc:
        draw_sidebar(None, None)
        st.error(exc.user_message)
        st.stop()

draw_sidebar(current, view)

if view is None:
    st.title("New chat")
    st.caption("Ask anything. Your conversation is saved as soon as you send a message.")
else:
    st.title(view.title)
    if view.earlier:
        st.caption(f"{view.earlier} earlier messages are not shown.")
    for index, message in enumerate(view.messages):
        draw_message(message, is_last=index == len(view.messages) - 1, view=view)

refused = st.session_state.pop(DRAFT_KEY, None)
if refused:
    st.error(refused["error"])
    with st.expander("Your text was not sent. Copy it from here", expanded=False):
        st.code(displayable(refused["text"]), language=None)

retry_id = st.session_state.pop("_retry", None)
prompt = st.chat_input("Message", key="chat-input", submit_mode="stop")
if retry_id and view is not None:
    try:
        turn = services.chat.retry(
            user_id=account.id, conversation_id=view.id, reply_id=uuid.UUID(retry_id)
        )
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        stream_turn(turn)
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
        with st.chat_message("user"):
            st.markdown(prompt)
        stream_turn(turn)
        open_conversation(turn.conversation_id)
        st.rerun()
