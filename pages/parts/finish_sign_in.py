"""The last step of signing in: the remember-me cookie, set by the server before the chat
opens.

The page posts this browser's one-time code to the app's cookie route
(pages/support/web_auth.py, draw_cookie_exchange), whose answer sets the HttpOnly cookie
and reloads the app, signed in from it. A browser that refuses cookies can go on without.
"""

from __future__ import annotations

import streamlit as st

from chat.auth.accounts import Account
from chat.markup import plain
from pages.support.web_auth import SKIPPED_KEY, cookie_settled, draw_cookie_exchange


def finish_sign_in(account: Account) -> None:
    st.info(f"Signing you in, {plain(account.display_name)}…", icon=":material/hourglass_top:")
    if cookie_settled():
        st.rerun()
    draw_cookie_exchange()
    if st.button("Continue without remembering this browser", type="tertiary", key="no-cookie"):
        st.session_state[SKIPPED_KEY] = True
        st.rerun()
