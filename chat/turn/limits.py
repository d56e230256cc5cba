"""Per-user limits checked before a message is stored: messages per minute and an
optional daily token quota. A refused message is not stored; the page offers the text back.

The counts come from the messages table itself (indexed by user and time), so the limits
hold across replicas and browser tabs without any extra state.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from chat.auth import audit
from chat.errors import LimitReached
from chat.settings import Settings
from chat.storage import repository


def check_limits(
    session: Session, settings: Settings, *, user_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Raise LimitReached when this user may not send another message right now. Nothing
    is counted for a limit that is off."""
    now = now or audit.utc_now()
    per_minute = settings.messages_per_minute
    if per_minute:
        sent = repository.questions_since(
            session=session, user_id=user_id, since=now - timedelta(minutes=1), cap=per_minute
        )
        if sent >= per_minute:
            raise LimitReached(
                f"You can send {per_minute} messages a minute. "
                "Wait a moment; your text was not sent and is kept below.",
                retry_after=60,
            )
    quota = settings.daily_token_quota
    if quota:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if repository.tokens_since(session=session, user_id=user_id, since=midnight) >= quota:
            raise LimitReached(
                f"You have used today's {quota:,} tokens. The quota "
                "resets at 00:00 UTC; your text was not sent and is kept below.",
                retry_after=int((midnight + timedelta(days=1) - now).total_seconds()) + 1,
            )
