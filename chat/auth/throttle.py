"""Login throttling: a sliding window over failed attempts, instead of a permanent lockout.

streamlit-authenticator's lockout is permanent and anyone who knows a username can trigger
it. Here failures are counted per username *and* per client within
`login_window_seconds`; past either limit, attempts are refused (without checking the
password) until enough failures leave the window, so a block always ends by itself.
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
    scope: str = ""  # "account" or "client" when refused


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
    checks: list[tuple[str, dict[str, str], int]] = []
    if username is not None:
        checks.append(("account", {"username": username}, settings.login_failures_per_account))
    if client:
        checks.append(("client", {"client": client}, settings.login_failures_per_client))
    for scope, key, limit in checks:
        count, oldest = repository.count_auth_events(
            session=session, kind=kind, since=now - window, **key
        )
        if count >= limit and oldest is not None:
            wait = (oldest + window - now).total_seconds()
            return Verdict(False, max(1, math.ceil(wait)), scope)
    return Verdict(True)


def refuse(result: Verdict) -> Throttled:
    minutes = max(1, math.ceil(result.retry_after_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return Throttled(
        f"Too many failed attempts. Wait {minutes} {unit}, then try again "
        "(the block ends by itself)."
    )
