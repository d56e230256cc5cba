"""Per-process resources for the Streamlit pages, built once and cached.

Pages call these getters; nothing here runs at import time.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from chat.accounts import Account
from chat.services import Services, build_services
from chat.settings import get_settings

AUTHENTICATOR_KEY = "_authenticator"
ACCOUNT_KEY = "_account"


@st.cache_resource(show_spinner="Starting the database…")
def services() -> Services:
    return build_services(get_settings())


def authenticator() -> stauth.Authenticate:
    """The Authenticate built by the entry point for this run."""
    return st.session_state[AUTHENTICATOR_KEY]


def account() -> Account:
    """The signed-in account (the entry point only routes to private pages when there is one)."""
    value: Account = st.session_state[ACCOUNT_KEY]
    return value
