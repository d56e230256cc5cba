"""Entry point: page config, settings, auth gate, and the st.navigation router.

Pages are registered explicitly (the folder is called `pages/`, so Streamlit's automatic
discovery is never relied on). Signed-out visitors only ever get the login page.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import streamlit as st

from chat.errors import ChatError, DatabaseUnavailable
from chat.settings import get_settings
from chat.validation import displayable
from pages.parts.account_links import draw_account_links
from pages.support import runtime
from pages.support.accessibility import draw_accessibility_aids
from pages.support.theme import apply_saved_theme
from pages.support.web_auth import cookie_settled, current_account, sign_in_from_cookie

HOME = "home"
UNSENT = "Your last message was not sent: the database could not be reached. Send it again."

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Chat", page_icon="💬", layout="wide")


def refuse(exc: ChatError) -> NoReturn:
    """A sentence instead of the app. With the database away, a button offers the next
    attempt: nothing reruns by itself, so an outage never turns into a reconnect loop. A
    message just submitted in the chat box is shown at once, to copy: it is kept in this tab
    (and offered again once the page works), not across a reload, and the page says so."""
    st.error(exc.user_message)
    if isinstance(exc, DatabaseUnavailable):
        unsent = st.session_state.get(runtime.CHAT_INPUT_KEY)
        if isinstance(unsent, str) and unsent.strip():
            st.session_state[runtime.DRAFT_KEY] = {"error": UNSENT, "text": unsent}
        draft = st.session_state.get(runtime.DRAFT_KEY)
        if draft:
            with st.expander("Your message was not sent. Copy it from here", expanded=True):
                st.code(displayable(draft["text"]), language=None)
            st.caption(
                "It is kept in this tab until it can be sent; reloading the page or a restart "
                "of the app loses it, so copy it if you need it."
            )
        st.caption("Your conversations are safe. The page works again once it can reach them.")
        st.button("Try again", icon=":material/refresh:", key="try-again")
    st.stop()


try:
    settings = get_settings()
    services = runtime.services()  # a failure is not cached: the next run tries again
except ChatError as exc:
    logging.getLogger("chat").exception("start-up failed")
    refuse(exc)

st.session_state.pop(runtime.AUTHENTICATOR_KEY, None)  # pages build this run's own
try:
    sign_in_from_cookie(services)  # a valid remember-me cookie
    account = current_account(services)
except ChatError as exc:
    refuse(exc)

# The login and chat pages share one url_path, hence one script hash: components take the
# active page's hash into their identity, and the authenticator's cookie component must keep
# its identity when signing in switches pages (a re-mount reports back, and the rerun that
# report triggers can swallow the user's next click).
if account is not None:
    st.session_state[runtime.ACCOUNT_KEY] = account
else:
    st.session_state.pop(runtime.ACCOUNT_KEY, None)
if account is None or not cookie_settled():
    pages = [
        st.Page(
            "pages/login.py",
            title="Log in",
            icon=":material/login:",
            url_path=HOME,
            default=True,
        )
    ]
else:
    pages = [
        st.Page("pages/chat.py", title="Chat", icon=":material/chat:", url_path=HOME, default=True),
        st.Page("pages/lab.py", title="Memory lab", icon=":material/science:", url_path="lab"),
        st.Page("pages/memory.py", title="Memory", icon=":material/psychology:", url_path="memory"),
        st.Page(
            "pages/sessions.py",
            title="Your sessions",
            icon=":material/devices:",
            url_path="sessions",
        ),
        st.Page("pages/account.py", title="Account", icon=":material/person:", url_path="account"),
    ]
    if account.role == "admin":  # not even listed for others: /admin is unknown to them
        pages.append(
            st.Page(
                "pages/admin.py",
                title="Administration",
                icon=":material/admin_panel_settings:",
                url_path="admin",
            )
        )

page = st.navigation(pages, position="hidden")
if account is not None and cookie_settled():
    draw_account_links(pages)  # after st.navigation: links resolve against this run's pages
try:
    if account is not None and cookie_settled():
        # This run's preferences, for the page; the user's theme applied in this browser.
        st.session_state[runtime.PREFERENCES_KEY] = apply_saved_theme(services, account)
        draw_accessibility_aids()  # focus, names without icon text: once per document
    page.run()
except ChatError as exc:  # one a page did not expect (e.g. the database went away mid-run)
    logging.getLogger("chat").exception("page failed")
    refuse(exc)
