"""User preferences (chat/auth/preferences.py): one row per user, by primary key.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chat.storage.tables import UserPreferences

__all__ = ["delete_preferences", "get_preferences", "save_preferences"]


def get_preferences(*, session: Session, user_id: uuid.UUID) -> UserPreferences | None:
    """The user's row, or None when they never saved any (every default)."""
    return session.get(UserPreferences, user_id)


def save_preferences(
    *,
    session: Session,
    user_id: uuid.UUID,
    theme: str | None = None,
    show_answer_details: bool | None = None,
    default_model: str | None = None,
    default_persona: str | None = None,
) -> None:
    """Create or update the user's row; a value left None keeps what is stored (or the
    column's default for a new row)."""
    values = {
        name: value
        for name, value in (
            ("theme", theme),
            ("show_answer_details", show_answer_details),
            ("default_model", default_model),
            ("default_persona", default_persona),
        )
        if value is not None
    }
    statement = insert(UserPreferences).values(user_id=user_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[UserPreferences.user_id],
            set_={**{name: statement.excluded[name] for name in values}, "updated_at": func.now()},
        )
    )


def delete_preferences(*, session: Session, user_id: uuid.UUID) -> None:
    session.execute(delete(UserPreferences).where(UserPreferences.user_id == user_id))
