"""Entry point: page config, settings, auth gate, and the st.navigation router.

Pages are registered explicitly (the folder is called `pages/`, so Streamlit's automatic
discovery is never relied on). Signed-out visitors only ever get the login page.
"""

from __future__ import annotations

import logging

import streamlit as st

from chat import runtime
from chat.errors import ChatError
from chat.settings import get_settings
from chat.web_auth import build_authenticator, current_account, ensure_cookie

HOME = "home"

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Chat", page_icon=":material/chat:", layout="wide")

try:
    settings = get_settings()
    services = runtime.services()
except ChatError as exc:
    logging.getLogger("chat").exception("start-up failed")
    st.error(exc.user_message)
    st.caption(exc.detail)
    st.stop()

authenticator = build_authenticator(services.accounts, settings)
st.session_state[runtime.AUTHENTICATOR_KEY] = authenticator
try:
    authenticator.login(location="unrendered")  # signs in from a valid remember-me cookie
    account = current_account(services.accounts)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()

if account is None:
    pages = [
        st.Page(
            "pages/login.py",
            title="Log in",
            icon=":material/login:",
            url_path="login",
            default=True,
        )
    ]
else:
    st.session_state[runtime.ACCOUNT_KEY] = account
    ensure_cookie(authenticator, settings, account.username)
    pages = [
        st.Page(
            "pages/chat.py", title="Chat", icon=":material/chat:", url_path="chat", default=True
        ),
        st.Page("pages/account.py", title="Account", icon=":material/person:", url_path="account"),
    ]

st.navigation(pages, position="hidden").run()
