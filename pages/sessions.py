"""The user's own sessions: recent sign-ins, and signing out every other browser.

Sessions are signed cookies, not server rows, so "end one session" is not possible; ending
all others is (a new cutoff, then this browser gets a fresh cookie)."""

from __future__ import annotations

import streamlit as st

from chat.auth import audit
from chat.errors import ChatError
from pages.support import runtime
from pages.support.web_auth import end_other_sessions

services = runtime.services()
account = runtime.account()

st.title("Your sessions")
st.caption(
    f"Sessions end after {services.settings.session_idle_minutes / 60:g} hours without "
    f"activity, and {services.settings.session_max_hours / 24:g} days after signing in."
)

if st.button("Sign out all other browsers", icon=":material/logout:", key="end-others"):
    try:
        end_other_sessions(services.accounts, account)
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        st.success("Every other browser is signed out. This one stays signed in.")

st.subheader("Recent sign-ins and security events")
try:
    events = services.accounts.login_history(user_id=account.id, limit=30)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()
labels = {
    audit.LOGIN_SUCCESS: "signed in",
    audit.LOGIN_FAILURE: "failed sign-in",
    audit.LOGOUT: "signed out",
    audit.SESSIONS_ENDED: "signed out other browsers",
    audit.SESSION_EXPIRED: "sessions expired (idle)",
    audit.PASSWORD_CHANGED: "password changed",
    audit.RESET_REDEEMED: "password reset",
}
st.dataframe(
    [{"time": e.at, "event": labels.get(e.kind, e.kind), "from": e.client} for e in events],
    hide_index=True,
    width="stretch",
)
