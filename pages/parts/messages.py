"""Drawing stored messages and streaming a new answer."""

from __future__ import annotations

import streamlit as st

from chat.conversations import StoredMessage
from chat.errors import ChatError
from chat.turns import Turn

RETRY_KEY = "_retry"
STATUS_NOTES = {
    "interrupted": "Answer stopped before it finished: this is what was received.",
    "pending": "Answer in progress…",
}


def draw_message(message: StoredMessage, *, is_last: bool) -> None:
    """One stored message. Markdown only: raw HTML in user or model text is never rendered."""
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
                st.session_state[RETRY_KEY] = str(message.id)
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


def stream_answer(turn: Turn) -> None:
    """Stream the answer into the page; a failure becomes a plain sentence."""
    with st.chat_message("assistant"):
        try:
            st.write_stream(turn.stream())
        except ChatError as exc:
            st.error(exc.user_message)
