"""The user's own sessions: every browser signed in (device, address, when), any one of
which can be ended, and recent sign-ins and security events."""

from __future__ import annotations

import streamlit as st

from chat.auth import audit
from chat.errors import ChatError
from chat.markup import plain
from pages.support import runtime
from pages.support.clock import local_time
from pages.support.web_auth import current_session, sign_out

services = runtime.services()
account = runtime.account()
this_session = current_session()

st.title("Your sessions")
st.caption(
    f"Sessions end after {services.settings.session_idle_minutes / 60:g} hours without "
    f"activity, and {services.settings.session_max_hours / 24:g} days after signing in."
)


def end_session(session_id: object) -> None:
    if session_id == this_session:
        sign_out(services, account)
    else:
        services.browser_sessions.end(user_id=account.id, session_id=session_id)  # type: ignore[arg-type]


try:
    live = services.browser_sessions.list(user_id=account.id)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()
st.subheader("Signed-in browsers")
for row in live:
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        here = " (this browser)" if row.id == this_session else ""
        left.markdown(f"**{plain(row.device[:120] or 'Unknown browser')}**{here}")
        left.caption(
            f"From {plain(row.address or 'unknown')} · signed in {local_time(row.created_at)} "
            f"· last seen {local_time(row.last_seen_at)}"
        )
        right.button(
            "Sign out" if row.id == this_session else "End",
            key=f"end-session-{row.id}",
            on_click=end_session,
            args=(row.id,),
        )
if (
    len(live) > 1
    and this_session is not None
    and st.button("Sign out all other browsers", icon=":material/logout:", key="end-others")
):
    try:
        services.browser_sessions.end_others(user_id=account.id, keep=this_session)
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        st.toast("Every other browser is signed out. This one stays signed in.")
        st.rerun()

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
    [
        {"time": local_time(e.at), "event": labels.get(e.kind, e.kind), "from": e.client}
        for e in events
    ],
    hide_index=True,
    width="stretch",
)
