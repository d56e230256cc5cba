"""Login page: the library's login form, registration under the current policy (a new
account is signed in at once), and redeeming an admin-issued password-reset code (the only
signed-out way to a new password).
"""

from __future__ import annotations

import streamlit as st
from streamlit_authenticator.utilities import LoginError

from chat.errors import ChatError
from chat.markup import plain
from pages.parts.authenticator import draw_authenticator
from pages.parts.finish_sign_in import finish_sign_in
from pages.support import runtime
from pages.support.accessibility import draw_login_focus
from pages.support.web_auth import client_key, sign_in_new_account

services = runtime.services()
settings = services.settings
policy = services.registration.policy()
# Reset codes are typed, never taken from a link: a URL lands in proxy logs and history.
st.query_params.pop("reset", None)

st.title("Chat")
if st.session_state.get(runtime.ACCOUNT_KEY) and st.session_state.get("authentication_status"):
    finish_sign_in(runtime.account())  # signed in; the remember-me cookie is on its way
    st.stop()
st.caption("Sign in to see your conversations.")
draw_authenticator()
draw_login_focus()


def draw_login() -> None:
    try:
        runtime.authenticator().login(
            location="main",
            fields={
                "Form name": "Log in",
                "Username": "Username",
                "Password": "Password",
                "Login": "Log in",
            },
            key="login-form",
        )
    except (LoginError, ChatError) as exc:
        st.error(getattr(exc, "user_message", str(exc)))
    if st.session_state.get("authentication_status") is False:
        st.error("Wrong username or password.")
    elif st.session_state.get("authentication_status"):
        st.rerun()


def draw_register() -> None:
    with st.form("register-form", clear_on_submit=False):
        st.subheader("Create an account")
        username = st.text_input("Username", max_chars=32)
        display_name = st.text_input("Display name", max_chars=200)
        email = st.text_input("E-mail", max_chars=320)
        password = st.text_input(
            "Password",
            type="password",
            max_chars=1024,
            help=f"At least {settings.password_min_chars} characters; common passwords are "
            "refused. A few unrelated words make a good one.",
        )
        repeat = st.text_input("Repeat password", type="password", max_chars=1024)
        invite = st.text_input("Invite code", max_chars=64) if policy == "invite" else ""
        if st.form_submit_button("Register"):
            if password != repeat:
                st.error("The two passwords differ.")
                return
            try:
                account = services.registration.register(
                    username=username,
                    email=email,
                    password=password,
                    display_name=display_name,
                    invite_code=invite,
                    client=client_key(settings),
                )
            except ChatError as exc:
                st.error(exc.user_message)
                return
            welcome = f"Welcome, {plain(account.display_name)}!"
            try:
                signed_in = sign_in_new_account(
                    services, username=account.username, password=password
                )
            except ChatError as exc:  # e.g. this client is throttled for sign-ins
                st.success(f"{welcome} Your account is ready.")
                st.warning(exc.user_message)
                return
            if signed_in:
                st.rerun()  # on to the chat, once the remember-me cookie is set
            st.success(f"{welcome} Log in with your new account.")


def draw_reset() -> None:
    with st.form("reset-form", clear_on_submit=False):
        st.subheader("Set a new password")
        st.caption("With the one-time reset code an administrator gave you.")
        code = st.text_input("Reset code", max_chars=64)
        password = st.text_input("New password", type="password", max_chars=1024)
        repeat = st.text_input("Repeat new password", type="password", max_chars=1024)
        if st.form_submit_button("Set new password"):
            if password != repeat:
                st.error("The two passwords differ.")
                return
            try:
                account = services.accounts.redeem_reset(
                    code=code, password=password, client=client_key(settings)
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.success(f"Password changed for {account.username}. Log in with it now.")


names = ["Log in"] + (["Register"] if policy != "closed" else []) + ["Forgot password"]
tabs = dict(zip(names, st.tabs(names), strict=True))
with tabs["Log in"]:
    draw_login()
if "Register" in tabs:
    with tabs["Register"]:
        draw_register()
with tabs["Forgot password"]:
    st.caption(
        "Ask an administrator for a one-time reset code, then enter it here. "
        "(There is no e-mail reset: nobody can change your password by knowing your name.)"
    )
    draw_reset()
