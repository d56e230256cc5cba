"""Throttling: failures per account and per client in a window; blocks end by themselves."""

from __future__ import annotations

import contextlib

import pytest

from chat.auth import audit
from chat.errors import Throttled
from chat.services import Services
from tests.support.factories import PASSWORD, Clock, clocked, make_user


def test_an_account_is_blocked_after_failures_and_unblocks_by_itself(services: Services) -> None:
    clock = Clock()
    svc = clocked(services, clock, login_failures_per_account=3, login_window_seconds=600)
    user = make_user(svc)
    for _ in range(3):
        refused = svc.accounts.authenticate(username=user.username, password="wrong", client="a")
        assert refused is None
    # Blocked from that client, even with the right password.
    with pytest.raises(Throttled, match="Wait 10 minutes"):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="a")
    clock.advance(seconds=300)
    with pytest.raises(Throttled, match="Wait 5 minutes"):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="a")
    clock.advance(seconds=301)  # the failures have left the window
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="a")


def test_failures_elsewhere_cannot_lock_the_user_out(services: Services) -> None:
    """An attacker who knows the name cannot aim a lockout: the user's own client, which
    has not been failing, still signs in with the right password."""
    svc = clocked(services, Clock(), login_failures_per_account=3, login_failures_per_client=100)
    user = make_user(svc)
    for attempt in range(30):
        client = f"attacker-{attempt % 3}"
        with contextlib.suppress(Throttled):
            svc.accounts.authenticate(username=user.username, password="wrong", client=client)
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="home")


def test_the_account_backstop_slows_guessing_from_many_clients(services: Services) -> None:
    svc = clocked(
        services, Clock(), login_failures_per_account=5, login_failures_account_backstop=4
    )
    user = make_user(svc)
    for attempt in range(4):
        client = f"bot-{attempt}"
        svc.accounts.authenticate(username=user.username, password="wrong", client=client)
    # Past the backstop, a client that already failed on this account gets no more tries.
    with pytest.raises(Throttled):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="bot-0")
    # A client that has not been failing still gets in.
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="home")


def test_an_admin_can_unlock_an_account(services: Services) -> None:
    clock = Clock()
    svc = clocked(services, clock, login_failures_per_account=2)
    admin = make_user(svc, role="admin")
    user = make_user(svc)
    for _ in range(2):
        svc.accounts.authenticate(username=user.username, password="wrong", client="a")
    with pytest.raises(Throttled):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="a")
    clock.advance(seconds=1)
    svc.admin.unlock(actor=admin, user_id=user.id)
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="a")
    assert audit.LOGIN_UNLOCKED in [e.kind for e in svc.admin.events(actor=admin, limit=5)]


def test_a_client_is_blocked_across_usernames(services: Services) -> None:
    clock = Clock()
    svc = clocked(services, clock, login_failures_per_client=4, login_failures_per_account=99)
    user = make_user(svc)
    for n in range(4):
        svc.accounts.authenticate(username=f"guess{n}", password="x", client="10.0.0.9")
    with pytest.raises(Throttled):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="10.0.0.9")
    # Another client is not affected: the real user can still sign in.
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="10.0.0.7")


def test_unknown_usernames_are_throttled_like_known_ones(services: Services) -> None:
    svc = clocked(services, Clock(), login_failures_per_account=2)
    for _ in range(2):
        svc.accounts.authenticate(username="nobody-here", password="x", client="c")
    with pytest.raises(Throttled):
        svc.accounts.authenticate(username="nobody-here", password="x", client="c")


def test_attempts_are_audited(services: Services) -> None:
    clock = Clock()
    svc = clocked(services, clock, login_failures_per_account=1)
    user = make_user(svc)
    svc.accounts.authenticate(username=user.username, password="wrong", client="c1")
    with pytest.raises(Throttled):
        svc.accounts.authenticate(username=user.username, password="wrong", client="c1")
    clock.advance(hours=1)
    svc.accounts.authenticate(username=user.username, password=PASSWORD, client="c1")
    kinds = [e.kind for e in svc.accounts.login_history(user_id=user.id)]
    assert kinds[:2] == [audit.LOGIN_SUCCESS, audit.LOGIN_FAILURE]
    assert audit.USER_CREATED in kinds  # made by the tests, as an operator would
