"""Server-side browser sessions (chat/auth/sessions.py).

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chat.storage.tables import BrowserSession, User

__all__ = [
    "create_browser_session",
    "delete_old_browser_sessions",
    "end_browser_sessions",
    "get_browser_session",
    "get_user_with_browser_session",
    "list_browser_sessions",
    "take_session_code",
    "touch_browser_session",
]


def create_browser_session(
    *,
    session: Session,
    user_id: uuid.UUID,
    at: datetime,
    device: str,
    address: str,
    code_hash: str,
    code_expires_at: datetime,
) -> BrowserSession:
    row = BrowserSession(
        id=uuid.uuid4(),
        user_id=user_id,
        created_at=at,
        last_seen_at=at,
        device=device[:200],
        address=address[:128],
        code_hash=code_hash,
        code_expires_at=code_expires_at,
    )
    session.add(row)
    session.flush()
    return row


def delete_old_browser_sessions(*, session: Session, user_id: uuid.UUID, before: datetime) -> None:
    """Drop the user's session rows created before `before` (past any lifetime)."""
    session.execute(
        delete(BrowserSession).where(
            BrowserSession.user_id == user_id, BrowserSession.created_at < before
        )
    )


def get_browser_session(
    *, session: Session, user_id: uuid.UUID, session_id: uuid.UUID
) -> BrowserSession | None:
    return session.scalars(
        select(BrowserSession).where(
            BrowserSession.user_id == user_id, BrowserSession.id == session_id
        )
    ).one_or_none()


def get_user_with_browser_session(
    *, session: Session, username: str, session_id: uuid.UUID
) -> tuple[User | None, BrowserSession | None]:
    """The user called `username` and, if it is theirs, the browser session `session_id`:
    one statement, for the check on every run of a page."""
    found = session.execute(
        select(User, BrowserSession)
        .outerjoin(
            BrowserSession,
            (BrowserSession.user_id == User.id) & (BrowserSession.id == session_id),
        )
        .where(User.username == username)
    ).one_or_none()
    return (found[0], found[1]) if found is not None else (None, None)


def take_session_code(*, session: Session, code_hash: str, at: datetime) -> BrowserSession | None:
    """The live session whose unexpired one-time code this is; the code is used up."""
    row = session.scalars(
        select(BrowserSession)
        .where(
            BrowserSession.code_hash == code_hash,
            BrowserSession.code_expires_at > at,
            BrowserSession.ended_at.is_(None),
        )
        .with_for_update()
    ).one_or_none()
    if row is not None:
        row.code_hash = None
        row.code_expires_at = None
        session.flush()
    return row


def touch_browser_session(
    *, session: Session, user_id: uuid.UUID, session_id: uuid.UUID, at: datetime, address: str
) -> None:
    session.execute(
        update(BrowserSession)
        .where(BrowserSession.user_id == user_id, BrowserSession.id == session_id)
        .values(last_seen_at=at, address=address[:128])
    )


def end_browser_sessions(
    *,
    session: Session,
    user_id: uuid.UUID,
    at: datetime,
    session_id: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> int:
    """End one session of the user (`session_id`), or all of them but `keep`."""
    query = update(BrowserSession).where(
        BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None)
    )
    if session_id is not None:
        query = query.where(BrowserSession.id == session_id)
    if keep is not None:
        query = query.where(BrowserSession.id != keep)
    result = session.execute(query.values(ended_at=at, code_hash=None, code_expires_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_browser_sessions(
    *, session: Session, user_id: uuid.UUID, limit: int = 50
) -> list[BrowserSession]:
    """The user's live sessions, most recently seen first."""
    return list(
        session.scalars(
            select(BrowserSession)
            .where(BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None))
            .order_by(BrowserSession.last_seen_at.desc())
            .limit(limit)
        ).all()
    )
