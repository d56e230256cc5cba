"""streamlit-authenticator, wired to PostgreSQL users and made reliable.

The library draws the login form and keeps the remember-me cookie; what it lacks is added
here:
- users live in Postgres: its credential store is replaced by a read-through mapping, and
  password checks go through AccountService (our hashing, dummy hash for unknown names);
- server-side revocation: a cookie issued before the user's `sessions_valid_after` (logout,
  password change) or for a disabled user is refused, and a live session whose user was
  revoked or disabled is signed out on its next interaction;
- the cookie write is confirmed: the library writes it from a hidden iframe, and a rerun that
  races the write silently loses it. `ensure_cookie` reads the browser's cookies back and
  writes again until the cookie is there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import extra_streamlit_components as stx
import jwt
import streamlit as st
import streamlit_authenticator as stauth

from chat.accounts import Account, AccountService, normalise_username
from chat.settings import Settings

CONFIRMED_KEY = "_auth_cookie_confirmed"
ATTEMPTS_KEY = "_auth_cookie_attempts"
LOGIN_AT_KEY = "_auth_login_at"
MAX_COOKIE_WRITES = 10


class PostgresUsernames(dict[str, Any]):
    """The library's `credentials['usernames']`, answered from Postgres one name at a time."""

    def __init__(self, accounts: AccountService) -> None:
        super().__init__()
        self._accounts = accounts

    def _record(self, username: object) -> dict[str, Any] | None:
        if not isinstance(username, str):
            return None
        account = self._accounts.get(username=username)
        if account is None or account.disabled:
            return None
        return {
            "email": account.email,
            "first_name": account.display_name,
            "last_name": "",
            "roles": [account.role],
            "password": "",  # never handed to the library; checks go through AccountService
        }

    def __contains__(self, username: object) -> bool:
        return self._record(username) is not None

    def __getitem__(self, username: str) -> dict[str, Any]:
        record = self._record(username)
        if record is None:
            raise KeyError(username)
        return record

    def get(self, username: str, default: Any = None) -> Any:
        record = self._record(username)
        return default if record is None else record

    def __setitem__(self, username: str, value: Any) -> None:
        """The library's own writes (login flags, counters) are not kept: state is in Postgres."""

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return iter(())


def build_authenticator(accounts: AccountService, settings: Settings) -> stauth.Authenticate:
    """A fresh Authenticate for this script run (it renders the cookie component)."""
    authenticator = stauth.Authenticate(
        {"usernames": {}},
        cookie_name=settings.cookie_name,
        cookie_key=settings.resolved_cookie_key(),
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )
    model = authenticator.authentication_controller.authentication_model
    model.credentials["usernames"] = PostgresUsernames(accounts)

    def check_credentials(username: str, password: str) -> bool:
        return accounts.authenticate(username=username, password=password) is not None

    model.check_credentials = check_credentials

    cookie_model = authenticator.cookie_controller.cookie_model
    library_get_cookie = cookie_model.get_cookie

    def get_cookie() -> dict[str, Any] | None:
        token = library_get_cookie()
        if not token:
            return token
        issued_at = float(token["exp_date"]) - settings.cookie_expiry_days * 86400
        if accounts.session_account(username=token["username"], issued_at=issued_at) is None:
            return None
        st.session_state[LOGIN_AT_KEY] = issued_at
        st.session_state[CONFIRMED_KEY] = True  # it came from the browser: it is there
        return token

    cookie_model.get_cookie = get_cookie
    return authenticator


def current_account(accounts: AccountService) -> Account | None:
    """The signed-in account for this run, re-checked against Postgres every run so that a
    disabled or revoked user is signed out on their next interaction."""
    if not st.session_state.get("authentication_status"):
        return None
    account = accounts.get(username=st.session_state.get("username") or "")
    login_at = st.session_state.setdefault(LOGIN_AT_KEY, time.time())
    if (
        account is None
        or account.disabled
        or datetime.fromtimestamp(login_at, tz=account.sessions_valid_after.tzinfo)
        < account.sessions_valid_after
    ):
        sign_out_locally()
        return None
    return account


def sign_out_locally() -> None:
    for key in ("name", "username", "authentication_status", "email", "roles"):
        st.session_state[key] = None
    for key in (CONFIRMED_KEY, ATTEMPTS_KEY, LOGIN_AT_KEY):
        st.session_state.pop(key, None)
    st.session_state["logout"] = True


def cookie_token(settings: Settings, username: str) -> tuple[str, datetime]:
    """The same JWT the library writes: {'username', 'exp_date'} signed with the cookie key."""
    expires = datetime.now() + timedelta(days=settings.cookie_expiry_days)
    token = jwt.encode(
        {"username": normalise_username(username), "exp_date": expires.timestamp()},
        settings.resolved_cookie_key(),
        algorithm="HS256",
    )
    return token, expires


def browser_has_cookie(cookies: dict[str, Any], settings: Settings, username: str) -> bool:
    token = cookies.get(settings.cookie_name)
    if not token:
        return False
    try:
        data = jwt.decode(token, settings.resolved_cookie_key(), algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    return bool(data.get("username") == normalise_username(username))


def ensure_cookie(settings: Settings, username: str) -> None:
    """Keep writing the remember-me cookie until the browser reports it back.

    Runs as a fragment every second until confirmed, then triggers one full rerun so the
    fragment is no longer drawn.
    """
    if st.session_state.get(CONFIRMED_KEY):
        return
    if browser_has_cookie(dict(st.context.cookies), settings, username):
        st.session_state[CONFIRMED_KEY] = True
        return
    _cookie_guard(settings, username)


@st.fragment(run_every=1.0)
def _cookie_guard(settings: Settings, username: str) -> None:
    if st.session_state.get(CONFIRMED_KEY):
        return
    runs = st.session_state[ATTEMPTS_KEY] = st.session_state.get(ATTEMPTS_KEY, 0) + 1
    # A stable key: the component reports document.cookie whenever it changes.
    manager = stx.CookieManager(key="auth-cookie-read")
    if browser_has_cookie(manager.cookies, settings, username):
        st.session_state[CONFIRMED_KEY] = True
        st.rerun()
    writes = runs // 2
    if writes >= MAX_COOKIE_WRITES:
        st.caption("Your browser did not keep the sign-in cookie: a reload will ask you to log in.")
        return
    if runs % 2 == 1:  # write on odd runs, leave the even ones for the browser to report back
        token, expires = cookie_token(settings, username)
        manager.set(
            settings.cookie_name, token, key=f"auth-cookie-write-{writes}", expires_at=expires
        )
