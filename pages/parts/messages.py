"""Drawing stored messages and streaming a new answer."""

from __future__ import annotations

import uuid

import streamlit as st

from chat.conversations.service import StoredMessage
from chat.errors import ChatError
from chat.memory.strategies import STRATEGIES
from chat.services import Services
from chat.turn.engine import Turn
from pages.parts.dialogs import close_dialog, open_dialog, request_dialog
from pages.parts.inspector import draw_inspector

RETRY_KEY = "_retry"
REGENERATE_KEY = "_regenerate"
EDIT_KEY = "_edit"
MEMORY_NOTICE_KEY = "_memory_notice"
# Stopped before any text arrived, or its process ended mid-answer (only finished text is
# stored): nothing of it is kept, and saying so beats an empty bubble.
LOST_ANSWER_NOTE = "This answer was interrupted before any of it was saved. Retry to ask again."
STATUS_NOTES = {
    "interrupted": "Answer stopped before it finished: this is what was received.",
    "pending": "Answer in progress…",
}


def draw_message(
    message: StoredMessage, *, is_last: bool, found: bool = False, editable: bool = False
) -> None:
    """One stored message. Markdown only: raw HTML in user or model text is never rendered.

    `is_last` offers the answer's actions (retry, regenerate), `editable` the question's
    (edit and resend); `found` marks the message a search result pointed at."""
    role = "user" if message.role == "human" else "assistant"
    with st.chat_message(role):
        if found:
            st.caption(":material/search: Search result")
        if message.content:
            st.markdown(message.content)
        if message.status == "interrupted" and not message.content:
            st.caption(LOST_ANSWER_NOTE)
        elif message.status in STATUS_NOTES:
            st.caption(STATUS_NOTES[message.status])
        if message.status == "error":
            st.error(message.meta.get("error") or "The model did not answer.")
        if role == "assistant" and message.meta.get("model"):
            st.caption(answer_caption(message))
        if role == "assistant":
            draw_inspector(message)
        if is_last and role == "assistant":
            draw_answer_actions(message)
        if editable and role == "user":
            draw_edit_action(message)


def draw_answer_actions(message: StoredMessage) -> None:
    if message.status in ("error", "interrupted"):
        if st.button("Retry", icon=":material/refresh:", key=f"retry-{message.id}"):
            st.session_state[RETRY_KEY] = str(message.id)
            st.rerun()
    elif message.status == "complete" and st.button(
        "Regenerate", icon=":material/autorenew:", key=f"regenerate-{message.id}"
    ):
        st.session_state[REGENERATE_KEY] = str(message.id)
        st.rerun()


def draw_edit_action(message: StoredMessage) -> None:
    """Under the last question: edit it and resend (the answer is replaced)."""
    if st.button("Edit", icon=":material/edit:", key=f"edit-{message.id}", type="tertiary"):
        request_dialog("edit", id=str(message.id), text=message.content)
        st.rerun()
    if request := open_dialog("edit"):
        if request["id"] == str(message.id):
            edit_dialog(request["id"], request["text"])


@st.dialog("Edit your message", on_dismiss=close_dialog)
def edit_dialog(message_id: str, content: str) -> None:
    st.caption("The answer below it is replaced by a new one.")
    text = st.text_area("Message", value=content, height=160, key="edit-text")
    if st.button("Save and resend", type="primary", key="edit-send", icon=":material/send:"):
        close_dialog()
        st.session_state[EDIT_KEY] = {"human_id": message_id, "text": text}
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
    chunks = turn.stream()
    with st.chat_message("assistant"):
        try:
            st.write_stream(chunks)
        except ChatError as exc:
            st.error(exc.user_message)
        finally:
            # The stop button ends the script run with an exception that leaves the stream
            # suspended (or never started): close the turn now, so it is settled as
            # interrupted at once, not whenever the GC gets to it (or never).
            turn.close()


def update_memory(services: Services, turn: Turn, user_id: uuid.UUID) -> None:
    """After the stream: let a summary strategy fold the new messages in, under a visible
    status. A failure is kept for the next run of the page (which follows at once)."""
    strategy = STRATEGIES.get(turn.strategy_name)
    if strategy is None or not strategy.stateful:
        try:  # no summary to show; user memory still learns from the answer
            services.turns.update_memory(user_id=user_id, conversation_id=turn.conversation_id)
        except ChatError as exc:
            st.session_state[MEMORY_NOTICE_KEY] = exc.user_message
        return
    with st.status("Updating the conversation summary…", expanded=False) as status:
        try:
            update = services.turns.update_memory(
                user_id=user_id, conversation_id=turn.conversation_id
            )
        except ChatError as exc:
            status.update(label=exc.user_message, state="error")
            st.session_state[MEMORY_NOTICE_KEY] = exc.user_message
            return
        if update.status == "failed":
            status.update(label="The summary could not be updated", state="error")
            st.session_state[MEMORY_NOTICE_KEY] = update.message
        else:
            status.update(label="Summary updated", state="complete")
