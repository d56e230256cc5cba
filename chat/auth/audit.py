"""Security events: what is recorded, and how the admin page reads it back.

Every event is one row of `auth_events`, written inside the same unit of work as the change
it describes, so the trail and the state never disagree. Failed logins double as the
throttle's counters (chat.auth.throttle), which is why they live in Postgres: all replicas agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from chat.storage import repository

Clock = Callable[[], datetime]

LOGIN_SUCCESS = "login_success"
LOGIN_FAILURE = "login_failure"
LOGIN_THROTTLED = "login_throttled"
LOGIN_UNLOCKED = "login_unlocked"
LOGOUT = "logout"
SESSIONS_ENDED = "sessions_ended"
SESSION_EXPIRED = "session_expired"
PASSWORD_CHANGED = "password_changed"
RESET_ISSUED = "reset_issued"
RESET_REDEEMED = "reset_redeemed"
RESET_FAILURE = "reset_failure"
USER_CREATED = "user_created"
USER_REGISTERED = "user_registered"
REGISTRATION_REFUSED = "registration_refused"
USER_DISABLED = "user_disabled"
USER_ENABLED = "user_enabled"
ROLE_CHANGED = "role_changed"
REGISTRATION_CHANGED = "registration_changed"
INVITE_ISSUED = "invite_issued"
API_KEY_CREATED = "api_key_created"
API_KEY_REVOKED = "api_key_revoked"
API_KEY_REFUSED = "api_key_refused"
API_REQUEST = "api_request"  # one per HTTP API request: traffic, not a security event


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    username: str
    client: str
    detail: dict[str, Any]


def record(
    session: Session,
    *,
    kind: str,
    username: str,
    at: datetime,
    user_id: uuid.UUID | None = None,
    client: str = "",
    **detail: Any,
) -> None:
    """One event row; flushed, committed by the caller's unit of work."""
    repository.add_auth_event(
        session=session,
        kind=kind,
        username=username,
        at=at,
        user_id=user_id,
        client=client,
        detail=detail,
    )


def events(
    session: Session,
    *,
    limit: int = 100,
    user_id: uuid.UUID | None = None,
    without: tuple[str, ...] = (),
) -> list[Event]:
    """The newest events first; `without`: kinds left out."""
    rows = repository.recent_auth_events(
        session=session, limit=limit, user_id=user_id, without_kinds=without
    )
    return [
        Event(row.created_at, row.kind, row.username, row.client, dict(row.detail)) for row in rows
    ]
