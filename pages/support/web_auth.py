"""streamlit-authenticator, wired to PostgreSQL users and made reliable.

The library draws the login form and keeps the remember-me cookie; what it lacks is added
here:
- users live in Postgres: its credential store is replaced by a read-through mapping, and
  password checks go through AccountService (our hashing, dummy hash for unknown names);
- server-side revocation: a cookie issued before the user's `sessions_valid_after` (logout,
  password change, reset, disabling) or for a disabled user is refused, and a live session
  whose user was revoked or disabled is signed out on its next interaction; idle and
  absolute lifetimes apply to both (AccountService.session_account);
- throttling: failed logins are counted per username and per client (`client_key`);
- logging out is our own button (`sign_out`), so the chat page draws no cookie component
  whose report could rerun it mid-answer;
- the cookie write is confirmed: the library writes it from a hidden iframe, and a rerun that
  races the write silently loses it. `ensure_cookie` keeps the write on the page until the
  browser's cookies, read back, contain it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from chat.auth import audit, session_cookie
from chat.auth.accounts import Account, AccountService, normalise_username
from chat.settings import Settings

CONFIRMED_KEY = "_auth_cookie_confirmed"
TOKEN_KEY = "_auth_cookie_token"
LOGIN_AT_KEY = "_auth_login_at"
SKIPPED_KEY = "_auth_cookie_skipped"


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
        account = accounts.authenticate(
            username=username, password=password, client=client_key(settings)
        )
        return account is not None

    model.check_credentials = check_credentials

    cookie_model = authenticator.cookie_controller.cookie_model

    def get_cookie() -> dict[str, Any] | None:
        """The library's own reader (it raised on a forged header and trusted a lifetime
        derived from settings), replaced by ours."""
        if st.session_state.get("logout"):
            return None
        claims = read_cookie(settings, st.context.cookies.get(settings.cookie_name))
        if claims is None:
            return None
        if accounts.session_account(username=claims.username, issued_at=claims.issued_at) is None:
            return None
        st.session_state[LOGIN_AT_KEY] = claims.issued_at
        st.session_state[CONFIRMED_KEY] = True  # it came from the browser: it is there
        return {"username": claims.username, "exp_date": claims.expires_at}

    cookie_model.get_cookie = get_cookie
    return authenticator


def sign_in_from_cookie(accounts: AccountService, settings: Settings) -> None:
    """The entry point's remember-me check, drawing nothing.

    The library's own check lives in `login()`, which also draws its cookie component. Drawn
    from the entry point, that component's identity changes with the page being shown (its
    id includes the active page), it re-mounts, and the report it sends triggers a rerun that
    can swallow the user's next click. So the gate reads the cookie from the request
    (st.context.cookies, as the library does) and the library is only drawn inside pages.
    """
    if st.session_state.get("authentication_status") or st.session_state.get("logout"):
        return
    claims = read_cookie(settings, st.context.cookies.get(settings.cookie_name))
    if claims is None:
        return
    issued_at = claims.issued_at
    account = accounts.session_account(username=claims.username, issued_at=issued_at)
    if account is None:
        return
    st.session_state.update(
        {
            "authentication_status": True,
            "username": account.username,
            "name": account.display_name,
            "email": account.email,
            "roles": [account.role],
            LOGIN_AT_KEY: issued_at,
            CONFIRMED_KEY: True,  # it came from the browser: it is there
        }
    )


def read_cookie(settings: Settings, token: object) -> session_cookie.CookieClaims | None:
    """A remember-me cookie's claims, or None for a missing, expired, forged or malformed
    one (refused quietly: the login form shows)."""
    return session_cookie.decode(
        token,
        key=settings.resolved_cookie_key(),
        lifetime_s=settings.cookie_expiry_days * 86400,
        now=time.time(),
    )


def client_key(settings: Settings) -> str:
    """Who is knocking, for per-client throttling: the client's address as the app's
    middleware resolved it (chat/web/clients.py: X-Forwarded-For only through proxies in
    TRUSTED_PROXIES). "local" for localhost connections and outside a browser (AppTest)."""
    address = st.context.ip_address
    return address[:128] if isinstance(address, str) and address else "local"


def current_account(accounts: AccountService) -> Account | None:
    """The signed-in account for this run, re-checked against Postgres every run so that a
    disabled, revoked, idle or too-old session is signed out on its next interaction."""
    if not st.session_state.get("authentication_status"):
        return None
    login_at = st.session_state.setdefault(LOGIN_AT_KEY, time.time())
    account = accounts.session_account(
        username=st.session_state.get("username") or "", issued_at=login_at
    )
    if account is None:
        sign_out_locally()
        return None
    return account


def end_other_sessions(accounts: AccountService, account: Account) -> None:
    """Revoke every session of the user, then re-establish this one with a fresh cookie
    (issued after the cutoff), so only this browser stays signed in."""
    cutoff = accounts.end_sessions(user_id=account.id, kind=audit.SESSIONS_ENDED)
    st.session_state[LOGIN_AT_KEY] = cutoff.timestamp() + 0.01
    for key in (CONFIRMED_KEY, TOKEN_KEY):
        st.session_state.pop(key, None)


def cookie_settled() -> bool:
    """Whether signing in is finished: the browser has the remember-me cookie, the user chose
    to go on without it, or there is no browser to write it to (e.g. AppTest).

    Until then the login page stays up (see pages/parts/finish_sign_in.py): the cookie
    components' reports rerun the page, and on the chat page such a rerun cut the first
    answer short."""
    return bool(
        st.session_state.get(CONFIRMED_KEY)
        or st.session_state.get(SKIPPED_KEY)
        or not st.context.headers
    )


def sign_out(accounts: AccountService, account: Account) -> None:
    """The logout button: end the user's sessions server-side (every remember-me cookie
    issued so far, this browser's included, is refused from now on), then here.

    A plain button, not the library's logout: that one needs the library's cookie component
    on the page, and the component reports the browser's cookies when it mounts, which
    reruns the page. On the chat page that rerun ended the run streaming an answer (the
    first one after logging in or reloading, on a busy machine), so the chat page draws no
    cookie component at all. The revoked cookie left in the browser is dead; the next login
    replaces it."""
    accounts.revoke_sessions(user_id=account.id)
    sign_out_locally()


def sign_out_locally() -> None:
    for key in ("name", "username", "authentication_status", "email", "roles"):
        st.session_state[key] = None
    for key in (CONFIRMED_KEY, TOKEN_KEY, LOGIN_AT_KEY, SKIPPED_KEY):
        st.session_state.pop(key, None)
    st.session_state["logout"] = True


def cookie_token(
    settings: Settings, username: str, login_at: float | None = None
) -> tuple[str, datetime]:
    """The remember-me cookie (chat/auth/session_cookie.py); its signed issue time is the
    session's login time."""
    issued_at = login_at or time.time()
    lifetime_s = settings.cookie_expiry_days * 86400
    token = session_cookie.encode(
        key=settings.resolved_cookie_key(),
        username=normalise_username(username),
        issued_at=issued_at,
        lifetime_s=lifetime_s,
        session_id=None,
    )
    return token, datetime.fromtimestamp(issued_at + lifetime_s)


def browser_has_cookie(
    cookies: dict[str, Any], settings: Settings, username: str, valid_after: float = 0.0
) -> bool:
    """Whether the browser holds this user's cookie, issued after `valid_after` (a revoked
    cookie still in the browser does not count: it must be replaced)."""
    claims = read_cookie(settings, cookies.get(settings.cookie_name))
    if claims is None:
        return False
    return claims.username == normalise_username(username) and claims.issued_at >= valid_after


def ensure_cookie(authenticator: stauth.Authenticate, settings: Settings, account: Account) -> None:
    """Keep the remember-me cookie write on the page until the browser confirms it.

    The library writes the cookie from a component that a rerun can unmount before its
    iframe has run. Here the write is drawn on every run, with a stable key and token, until
    the write component reports that the browser ran it (or the cookie is seen in the
    request or the library's reader): a rerun can delay the write but never lose it, and
    once confirmed nothing more is drawn.
    """
    if st.session_state.get(CONFIRMED_KEY):
        return
    username = account.username
    valid_after = account.sessions_valid_after.timestamp()
    reported = authenticator.cookie_controller.cookie_model.cookie_manager.cookies or {}
    if browser_has_cookie(
        dict(st.context.cookies), settings, username, valid_after
    ) or browser_has_cookie(reported, settings, username, valid_after):
        st.session_state[CONFIRMED_KEY] = True
        st.session_state.pop(TOKEN_KEY, None)
        return
    if TOKEN_KEY not in st.session_state:
        st.session_state[TOKEN_KEY] = cookie_token(
            settings, username, st.session_state.get(LOGIN_AT_KEY)
        )
    token, expires = st.session_state[TOKEN_KEY]
    manager = authenticator.cookie_controller.cookie_model.cookie_manager
    # The component itself, not CookieManager.set (which drops its value): it returns True
    # once the browser has run the write, and that value is our confirmation.
    written = manager.cookie_manager(
        method="set",
        cookie=settings.cookie_name,
        value=token,
        options={"path": "/", "expires": expires.isoformat(), "sameSite": "strict"},
        key="auth-cookie-write",
        default=False,
    )
    if written:
        st.session_state[CONFIRMED_KEY] = True
        st.session_state.pop(TOKEN_KEY, None)
