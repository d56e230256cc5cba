"""The memory-strategy interface and the bounded reads every strategy is built from.

A strategy is a small object with one job per phase of a turn: `load` reads the context
with a bounded, indexed query (before the model is called), `after_turn` updates its own
state (after the answer has streamed). Strategy and parameters live on the conversation and
can change at any turn: stored messages are never rewritten, the next turn reads a new view.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.tokens import stored_message_tokens
from chat.storage import repository
from chat.storage.repository import ViewRow

# Rows that are part of what the model may see: not a turn still in flight, not a failure.
CONTEXT_STATUSES = frozenset({"complete", "interrupted"})


@dataclass(frozen=True)
class ViewRequest:
    """What a strategy reads one turn's view for: whose conversation, the system prompt
    the turn sends (budgets count it) and the new input (strategies may look things up by
    it). The input itself is never part of the view."""

    user_id: uuid.UUID
    conversation_id: uuid.UUID
    system_prompt: str = ""
    question: str = ""
    question_vector: tuple[float, ...] | None = None  # its embedding, when recall uses one


@dataclass(frozen=True)
class ContextView:
    """What a strategy hands the model ahead of the new input."""

    messages: list[BaseMessage]
    omitted: int = 0  # stored messages before the view that the model will not see
    summary: str | None = None


def to_langchain(rows: Iterable[ViewRow]) -> list[BaseMessage]:
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
    stateful: ClassVar[bool] = False  # True when after_turn keeps state (a summary)

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {**self.defaults, **(params or {})}

    def prepare(self, request: ViewRequest) -> ViewRequest:
        """What the strategy needs from outside the database before its read (an
        embedding of the question), fetched with no connection held. Nothing by default."""
        return request

    @abstractmethod
    def load(self, session: Session, request: ViewRequest) -> ContextView:
        """Read the context for `request` with bounded queries."""

    def after_turn(  # noqa: B027 (optional hook: stateless strategies keep the default)
        self,
        *,
        sessions: sessionmaker[Session],
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        model: BaseChatModel,
    ) -> None:
        """Update the strategy's own state once the answer is stored. Stateless by default."""


def page_size(budget: int) -> int:
    """Rows read per step when walking back from the newest message for `budget` tokens:
    what the budget holds in messages of a few words (10 tokens, the per-message overhead
    included), so a view takes one read unless its messages are shorter still; a round
    trip costs more than the rows it would spare."""
    return max(32, budget // 10)


def row_cost(row: ViewRow) -> int:
    """What a stored message costs in the prompt, from its stored count (no re-tokenising)."""
    return stored_message_tokens(row.token_count)


def tail_within(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    budget: int,
    after_position: int = 0,
    before_position: int | None = None,
    first_page: list[ViewRow] | None = None,
) -> list[ViewRow]:
    """The newest settled messages (between the two positions, exclusive) whose cost fits
    `budget`, contiguous, starting on a human message. Reads backwards in pages of
    page_size(budget); `first_page`: the newest page, when the caller has read it already
    (recent_view_rows with that limit and `before_position`)."""
    kept: list[ViewRow] = []
    used = 0
    before = before_position
    limit = page_size(budget)
    while True:
        page = first_page
        first_page = None
        if page is None:
            page = repository.recent_view_rows(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                limit=limit,
                before_position=before,
            )
        done = len(page) < limit  # the oldest page: nothing before it
        older = page[0].position if page else 0
        page = [row for row in page if row.position > after_position]
        for row in reversed(page):
            if row.status not in CONTEXT_STATUSES or not row.content:
                continue
            if used + row_cost(row) > budget:
                done = True
                break
            used += row_cost(row)
            kept.append(row)
        if done or older <= after_position + 1:
            break
        before = older
    kept.reverse()
    while kept and kept[0].role != "human":  # start on a human message
        kept.pop(0)
    return kept
