"""streamlit-authenticator, wired to PostgreSQL users and server-side sessions.

The library draws the login form; what it lacks is added here:
- users live in Postgres: its credential store is replaced by a read-through mapping, and
  password checks go through AccountService (our hashing, dummy hash for unknown names);
- server-side sessions (chat/auth/sessions.py): signing in creates a row for this browser,
  and the page posts that row's one-time code to the app's own route, which sets the
  remember-me cookie (HttpOnly, Secure under https, SameSite=Strict). The library never
  writes its cookie from JavaScript; its reader is ours (chat/auth/session_cookie.py);
- revocation: a cookie or live session whose row was ended, issued before the user's
  `sessions_valid_after` (password change, reset, disabling), or of a disabled user is
  refused, re-checked on every script run (idle and absolute lifetimes too);
- throttling: failed logins are counted per account and client (`client_key`);
- logging out is our own button (`sign_out`), so the chat page draws no cookie component
  whose report could rerun it mid-answer.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from chat.auth import session_cookie
from chat.auth.accounts import Account, AccountService
from chat.auth.sessions import BrowserSessions
from chat.services import Services
from chat.settings import Settings

CONFIRMED_KEY = "_auth_cookie_confirmed"
CODE_KEY = "_auth_session_code"
SESSION_KEY = "_auth_session_id"
LOGIN_AT_KEY = "_auth_login_at"
SKIPPED_KEY = "_auth_cookie_skipped"
COOKIE_ROUTE = "/api/session"  # chat/web/session_route.py under chat/web/app.py's prefix


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


def build_authenticator(services: Services) -> stauth.Authenticate:
    """A fresh Authenticate for this script run (it renders the cookie component)."""
    settings = services.settings
    authenticator = stauth.Authenticate(
        {"usernames": {}},
        cookie_name=settings.cookie_name,
        cookie_key=settings.resolved_cookie_key(),
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )
    model = authenticator.authentication_controller.authentication_model
    model.credentials["usernames"] = PostgresUsernames(services.accounts)

    def check_credentials(username: str, password: str) -> bool:
        client = client_key(settings)
        account = services.accounts.authenticate(
            username=username, password=password, client=client
        )
        if account is None:
            return False
        start_session(services.browser_sessions, account, client)
        return True

    model.check_credentials = check_credentials

    cookie_model = authenticator.cookie_controller.cookie_model

    def get_cookie() -> dict[str, Any] | None:
        """The library's own reader (it raised on a forged header and trusted a lifetime
        derived from settings), replaced by ours."""
        if st.session_state.get("logout"):
            return None
        account = account_from_cookie(services.browser_sessions, settings)
        if account is None:
            return None
        return {"username": account.username}

    cookie_model.get_cookie = get_cookie
    # The cookie is set by the server (chat/web/session_route.py), never from JavaScript.
    cookie_model.set_cookie = lambda: None
    cookie_model.delete_cookie = lambda: None
    return authenticator


def start_session(browser_sessions: BrowserSessions, account: Account, client: str) -> None:
    """A server-side session row for this browser; its one-time code waits to be posted."""
    device = str(st.context.headers.get("User-Agent") or "") if st.context.headers else ""
    session_id, code = browser_sessions.start(account=account, device=device, address=client)
    st.session_state[SESSION_KEY] = session_id
    st.session_state[CODE_KEY] = code
    st.session_state[LOGIN_AT_KEY] = time.time()


def read_cookie(settings: Settings, token: object) -> session_cookie.CookieClaims | None:
    """A remember-me cookie's claims, or None for a missing, expired, forged or malformed
    one (refused quietly: the login form shows)."""
    return session_cookie.decode(
        token,
        key=settings.resolved_cookie_key(),
        lifetime_s=settings.cookie_expiry_days * 86400,
        now=time.time(),
    )


def account_from_cookie(browser_sessions: BrowserSessions, settings: Settings) -> Account | None:
    """The account of this request's remember-me cookie, if its session is still live; the
    session is then this browser's."""
    claims = read_cookie(settings, st.context.cookies.get(settings.cookie_name))
    if claims is None or claims.session_id is None:
        return None
    account = browser_sessions.check(
        username=claims.username,
        session_id=claims.session_id,
        issued_at=claims.issued_at,
        address=client_key(settings),
    )
    if account is not None:
        st.session_state[SESSION_KEY] = claims.session_id
        st.session_state[LOGIN_AT_KEY] = claims.issued_at
        st.session_state[CONFIRMED_KEY] = True  # it came from the browser: it is there
    return account


def sign_in_from_cookie(services: Services) -> None:
    """The entry point's remember-me check, drawing nothing.

    The library's own check lives in `login()`, which also draws its cookie component. Drawn
    from the entry point, that component's identity changes with the page being shown (its
    id includes the active page), it re-mounts, and the report it sends triggers a rerun that
    can swallow the user's next click. So the gate reads the cookie from the request
    (st.context.cookies: the HttpOnly cookie is sent with it) and the library is only drawn
    inside pages.
    """
    if st.session_state.get("authentication_status") or st.session_state.get("logout"):
        return
    account = account_from_cookie(services.browser_sessions, services.settings)
    if account is None:
        return
    mark_signed_in(account)


def mark_signed_in(account: Account) -> None:
    """The session state the library's login leaves behind, which the entry point reads."""
    st.session_state.update(
        {
            "authentication_status": True,
            "username": account.username,
            "name": account.display_name,
            "email": account.email,
            "roles": [account.role],
        }
    )


def sign_in_new_account(services: Services, *, username: str, password: str) -> bool:
    """Sign in the account just registered in this browser, as the login form would: the
    ordinary password check (audited as a sign-in, under the same throttles), then a
    server-side session whose cookie the login page sets next. False if the check refused."""
    client = client_key(services.settings)
    account = services.accounts.authenticate(username=username, password=password, client=client)
    if account is None:
        return False
    start_session(services.browser_sessions, account, client)
    mark_signed_in(account)
    return True


def client_key(settings: Settings) -> str:
    """Who is knocking, for per-client throttling: the client's address as the app's
    middleware resolved it (chat/web/clients.py: X-Forwarded-For only through proxies in
    TRUSTED_PROXIES). "local" for localhost connections and outside a browser (AppTest)."""
    address = st.context.ip_address
    return address[:128] if isinstance(address, str) and address else "local"


def current_session() -> uuid.UUID | None:
    value = st.session_state.get(SESSION_KEY)
    return value if isinstance(value, uuid.UUID) else None


def current_account(services: Services) -> Account | None:
    """The signed-in account for this run, re-checked against Postgres every run so that an
    ended, revoked, idle or too-old session, or a disabled user, is signed out on its next
    interaction."""
    if not st.session_state.get("authentication_status"):
        return None
    session_id = current_session()
    login_at = st.session_state.get(LOGIN_AT_KEY)
    account = (
        services.browser_sessions.check(
            username=st.session_state.get("username") or "",
            session_id=session_id,
            issued_at=float(login_at),
            address=client_key(services.settings),
        )
        if session_id is not None and login_at is not None
        else None
    )
    if account is None:
        sign_out_locally()
        return None
    return account


def cookie_settled() -> bool:
    """Whether signing in is finished: the browser has the remember-me cookie, the user chose
    to go on without it, or there is no browser to write it to (e.g. AppTest).

    Until then the login page stays up (see pages/parts/finish_sign_in.py), posting the
    session's one-time code to the cookie route."""
    return bool(
        st.session_state.get(CONFIRMED_KEY)
        or st.session_state.get(SKIPPED_KEY)
        or not st.context.headers
    )


def draw_cookie_exchange() -> None:
    """Post this browser's one-time code to the cookie route (chat/web/session_route.py):
    the answer sets the HttpOnly cookie and brings the browser back, signed in. A form post,
    so the code never lands in a URL (or a proxy's log)."""
    code = st.session_state.get(CODE_KEY)
    if not code or not st.context.headers:
        return
    script = f"""<script>
(function () {{
  const form = document.createElement("form");
  form.method = "post";
  form.action = {json.dumps(COOKIE_ROUTE)};
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = "code";
  field.value = {json.dumps(str(code))};
  form.appendChild(field);
  document.body.appendChild(form);
  form.submit();
}})();
</script>"""
    st.html(script, unsafe_allow_javascript=True)  # reviewed: app-made, no user text


def sign_out(services: Services, account: Account) -> None:
    """The logout button: this browser's session ends server-side (its cookie, copied or
    not, is refused from now on), then here.

    A plain button, not the library's logout: that one needs the library's cookie component
    on the page, and the component reports the browser's cookies when it mounts, which
    reruns the page; on the chat page that rerun ended a streaming answer. The dead cookie
    left in the browser is replaced at the next login."""
    session_id = current_session()
    if session_id is not None:
        services.browser_sessions.end(user_id=account.id, session_id=session_id)
    sign_out_locally()


def sign_out_locally() -> None:
    for key in ("name", "username", "authentication_status", "email", "roles"):
        st.session_state[key] = None
    for key in (CONFIRMED_KEY, CODE_KEY, SESSION_KEY, LOGIN_AT_KEY, SKIPPED_KEY):
        st.session_state.pop(key, None)
    st.session_state["logout"] = True
