"""Memory strategies: how a conversation's stored messages become the model's context.

A strategy is a small object with one job per phase of a turn: `load` reads the context
with a bounded, indexed query (before the model is called), `after_turn` updates its own
state (after the answer has streamed). Strategy and parameters live on the conversation and
can change at any turn: stored messages are never rewritten, the next turn reads a new view.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat import repository
from chat.models import Message

# Rows that are part of what the model may see: not a turn still in flight, not a failure.
CONTEXT_STATUSES = frozenset({"complete", "interrupted"})


@dataclass(frozen=True)
class ContextView:
    """What a strategy hands the model ahead of the new input."""

    messages: list[BaseMessage]
    omitted: int = 0  # stored messages before the view that the model will not see
    summary: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def to_langchain(rows: Iterable[Message]) -> list[BaseMessage]:
    """Stored rows as LangChain messages, keeping our ids so a context can be traced back."""
    out: list[BaseMessage] = []
    for row in rows:
        if row.status not in CONTEXT_STATUSES or not row.content:
            continue
        meta = {"position": row.position, "token_count": row.token_count}
        if row.role == "human":
            out.append(HumanMessage(row.content, id=str(row.id), response_metadata=meta))
        elif row.role == "ai":
            out.append(AIMessage(row.content, id=str(row.id), response_metadata=meta))
        else:
            out.append(SystemMessage(row.content, id=str(row.id), response_metadata=meta))
    return out


class MemoryStrategy(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {**self.defaults, **(params or {})}

    @abstractmethod
    def load(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> ContextView:
        """Read the context with a bounded query."""

    def after_turn(  # noqa: B027 (optional hook: stateless strategies keep the default)
        self,
        *,
        sessions: sessionmaker[Session],
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        model: BaseChatModel,
    ) -> None:
        """Update the strategy's own state once the answer is stored. Stateless by default."""


class FullBuffer(MemoryStrategy):
    name = "full"
    label = "Full buffer"
    description = "Every stored message, however long the conversation grows."

    def load(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> ContextView:
        rows = repository.messages_from(
            session=session, user_id=user_id, conversation_id=conversation_id, start_position=1
        )
        return ContextView(messages=to_langchain(rows))


class Window(MemoryStrategy):
    name = "window"
    label = "Window (last k turns)"
    description = "The last k exchanges verbatim; anything older is forgotten."
    defaults: ClassVar[dict[str, Any]] = {"k": 10}

    def load(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> ContextView:
        k = max(1, int(self.params["k"]))
        start = repository.nth_last_human_position(
            session=session, user_id=user_id, conversation_id=conversation_id, n=k
        )
        if start is None:  # fewer than k turns so far: everything
            start = 1
        rows = repository.messages_from(
            session=session, user_id=user_id, conversation_id=conversation_id, start_position=start
        )
        return ContextView(messages=to_langchain(rows), omitted=start - 1)


STRATEGIES: dict[str, type[MemoryStrategy]] = {
    strategy.name: strategy for strategy in (FullBuffer, Window)
}


def strategy_for(name: str, params: dict[str, Any] | None = None) -> MemoryStrategy:
    """The strategy called `name`; an unknown name (e.g. from an old row) falls back to window."""
    return STRATEGIES.get(name, Window)(params)
