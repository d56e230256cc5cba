"""Server-side session validity: revocation cutoffs, disabled users, idle and absolute
lifetimes. `issued_at` is a cookie's issue time (or a live session's login)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from chat.auth import session_cookie
from chat.errors import AccountDisabled
from chat.services import Services
from chat.storage import repository
from tests.support.factories import PASSWORD, Clock, clocked, make_user
from tests.support.statements import recorded_statements


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(services: Services, clock: Clock) -> Services:
    return clocked(services, clock, session_idle_minutes=60, session_max_hours=24)


def _login(svc: Services, username: str, clock: Clock) -> float:
    assert svc.accounts.authenticate(username=username, password=PASSWORD)
    return clock.now.timestamp()


def test_logout_revokes_cookies_issued_before_it(svc: Services, clock: Clock) -> None:
    user = make_user(svc)
    issued = _login(svc, user.username, clock)
    assert svc.accounts.session_account(username=user.username, issued_at=issued)
    clock.advance(seconds=5)
    svc.accounts.end_sessions(user_id=user.id)  # every session of the user ends
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    clock.advance(seconds=5)
    fresh = _login(svc, user.username, clock)
    assert svc.accounts.session_account(username=user.username, issued_at=fresh)


def test_password_change_revokes_every_older_session(svc: Services, clock: Clock) -> None:
    user = make_user(svc)
    issued = _login(svc, user.username, clock)
    clock.advance(seconds=5)
    svc.accounts.set_password(username=user.username, password="a brand new secret")
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD) is None


def test_absolute_lifetime(svc: Services, clock: Clock) -> None:
    user = make_user(svc)
    issued = _login(svc, user.username, clock)
    for _ in range(25):  # active every 59 minutes, so never idle
        clock.advance(minutes=59)
        if svc.accounts.session_account(username=user.username, issued_at=issued) is None:
            break
    assert clock.now.timestamp() - issued > 24 * 3600
    assert clock.now.timestamp() - issued < 25 * 3600


def test_idle_lifetime_ends_every_session_for_good(svc: Services, clock: Clock) -> None:
    user = make_user(svc)
    issued = _login(svc, user.username, clock)
    clock.advance(minutes=30)
    assert svc.accounts.session_account(username=user.username, issued_at=issued)
    clock.advance(minutes=61)
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    # Signing in again elsewhere does not revive the idle cookie.
    clock.advance(seconds=1)
    fresh = _login(svc, user.username, clock)
    assert svc.accounts.session_account(username=user.username, issued_at=fresh)
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None


def test_disabled_user_cannot_sign_in_or_keep_a_session(svc: Services, clock: Clock) -> None:
    admin = make_user(svc, role="admin")
    user = make_user(svc)
    issued = _login(svc, user.username, clock)
    clock.advance(seconds=1)
    svc.admin.set_disabled(actor=admin, user_id=user.id, disabled=True)
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    # Told so only after the right password; a wrong one says nothing about the account.
    with pytest.raises(AccountDisabled, match="disabled"):
        svc.accounts.authenticate(username=user.username, password=PASSWORD)
    assert svc.accounts.authenticate(username=user.username, password="wrong one") is None
    svc.admin.set_disabled(actor=admin, user_id=user.id, disabled=False)
    # Re-enabling does not revive sessions that existed when the user was disabled.
    assert svc.accounts.session_account(username=user.username, issued_at=issued) is None
    clock.advance(seconds=1)
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD)


def test_a_browser_session_exchanges_its_code_once_for_a_cookie(
    svc: Services, clock: Clock
) -> None:
    user = make_user(svc)
    session_id, code = svc.browser_sessions.start(account=user, device="Firefox", address="a")
    cookie = svc.browser_sessions.redeem(code=code)
    assert cookie is not None and cookie.max_age_s > 0
    assert svc.browser_sessions.redeem(code=code) is None  # used up
    claims = session_cookie.decode(
        cookie.value,
        key=svc.settings.resolved_cookie_key(),
        lifetime_s=svc.settings.cookie_expiry_days * 86400,
        now=clock.now.timestamp(),
    )
    assert claims is not None and claims.session_id == session_id
    assert svc.browser_sessions.check(
        username=user.username, session_id=session_id, issued_at=claims.issued_at
    )
    _, late = svc.browser_sessions.start(account=user, device="Firefox", address="a")
    clock.advance(seconds=180)
    assert svc.browser_sessions.redeem(code=late) is None  # expired


def test_any_one_session_can_be_ended_and_a_password_change_ends_all(
    svc: Services, clock: Clock
) -> None:
    user = make_user(svc)
    first, _ = svc.browser_sessions.start(account=user, device="A", address="1")
    second, _ = svc.browser_sessions.start(account=user, device="B", address="2")
    at = clock.now.timestamp()
    check = svc.browser_sessions.check
    assert sorted(s.device for s in svc.browser_sessions.list(user_id=user.id)) == ["A", "B"]
    svc.browser_sessions.end(user_id=user.id, session_id=first)
    assert check(username=user.username, session_id=first, issued_at=at) is None
    assert check(username=user.username, session_id=second, issued_at=at)
    clock.advance(seconds=1)
    svc.accounts.set_password(username=user.username, password="another good secret")
    assert check(username=user.username, session_id=second, issued_at=at) is None
    assert svc.browser_sessions.list(user_id=user.id) == []


def test_sessions_past_their_lifetime_are_not_listed_and_are_purged(
    svc: Services, clock: Clock
) -> None:
    user = make_user(svc)
    old, _ = svc.browser_sessions.start(account=user, device="old", address="1")
    clock.advance(hours=25)  # past session_max_hours (24 here)
    assert svc.browser_sessions.list(user_id=user.id) == []
    svc.browser_sessions.start(account=user, device="new", address="2")
    assert [s.device for s in svc.browser_sessions.list(user_id=user.id)] == ["new"]
    with svc.sessions() as session:
        assert (
            repository.get_browser_session(session=session, user_id=user.id, session_id=old) is None
        )


def test_the_check_on_each_run_is_one_statement_and_keeps_every_rule(
    svc: Services, clock: Clock, engine: Engine
) -> None:
    alice, bob = make_user(svc), make_user(svc)
    session_id, _ = svc.browser_sessions.start(account=alice, device="A", address="1")
    bobs, _ = svc.browser_sessions.start(account=bob, device="B", address="2")
    at = clock.now.timestamp()
    check = svc.browser_sessions.check
    assert check(username=alice.username, session_id=session_id, issued_at=at, address="1")
    with recorded_statements(engine) as statements:  # a later run, within the minute
        assert check(username=alice.username, session_id=session_id, issued_at=at, address="1")
    assert len(statements) == 1 and statements[0].startswith("SELECT")
    # Another user's session, an unknown user, an unknown session: signed out.
    assert check(username=alice.username, session_id=bobs, issued_at=at) is None
    assert check(username="nobody", session_id=session_id, issued_at=at) is None
    assert check(username=alice.username, session_id=uuid.uuid4(), issued_at=at) is None
    # A new address, or a minute gone by, is written down, and only then.
    with recorded_statements(engine) as statements:
        assert check(username=alice.username, session_id=session_id, issued_at=at, address="3")
    assert [s.split()[0] for s in statements] == ["SELECT", "UPDATE"]
    clock.advance(seconds=61)
    assert check(username=alice.username, session_id=session_id, issued_at=at, address="3")
    (seen,) = [s for s in svc.browser_sessions.list(user_id=alice.id) if s.id == session_id]
    assert (seen.address, seen.last_seen_at) == ("3", clock.now)
    admin = make_user(svc, role="admin")
    svc.admin.set_disabled(actor=admin, user_id=alice.id, disabled=True)
    assert check(username=alice.username, session_id=session_id, issued_at=at) is None
