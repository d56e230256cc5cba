"""The floor of a Streamlit chat page: what Streamlit alone costs a browser and the server.

A bench-only page, not the app: a login form, a New chat button, the chat input, the
conversation's messages as chat messages, and the answer streamed with st.write_stream
(redrawn at most 10 times a second and its text made inert, as the app's). Sending,
storing, the model and the answer's worker are the app's own services, so a turn does the
same server work as in the app; none of the app's page is drawn (no conversation list,
header, actions, Stop button, answer details or page script). `load_server.py --page floor`
serves it in place of the app and drives it with the same browsers, so the two runs can be
set side by side.

    streamlit run bench/floor_page.py   # with DATABASE_URL and OPENAI_* as for the app
"""

from __future__ import annotations

import streamlit as st

from chat.markup import inert_markdown, inert_stream, literal_markdown
from chat.services import Services, process_services
from chat.turn.start import start_turn
from pages.parts.messages import REDRAW_EVERY_S


def log_in(chat: Services) -> None:
    with st.form("login"):
        st.subheader("Log in")
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Log in"):
            account = chat.accounts.authenticate(username=username, password=password)
            if account is None:
                st.error("Wrong username or password.")
            else:
                st.session_state["user"] = account.id
                st.rerun()


def chat_page(chat: Services) -> None:
    user_id = st.session_state["user"]
    prompt = st.chat_input("Message")
    if st.sidebar.button("New chat"):
        st.session_state.pop("conversation", None)
    conversation_id = st.session_state.get("conversation")
    turn = None
    if prompt:
        turn = start_turn(chat, user_id=user_id, conversation_id=conversation_id, text=prompt)
        conversation_id = st.session_state["conversation"] = turn.conversation_id
    if conversation_id is None:
        st.title("New chat")
        return
    view = chat.conversations.open(
        user_id=user_id, conversation_id=conversation_id, limit=50, contexts=0
    )
    for message in view.messages:
        if turn is None or message.id != turn.reply_id:
            human = message.role == "human"
            with st.chat_message("user" if human else "assistant"):
                text = message.content
                st.markdown(literal_markdown(text) if human else inert_markdown(text)[0])
    if turn is not None:
        with st.chat_message("assistant"):
            pieces = chat.turns.follow(
                user_id=user_id, reply_id=turn.reply_id, every=REDRAW_EVERY_S
            )
            st.write_stream(inert_stream(pieces))
        # Until the worker has stored the answer and done its after-answer work: a question
        # sent sooner would be refused (the app's page holds it back with the message shown;
        # this page has no such wait).
        turn.wait(timeout=30)


if "user" in st.session_state:
    chat_page(process_services())
else:
    log_in(process_services())
