"""Drawing stored messages and streaming a new answer."""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.errors import StreamlitAPIException

from chat.conversations.service import StoredMessage
from chat.errors import ChatError
from chat.markup import IMAGES_AS_LINKS_NOTE, inert_markdown, inert_stream
from chat.memory.strategies import STRATEGIES
from chat.services import Services
from pages.parts.dialogs import close_dialog, open_dialog, request_dialog
from pages.parts.inspector import ContextOf, draw_inspector

RETRY_KEY = "_retry"
REGENERATE_KEY = "_regenerate"
EDIT_KEY = "_edit"
MEMORY_NOTICE_KEY = "_memory_notice"
# Stopped before any text arrived, or its process ended mid-answer (only finished text is
# stored): nothing of it is kept, and saying so beats an empty bubble.
LOST_ANSWER_NOTE = "This answer was interrupted before any of it was saved. Retry to ask again."
STATUS_NOTES = {
    "interrupted": "Answer interrupted before it finished: this is what was received.",
    "pending": "Answer in progress…",
}
STOPPED_NOTE = "Stopped. This is what was received before you stopped it."


def draw_markdown(text: str) -> None:
    """User or model text as Markdown that loads nothing: images become links, and a note
    says why (chat/markup.py)."""
    rendered, changed = inert_markdown(text)
    st.markdown(rendered)
    if changed:
        st.caption(IMAGES_AS_LINKS_NOTE)


def draw_message(
    message: StoredMessage,
    *,
    context_of: ContextOf,
    is_last: bool,
    found: bool = False,
    editable: bool = False,
) -> None:
    """One stored message. Markdown only: raw HTML in user or model text is never rendered.

    `is_last` offers the answer's actions (retry, regenerate), `editable` the question's
    (edit and resend); `found` marks the message a search result pointed at."""
    role = "user" if message.role == "human" else "assistant"
    with st.chat_message(role):
        if found:
            st.caption(":material/search: Search result")
        if message.content:
            draw_markdown(message.content)
        if role == "assistant":
            draw_status_note(message)
        if message.status == "error":
            st.error(message.meta.get("error") or "The model did not answer.")
        if role == "assistant" and message.meta.get("model"):
            st.caption(answer_caption(message))
        if role == "assistant":
            draw_inspector(message, context_of)
        # The actions' place is always taken, if only by nothing: a run that follows a new
        # answer for a while would otherwise keep showing the previous run's buttons.
        actions = st.empty()
        if is_last and role == "assistant":
            with actions.container():
                draw_answer_actions(message)
        elif editable and role == "user":
            with actions.container():
                draw_edit_action(message)


def draw_status_note(message: StoredMessage) -> None:
    if message.status == "interrupted" and not message.content:
        st.caption(LOST_ANSWER_NOTE)
    elif message.status == "interrupted" and message.meta.get("stopped"):
        st.caption(STOPPED_NOTE)
    elif message.status in STATUS_NOTES:
        st.caption(STATUS_NOTES[message.status])


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


def follow_answer(services: Services, user_id: uuid.UUID, reply_id: uuid.UUID) -> None:
    """Show an answer as it is generated, with a Stop button, until it ends. The worker
    generates it, not this script: leaving the page does not stop it. Called by the page
    itself, not a fragment, so that a click on Stop interrupts this run at once."""
    with st.chat_message("assistant"):
        st.button(
            "Stop",
            icon=":material/stop_circle:",
            key=f"stop-{reply_id}",
            type="tertiary",
            help="Stop this answer (from any tab showing it)",
            on_click=services.turns.stop,
            kwargs={"user_id": user_id, "reply_id": reply_id},
        )
        try:
            st.write_stream(inert_stream(services.turns.follow(user_id=user_id, reply_id=reply_id)))
        except ChatError as exc:
            st.error(exc.user_message)
    turn = services.turns.live_turn(user_id=user_id, reply_id=reply_id)
    if turn is None:
        return
    strategy = STRATEGIES.get(turn.strategy_name)
    if (strategy is not None and strategy.stateful) or turn.setup.first_exchange:
        with st.spinner("Updating the conversation's memory…"):
            turn.wait(timeout=30)
    if turn.outcome.memory_notice:
        st.session_state[MEMORY_NOTICE_KEY] = turn.outcome.memory_notice


def rerun_pane() -> None:
    """Rerun just the conversation pane; when it is drawn as part of a whole run of the
    page (where Streamlit refuses a fragment-scoped rerun), the page."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()
