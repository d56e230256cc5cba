"""Throttling: failures per account and per client in a window; blocks end by themselves."""

from __future__ import annotations

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
    # Blocked, even with the right password and from another client.
    with pytest.raises(Throttled, match="Wait 10 minutes"):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="b")
    clock.advance(seconds=300)
    with pytest.raises(Throttled, match="Wait 5 minutes"):
        svc.accounts.authenticate(username=user.username, password=PASSWORD, client="b")
    clock.advance(seconds=301)  # the failures have left the window
    assert svc.accounts.authenticate(username=user.username, password=PASSWORD, client="b")


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
    assert audit.USER_REGISTERED in kinds
