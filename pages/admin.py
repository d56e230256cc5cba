"""Admin page (registered only for admins): users with usage, account actions, one-time
reset codes, the registration policy and recent security events. Every action is one call
into chat.auth.admin, which re-checks that the signed-in account is still an admin."""

from __future__ import annotations

import streamlit as st

from chat.auth.registration import POLICIES
from chat.errors import ChatError
from pages.support import runtime
from pages.support.clock import in_viewer_zone, zone_name

services = runtime.services()
account = runtime.account()
admin = services.admin
NOTICE_KEY = "_admin_notice"

st.title("Administration")
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice)


def act(action: object, message: str) -> None:
    """Run one admin action from a button; its outcome is shown after the rerun."""
    try:
        action()  # type: ignore[operator]
    except ChatError as exc:
        st.error(exc.user_message)
    else:
        st.session_state[NOTICE_KEY] = message
        st.rerun()


try:
    rows = admin.users(actor=account)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()

# Tables fit the page: compact times (in the viewer's zone, named), numbers with thousands
# separators, narrow labels.
COUNT = st.column_config.NumberColumn(format="%,d")
SHORT = st.column_config.TextColumn(width="small")

st.subheader("Users")
st.dataframe(
    [
        {
            "username": row.account.username,
            "name": row.account.display_name,
            "role": row.account.role,
            "status": "disabled" if row.account.disabled else "active",
            "created": in_viewer_zone(row.account.created_at),
            "last login": row.account.last_login_at and in_viewer_zone(row.account.last_login_at),
            "conversations": row.conversations,
            "messages": row.messages,
            "tokens": row.tokens,
        }
        for row in rows
    ],
    hide_index=True,
    width="stretch",
    column_config={
        "role": SHORT,
        "status": SHORT,
        "created": st.column_config.DatetimeColumn(f"created ({zone_name()})", format="YYYY-MM-DD"),
        "last login": st.column_config.DatetimeColumn(
            f"last login ({zone_name()})", format="YYYY-MM-DD HH:mm"
        ),
        "conversations": COUNT,
        "messages": COUNT,
        "tokens": COUNT,
    },
)

by_name = {row.account.username: row.account for row in rows}
left, right = st.columns(2)
with left, st.container(border=True):
    st.markdown("**Manage a user**")
    chosen = st.selectbox("User", sorted(by_name), key="admin-user")
    target = by_name[chosen] if chosen else None
    if target is not None:
        st.caption(f"{target.role}, {'disabled' if target.disabled else 'active'}")
        # One row of buttons as wide as their labels, wrapping when the column is narrow.
        buttons = st.container(horizontal=True)
        toggle = buttons.button("Enable" if target.disabled else "Disable", key="admin-toggle")
        new_role = "user" if target.role == "admin" else "admin"
        promote = buttons.button(
            "Demote" if target.role == "admin" else "Make admin", key="admin-role"
        )
        reset = buttons.button("Reset code", key="admin-reset")
        unlock = buttons.button("Unlock sign-in", key="admin-unlock", help="Forget failed sign-ins")
        end_sessions = buttons.button(
            "End sessions", key="admin-end-sessions", help="Sign out everywhere"
        )
        if toggle:
            act(
                lambda: admin.set_disabled(
                    actor=account, user_id=target.id, disabled=not target.disabled
                ),
                f"{target.username} is now {'active' if target.disabled else 'disabled'}.",
            )
        if promote:
            act(
                lambda: admin.set_role(actor=account, user_id=target.id, role=new_role),
                f"{target.username} is now {new_role}.",
            )
        if unlock:
            act(
                lambda: admin.unlock(actor=account, user_id=target.id),
                f"{target.username} can sign in again from anywhere.",
            )
        if end_sessions:
            act(
                lambda: admin.end_sessions(actor=account, user_id=target.id),
                f"{target.username} is signed out everywhere.",
            )
        if reset:
            try:
                issued = admin.issue_reset(actor=account, user_id=target.id)
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.info(
                    f"One-time reset code for **{issued.username}** (valid for "
                    f"{issued.valid_for}, shown only now):"
                )
                st.code(issued.code, language=None)
                st.caption(
                    "Give it to them by a channel you trust; they enter it under "
                    '"Forgot password" on the login page (never in a link: links end up in '
                    "proxy logs and browser history)."
                )

with right, st.container(border=True):
    st.markdown("**Registration**")
    current = services.registration.policy()
    policy = st.radio(
        "Who may create an account",
        POLICIES,
        index=POLICIES.index(current),
        format_func={"open": "Anyone", "invite": "With an invite code", "closed": "Nobody"}.get,
        horizontal=True,
        key="admin-policy",
    )
    if policy != current:
        act(
            lambda: admin.set_registration(actor=account, policy=policy),
            f"Registration is now {policy}.",
        )
    if st.button("New invite code", key="admin-invite"):
        try:
            code = admin.new_invite_code(actor=account)
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            st.info("New invite code (the previous one stops working; shown only now):")
            st.code(code, language=None)

with st.expander("Create a user"), st.form("admin-create", clear_on_submit=True):
    username = st.text_input("Username", max_chars=32)
    email = st.text_input("E-mail", max_chars=320)
    password = st.text_input("Initial password", type="password", max_chars=1024)
    role = st.selectbox("Role", ["user", "admin"])
    if st.form_submit_button("Create user"):
        act(
            lambda: admin.create_user(
                actor=account, username=username, email=email, password=password, role=role
            ),
            f"Created {role} {username.strip().lower()}.",
        )

st.subheader("Recent security events")
try:
    events = admin.events(actor=account, limit=200)
except ChatError as exc:
    st.error(exc.user_message)
else:
    st.dataframe(
        [
            {
                "time": in_viewer_zone(e.at),
                "event": e.kind,
                "user": e.username,
                "client": e.client,
                "detail": ", ".join(f"{k}={v}" for k, v in e.detail.items()),
            }
            for e in events
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "time": st.column_config.DatetimeColumn(
                f"time ({zone_name()})", format="YYYY-MM-DD HH:mm:ss"
            ),
            "detail": st.column_config.TextColumn(width="large"),
        },
    )
