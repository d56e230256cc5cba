"""The last step of signing in: the remember-me cookie, written before the chat opens.

The cookie write and the browser's report of it each rerun the page; on the chat page such a
rerun could cut a first answer short, so the login page keeps a short "Signing you in" until
the browser reports the cookie. A browser that refuses cookies can go on without it.
"""

from __future__ import annotations

import streamlit as st

from chat.auth.accounts import Account
from chat.markup import plain
from pages.support import runtime
from pages.support.web_auth import SKIPPED_KEY, cookie_settled, ensure_cookie


def finish_sign_in(account: Account) -> None:
    st.info(f"Signing you in, {plain(account.display_name)}…", icon=":material/hourglass_top:")
    ensure_cookie(runtime.authenticator(), runtime.services().settings, account)
    if cookie_settled():
        st.rerun()
    if st.button("Continue without remembering this browser", type="tertiary", key="no-cookie"):
        st.session_state[SKIPPED_KEY] = True
        st.rerun()
