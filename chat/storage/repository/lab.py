"""The memory lab's scratch users: created for one replay, deleted after it.

Part of chat.storage.repository (see its docstring). Deletes only ever touch users of the
lab's own role, which no real account has.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, func
from sqlalchemy.orm import Session

from chat.storage.tables import User

__all__ = [
    "delete_scratch_user",
    "delete_stale_scratch_users",
]


def delete_scratch_user(*, session: Session, user_id: uuid.UUID, role: str) -> None:
    """A replay's scratch user and everything it stored (cascade)."""
    session.execute(delete(User).where(User.id == user_id, User.role == role))


def delete_stale_scratch_users(*, session: Session, role: str, older_than_s: float) -> int:
    """Scratch users a replay left behind (its process died mid-replay)."""
    result = session.execute(
        delete(User).where(
            User.role == role, User.created_at < func.now() - timedelta(seconds=older_than_s)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
