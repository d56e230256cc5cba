"""Drawing stored messages and streaming a new answer."""

from __future__ import annotations

import contextlib
import html
import uuid

import streamlit as st

from chat.conversations.service import StoredMessage
from chat.errors import ChatError
from chat.markup import (
    IMAGES_AS_LINKS_NOTE,
    inert_markdown,
    inert_stream,
    literal_markdown,
    message_html,
)
from chat.memory.strategies import STRATEGIES
from chat.services import Services
from pages.parts.dialogs import close_dialog, open_dialog, request_dialog
from pages.parts.inspector import ContextOf, draw_inspector

RETRY_KEY = "_retry"
REGENERATE_KEY = "_regenerate"
EDIT_KEY = "_edit"
# Stopped before any text arrived, or its process ended mid-answer (only finished text is
# stored): nothing of it is kept, and saying so beats an empty bubble.
LOST_ANSWER_NOTE = "This answer was interrupted before any of it was saved. Retry to ask again."
STATUS_NOTES = {
    "interrupted": "Answer interrupted before it finished: this is what was received.",
    "pending": "Answer in progress…",
}
# An answer arriving is redrawn at most 10 times a second: smooth to read, and each redraw
# is a message to the browser.
REDRAW_EVERY_S = 0.1
STOPPED_NOTE = "Stopped. This is what was received before you stopped it."


# Earlier messages (beyond the most recent ones) are one block of HTML: a page that shows
# hundreds of them costs about what one with a few dozen does. Colours are translucent so
# that they suit the light and the dark theme.
EARLIER_STYLE = """<style>
.earlier-messages { display: flex; flex-direction: column; gap: 0.75rem; }
.earlier-message { padding: 0.5rem 1rem; border-radius: 0.5rem; overflow-wrap: anywhere; }
.earlier-message.user { background: rgba(128, 128, 128, 0.08); }
.earlier-message.found { outline: 2px solid rgba(47, 111, 237, 0.8); }
.earlier-message .who { font-size: 0.8rem; opacity: 0.7; margin-bottom: 0.25rem; }
.earlier-message .literal { white-space: pre-wrap; }
.earlier-message pre { white-space: pre-wrap; padding: 0.5rem; border-radius: 0.25rem;
  background: rgba(128, 128, 128, 0.12); }
.earlier-message p:last-child { margin-bottom: 0; }
</style>"""
EARLIER_NOTE = (
    "Earlier messages are shown as text: the context inspector and the actions are under "
    "the most recent ones."
)


def draw_earlier(messages: list[StoredMessage], found: uuid.UUID | None) -> None:
    """Messages shown with "Show earlier", as one element."""
    parts = []
    for message in messages:
        human = message.role == "human"
        classes = ["earlier-message", "user" if human else "assistant"]
        if message.id == found:
            classes.append("found")
        text = message_html(message.content, literal=human)
        status = "" if message.status == "complete" else f" · {html.escape(message.status)}"
        parts.append(
            f'<div class="{" ".join(classes)}" id="message-{message.id}">'
            f'<div class="who">{"You" if human else "Assistant"}{status}</div>'
            f'<div class="{"literal" if human else "markdown"}">{text}</div></div>'
        )
    st.html(EARLIER_STYLE)  # reviewed: app-made, no user text
    body = f'<div class="earlier-messages">{"".join(parts)}</div>'
    st.html(body)  # reviewed: text through message_html
    st.caption(EARLIER_NOTE)


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
    details: bool = True,
    actions_place: bool = True,
) -> None:
    """One stored message. Markdown only: raw HTML in user or model text is never rendered.

    `is_last` offers the answer's actions (retry, regenerate), `editable` the question's
    (edit and resend); `found` marks the message a search result pointed at; `details`
    adds the answer's model, tokens and timing and its context inspector. `actions_place`:
    the place of the actions is taken even without any (see below); a message far from the
    end never had them, and skips it."""
    role = "user" if message.role == "human" else "assistant"
    # A search result is marked (and scrolled to: pages/parts/chat_script.py).
    place = st.container(key="found-message") if found else contextlib.nullcontext()
    with place, st.chat_message(role):
        if found:
            st.caption(":material/search: Search result")
        if message.content and role == "user":
            st.markdown(literal_markdown(message.content))  # as typed
        elif message.content:
            draw_markdown(message.content)
        if role == "assistant":
            draw_status_note(message)
        if message.status == "error":
            st.error(message.meta.get("error") or "The model did not answer.")
        if details and role == "assistant" and message.meta.get("model"):
            st.caption(answer_caption(message))
        if details and role == "assistant":
            draw_inspector(message, context_of)
        # The actions' place is always taken, if only by nothing: a run that follows a new
        # answer for a while would otherwise keep showing the previous run's buttons.
        if not (is_last or editable or actions_place):
            return
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


def follow_turn(
    services: Services,
    user_id: uuid.UUID,
    question: StoredMessage,
    reply: StoredMessage,
    *,
    context_of: ContextOf,
    details: bool,
) -> None:
    """Show a question and its answer as the answer is generated, with a Stop button, then
    the answer as stored with its actions: the run that started the answer ends drawing it,
    without a second run of the page. The worker generates it, not this script: leaving the
    page does not stop it. Called by the page itself, not a fragment, so that a click on
    Stop interrupts this run at once."""
    question_slot, answer_slot = st.empty(), st.empty()
    with question_slot.container():
        draw_message(question, context_of=context_of, is_last=False)
    with answer_slot.container(), st.chat_message("assistant"):
        st.button(
            "Stop",
            icon=":material/stop_circle:",
            key=f"stop-{reply.id}",
            type="tertiary",
            help="Stop this answer (from any tab showing it)",
            on_click=services.turns.stop,
            kwargs={"user_id": user_id, "reply_id": reply.id},
        )
        with contextlib.suppress(ChatError):  # the stored answer, drawn below, says what failed
            pieces = services.turns.follow(user_id=user_id, reply_id=reply.id, every=REDRAW_EVERY_S)
            st.write_stream(inert_stream(pieces))
    turn = services.turns.live_turn(user_id=user_id, reply_id=reply.id)
    if turn is not None:
        strategy = STRATEGIES.get(turn.strategy_name)
        if (strategy is not None and strategy.stateful) or turn.setup.first_exchange:
            with st.spinner("Updating the conversation's memory…"):
                turn.wait(timeout=30)
        if turn.outcome.memory_notice:
            st.warning(turn.outcome.memory_notice, icon=":material/warning:")
    try:
        stored = services.conversations.message(
            user_id=user_id, message_id=reply.id, with_context=details
        )
    except ChatError as exc:
        st.error(exc.user_message)
        return
    with question_slot.container():
        draw_message(question, context_of=context_of, is_last=False, editable=True)
    with answer_slot.container():
        draw_message(stored, context_of=context_of, is_last=True, details=details)
