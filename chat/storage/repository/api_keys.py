"""API keys (chat/auth/api_keys.py): stored by hash, listed and revoked by their owner.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import ApiKey, User

__all__ = ["add_api_key", "find_api_key", "list_api_keys", "revoke_api_key", "touch_api_key"]


def add_api_key(
    *, session: Session, user_id: uuid.UUID, name: str, key_hash: str, prefix: str
) -> ApiKey:
    key = ApiKey(id=uuid.uuid4(), user_id=user_id, name=name, key_hash=key_hash, prefix=prefix)
    session.add(key)
    session.flush()
    return key


def find_api_key(*, session: Session, key_hash: str) -> tuple[ApiKey, User] | None:
    """The key with this hash and its owner, revoked or not (the caller decides). The only
    lookup not scoped by user: the key is how the user is found."""
    row = session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == key_hash)
    ).first()
    return (row[0], row[1]) if row is not None else None


def list_api_keys(*, session: Session, user_id: uuid.UUID) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())
    ).all()


def revoke_api_key(*, session: Session, user_id: uuid.UUID, key_id: uuid.UUID, at: datetime) -> str:
    """Revoke the user's key (again is a no-op); returns its name. NotFound if not theirs."""
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if key is None:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = at
        session.flush()
    return key.name


def touch_api_key(*, session: Session, user_id: uuid.UUID, key_id: uuid.UUID, at: datetime) -> None:
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id).values(last_used_at=at)
    )
