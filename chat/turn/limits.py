"""Per-user limits checked before a message is stored: messages per minute and an
optional daily token quota. A refused message is not stored; the page offers the text back.

The counts come from the messages table itself (indexed by user and time), so the limits
hold across replicas and browser tabs without any extra state. They are read by the
statement that opens the turn (chat.storage.repository.open_new_turn), in the transaction that
would store the message; this module says which counts to take and what they allow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chat.auth import audit
from chat.errors import LimitReached
from chat.settings import Settings
from chat.storage.repository import OpenedConversation


def usage_to_count(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """The arguments of repository.open_new_turn that count what the limits need:
    questions in the last minute (up to the limit: more would not change the answer) and
    tokens since midnight UTC. Nothing is counted for a limit that is off."""
    now = now or audit.utc_now()
    counts: dict[str, Any] = {}
    if settings.messages_per_minute:
        counts["sent_since"] = now - timedelta(minutes=1)
        counts["sent_cap"] = settings.messages_per_minute
    if settings.daily_token_quota:
        counts["tokens_from"] = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return counts


def check_limits(settings: Settings, usage: OpenedConversation) -> None:
    """Raise LimitReached when this user may not send another message right now."""
    if settings.messages_per_minute and usage.sent_recently >= settings.messages_per_minute:
        raise LimitReached(
            f"You can send {settings.messages_per_minute} messages a minute. "
            "Wait a moment; your text was not sent and is kept below."
        )
    if settings.daily_token_quota and usage.tokens_used >= settings.daily_token_quota:
        raise LimitReached(
            f"You have used today's {settings.daily_token_quota:,} tokens. The quota "
            "resets at 00:00 UTC; your text was not sent and is kept below."
        )
