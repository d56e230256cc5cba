"""Login page: the library's login form, and registration when settings allow it."""

from __future__ import annotations

import streamlit as st
from streamlit_authenticator.utilities import LoginError

from chat import runtime
from chat.errors import ChatError
from pages.parts.cookie_ready import cookie_reader_ready

settings = runtime.services().settings
accounts = runtime.services().accounts

st.title("Chat")
st.caption("Sign in to see your conversations.")
if not cookie_reader_ready(runtime.authenticator()):
    st.stop()

if settings.registration == "open":
    login_tab, register_tab = st.tabs(["Log in", "Register"])
else:
    login_tab, register_tab = st.container(), st.container()

with login_tab:
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

if settings.registration == "open":
    with register_tab, st.form("register-form", clear_on_submit=False):
        st.subheader("Create an account")
        username = st.text_input("Username", max_chars=32)
        display_name = st.text_input("Display name", max_chars=200)
        email = st.text_input("E-mail", max_chars=320)
        password = st.text_input(
            "Password",
            type="password",
            max_chars=1024,
            help=f"At least {settings.password_min_chars} characters.",
        )
        repeat = st.text_input("Repeat password", type="password", max_chars=1024)
        if st.form_submit_button("Register"):
            if password != repeat:
                st.error("The two passwords differ.")
            else:
                try:
                    account = accounts.create(
                        username=username, email=email, password=password, display_name=display_name
                    )
                except ChatError as exc:
                    st.error(exc.user_message)
                else:
                    st.success(f"Welcome, {account.display_name}! Log in with your new account.")
