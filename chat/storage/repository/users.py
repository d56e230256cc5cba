"""Users, their security state and the audit trail: accounts, sign-in revocation, admin
flags and stats, authentication events, password resets, app settings.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import (
    AppSetting,
    AuthEvent,
    BrowserSession,
    Conversation,
    Message,
    PasswordReset,
    User,
)

# --- users -----------------------------------------------------------------------------


def create_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    email: str,
    password_hash: str,
    role: str = "user",
    username_fold: str | None = None,
) -> User:
    user = User(
        id=uuid.uuid4(),
        username=username,
        username_fold=username_fold,
        display_name=display_name,
        email=email,
        password_hash=password_hash,
        role=role,
        profile={},
    )
    session.add(user)
    session.flush()
    return user


def username_fold_taken(*, session: Session, username_fold: str) -> bool:
    """Whether a user's name already folds to this (chat/auth/usernames.py)."""
    query = select(User.id).where(User.username_fold == username_fold).limit(1)
    return session.execute(query).first() is not None


def get_user_by_username(*, session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user(*, session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def set_password_hash(
    *, session: Session, user_id: uuid.UUID, password_hash: str, at: datetime | None = None
) -> None:
    """New password; every session issued before `at` (default: now) stops being valid."""
    session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))
    revoke_sessions(session=session, user_id=user_id, at=at)


def revoke_sessions(*, session: Session, user_id: uuid.UUID, at: datetime | None = None) -> None:
    """Every session issued before `at` (default: now) stops being valid, and every
    browser session row of the user ends."""
    cutoff = at if at is not None else func.now()
    session.execute(update(User).where(User.id == user_id).values(sessions_valid_after=cutoff))
    session.execute(
        update(BrowserSession)
        .where(BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None))
        .values(ended_at=cutoff, code_hash=None, code_expires_at=None)
    )


def record_login(*, session: Session, user_id: uuid.UUID, at: datetime | None = None) -> None:
    moment = at or func.now()
    session.execute(
        update(User).where(User.id == user_id).values(last_login_at=moment, last_seen_at=moment)
    )


# --- security: users admin, activity, audit events, resets, app settings ---------------
# Admin-wide queries (user stats, events) are deliberately not filtered by user_id: only
# chat.auth.admin calls them, after checking the caller is an admin.


def set_user_flags(
    *, session: Session, user_id: uuid.UUID, disabled: bool | None = None, role: str | None = None
) -> None:
    values: dict[str, Any] = {}
    if disabled is not None:
        values["disabled"] = disabled
    if role is not None:
        values["role"] = role
    if values:
        result = session.execute(update(User).where(User.id == user_id).values(**values))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("No such user.")


def touch_last_seen(*, session: Session, user_id: uuid.UUID, at: datetime) -> None:
    session.execute(update(User).where(User.id == user_id).values(last_seen_at=at))


@dataclass(frozen=True)
class UserStats:
    user_id: uuid.UUID
    conversations: int
    messages: int
    tokens: int


def user_stats(*, session: Session) -> dict[uuid.UUID, UserStats]:
    """Per user: conversations, messages and stored tokens (two grouped scans)."""
    conversations = dict(
        session.execute(
            select(Conversation.user_id, func.count()).group_by(Conversation.user_id)
        ).all()
    )
    rows = session.execute(
        select(
            Message.user_id, func.count(), func.coalesce(func.sum(Message.token_count), 0)
        ).group_by(Message.user_id)
    ).all()
    messages = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    return {
        uid: UserStats(uid, int(conversations.get(uid, 0)), *messages.get(uid, (0, 0)))
        for uid in set(conversations) | set(messages)
    }


def add_auth_event(
    *,
    session: Session,
    kind: str,
    username: str,
    at: datetime,
    user_id: uuid.UUID | None = None,
    client: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuthEvent(
            user_id=user_id,
            username=username[:64],
            kind=kind,
            client=client[:128],
            detail=detail or {},
            created_at=at,
        )
    )
    session.flush()


def count_auth_events(
    *,
    session: Session,
    kind: str,
    since: datetime,
    username: str | None = None,
    client: str | None = None,
) -> tuple[int, datetime | None]:
    """How many events of `kind` since `since` for this username or client, and the oldest."""
    query = select(func.count(), func.min(AuthEvent.created_at)).where(
        AuthEvent.kind == kind, AuthEvent.created_at >= since
    )
    if username is not None:
        query = query.where(AuthEvent.username == username)
    if client is not None:
        query = query.where(AuthEvent.client == client)
    count, oldest = session.execute(query).one()
    return int(count), oldest


def latest_auth_event_at(*, session: Session, kind: str, username: str) -> datetime | None:
    """When the last event of `kind` for this username happened (None: never)."""
    query = select(func.max(AuthEvent.created_at)).where(
        AuthEvent.kind == kind, AuthEvent.username == username
    )
    latest: datetime | None = session.execute(query).scalar_one()
    return latest


def recent_auth_events(
    *,
    session: Session,
    limit: int = 100,
    user_id: uuid.UUID | None = None,
    without_kinds: Sequence[str] = (),
) -> list[AuthEvent]:
    query = select(AuthEvent)
    if user_id is not None:
        query = query.where(AuthEvent.user_id == user_id)
    if without_kinds:
        query = query.where(AuthEvent.kind.not_in(without_kinds))
    return list(session.scalars(query.order_by(AuthEvent.id.desc()).limit(limit)).all())


def create_password_reset(
    *,
    session: Session,
    user_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
    created_by: uuid.UUID | None,
) -> None:
    session.add(
        PasswordReset(
            token_hash=token_hash, user_id=user_id, expires_at=expires_at, created_by=created_by
        )
    )
    session.flush()


def take_password_reset(*, session: Session, token_hash: str, at: datetime) -> uuid.UUID | None:
    """Mark an unused, unexpired code as used and return its user (atomic: one use only)."""
    return session.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == token_hash,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > at,
        )
        .values(used_at=at)
        .returning(PasswordReset.user_id)
    )


def discard_password_resets(*, session: Session, user_id: uuid.UUID, at: datetime) -> None:
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=at)
    )


def get_app_setting(*, session: Session, key: str) -> Any:
    row = session.get(AppSetting, key)
    return None if row is None else row.value


def set_app_setting(*, session: Session, key: str, value: Any) -> None:
    statement = insert(AppSetting).values(key=key, value=value)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[AppSetting.key],
            set_={"value": statement.excluded.value, "updated_at": func.now()},
        )
    )
