"""Per-process resources for the Streamlit pages, built once and cached.

Pages call these getters; nothing here runs at import time.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from chat.auth.accounts import Account
from chat.auth.preferences import Preferences
from chat.services import Services, process_services, release_process_services
from pages.support.web_auth import build_authenticator

AUTHENTICATOR_KEY = "_authenticator"
ACCOUNT_KEY = "_account"
PREFERENCES_KEY = "_preferences"
CHAT_INPUT_KEY = "chat-input"  # the chat page's message box
DRAFT_KEY = "_refused_draft"  # {"error", "text"}: a message that was not sent, offered back


@st.cache_resource(show_spinner="Starting the database…", on_release=release_process_services)
def services() -> Services:
    """The process's services, shared with the HTTP API (chat.services.process_services).
    Not cached when it raises (st.cache_resource keeps only results): with the database
    down, each page view makes one new attempt, and the page says so in a sentence."""
    return process_services()


def authenticator() -> stauth.Authenticate:
    """This run's Authenticate, built on first use inside the page being drawn (it draws the
    library's cookie component; see pages.support.web_auth.sign_in_from_cookie for why not earlier).
    The entry point forgets it at the start of every run."""
    built: stauth.Authenticate | None = st.session_state.get(AUTHENTICATOR_KEY)
    if built is None:
        built = build_authenticator(services())
        st.session_state[AUTHENTICATOR_KEY] = built
    return built


def account() -> Account:
    """The signed-in account (the entry point only routes to private pages when there is one)."""
    value: Account = st.session_state[ACCOUNT_KEY]
    return value


def preferences() -> Preferences:
    """The signed-in user's preferences, read by the entry point for this run."""
    value: Preferences = st.session_state[PREFERENCES_KEY]
    return value
