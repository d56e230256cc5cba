"""Login throttling that an attacker cannot aim at someone else.

Failed attempts are counted in a sliding window (`login_window_seconds`), never as a
permanent lockout, and past a limit attempts are refused without checking the password:
- per account *and* client (`login_failures_per_account`): guessing one user's password
  from one place stops there, and the real user, elsewhere, is not locked out by it;
- per client (`login_failures_per_client`): one place spraying many usernames stops;
- the account's backstop (`login_failures_account_backstop`), slower: once that many
  failures came from anywhere, a client that has already failed on the account is refused
  until the window clears. Guessing from many addresses then gets one try per address,
  while a client that has not been failing still signs in with the right password.
Admins can unlock an account (chat.auth.admin): failures before the unlock stop counting.
The counters are the `login_failure` rows of the audit table: every replica sees the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from chat.auth import audit
from chat.errors import Throttled
from chat.settings import Settings
from chat.storage import repository


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    scope: str = ""  # "account", "client" or "backstop" when refused


def verdict(
    session: Session,
    settings: Settings,
    *,
    username: str | None,
    client: str,
    now: datetime,
    kind: str = audit.LOGIN_FAILURE,
) -> Verdict:
    """May this attempt go ahead? If not, when the oldest counted failure leaves the window.
    `username=None` counts per client only (reset codes name no account)."""
    window = timedelta(seconds=settings.login_window_seconds)
    since = now - window
    if username is not None:
        unlocked = repository.latest_auth_event_at(
            session=session, kind=audit.LOGIN_UNLOCKED, username=username
        )
        if unlocked is not None and unlocked > since:
            since = unlocked

    def refused(scope: str, oldest: datetime) -> Verdict:
        wait = (oldest + window - now).total_seconds()
        return Verdict(False, max(1, math.ceil(wait)), scope)

    pair_count = 0
    if username is not None:
        pair_count, oldest = repository.count_auth_events(
            session=session, kind=kind, since=since, username=username, client=client
        )
        if pair_count >= settings.login_failures_per_account and oldest is not None:
            return refused("account", oldest)
    if client:
        count, oldest = repository.count_auth_events(
            session=session, kind=kind, since=now - window, client=client
        )
        if count >= settings.login_failures_per_client and oldest is not None:
            return refused("client", oldest)
    if username is not None and pair_count:
        count, oldest = repository.count_auth_events(
            session=session, kind=kind, since=since, username=username
        )
        if count >= settings.login_failures_account_backstop and oldest is not None:
            return refused("backstop", oldest)
    return Verdict(True)


def refuse(result: Verdict) -> Throttled:
    minutes = max(1, math.ceil(result.retry_after_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return Throttled(
        f"Too many failed attempts. Wait {minutes} {unit}, then try again "
        "(the block ends by itself)."
    )
