"""Reading and managing a user's conversations (everything but running a turn)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat import repository
from chat.db import unit_of_work
from chat.errors import InvalidInput
from chat.memory import STRATEGIES
from chat.repository import ConversationSummary
from chat.validation import validate_title

# How long a pending answer may look "in progress" before it is shown as interrupted.
PENDING_GRACE_SECONDS = 600


@dataclass(frozen=True)
class StoredMessage:
    id: uuid.UUID
    position: int
    role: str
    content: str
    status: str
    token_count: int
    meta: dict[str, Any]
    created_at: datetime
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConversationView:
    id: uuid.UUID
    title: str
    model: str
    system_prompt: str
    memory_strategy: str
    memory_params: dict[str, Any]
    messages: list[StoredMessage] = field(default_factory=list)
    earlier: int = 0  # stored messages before the first one shown


@dataclass(frozen=True)
class SummaryState:
    """The summary a summary strategy keeps, for the sidebar."""

    strategy: str
    content: str
    covers_position: int
    token_count: int
    status: str  # ok | failed (kept as it was; retried after the next answer)


class ConversationService:
    def __init__(self, *, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def list(
        self, *, user_id: uuid.UUID, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        with unit_of_work(self.sessions) as session:
            return repository.list_conversations(
                session=session, user_id=user_id, limit=limit, offset=offset
            )

    def open(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, limit: int = 200
    ) -> ConversationView:
        """The conversation with its most recent `limit` messages and their context logs.
        NotFound when it is not this user's."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            rows = repository.recent_messages(
                session=session, user_id=user_id, conversation_id=conversation_id, limit=limit
            )
            logs = repository.context_logs(
                session=session,
                user_id=user_id,
                message_ids=[row.id for row in rows if row.role == "ai"],
            )
            messages = [
                StoredMessage(
                    id=row.id,
                    position=row.position,
                    role=row.role,
                    content=row.content,
                    status=row.status,
                    token_count=row.token_count,
                    meta=dict(row.meta or {}),
                    created_at=row.created_at,
                    context=dict(logs[row.id].payload) if row.id in logs else None,
                )
                for row in rows
            ]
            return ConversationView(
                id=conversation.id,
                title=conversation.title,
                model=conversation.model,
                system_prompt=conversation.system_prompt,
                memory_strategy=conversation.memory_strategy,
                memory_params=dict(conversation.memory_params or {}),
                messages=messages,
                earlier=(rows[0].position - 1) if rows else 0,
            )

    def rename(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str) -> None:
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                title=validate_title(title),
            )

    def set_memory(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        strategy: str,
        params: dict[str, Any],
    ) -> None:
        """Switch the strategy for the next turn; stored messages are left untouched."""
        if strategy not in STRATEGIES:
            raise InvalidInput(f"Unknown memory strategy {strategy!r}.")
        merged = {**STRATEGIES[strategy].defaults, **params}
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                memory_strategy=strategy,
                memory_params=merged,
            )

    def summary_state(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> SummaryState | None:
        """The current strategy's summary, or None when it keeps none (yet)."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            row = repository.get_summary(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                strategy=conversation.memory_strategy,
            )
            if row is None:
                return None
            return SummaryState(
                strategy=row.strategy,
                content=row.content,
                covers_position=row.covers_position,
                token_count=row.token_count,
                status=row.status,
            )
