"""Per-user limits checked before a message is stored: messages per minute and an
optional daily token quota. A refused message is not stored; the page offers the text back.

The counts come from the messages table itself (indexed by user and time), so the limits
hold across replicas and browser tabs without any extra state.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from chat import audit, repository
from chat.errors import LimitReached
from chat.settings import Settings


def check_limits(
    session: Session,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Raise LimitReached when this user may not send another message right now. Runs in
    the transaction that would store the message (chat.turn_store.open_turn)."""
    if not settings.messages_per_minute and not settings.daily_token_quota:
        return
    now = now or audit.utc_now()
    if settings.messages_per_minute:
        sent = repository.count_human_messages_since(
            session=session, user_id=user_id, since=now - timedelta(minutes=1)
        )
        if sent >= settings.messages_per_minute:
            raise LimitReached(
                f"You can send {settings.messages_per_minute} messages a minute. "
                "Wait a moment; your text was not sent and is kept below."
            )
    if settings.daily_token_quota:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        used = repository.tokens_since(session=session, user_id=user_id, since=midnight)
        if used >= settings.daily_token_quota:
            raise LimitReached(
                f"You have used today's {settings.daily_token_quota:,} tokens. The quota "
                "resets at 00:00 UTC; your text was not sent and is kept below."
            )
