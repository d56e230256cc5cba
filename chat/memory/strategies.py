"""Memory strategies: how a conversation's stored messages become the model's context.

The registry of the six strategies. The interface and the bounded reads are in
chat/memory/base.py, the two summary strategies in chat/memory/summaries.py, recall in
chat/memory/recall.py.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session

from chat.llm.tokens import MESSAGE_OVERHEAD_TOKENS, count_text_tokens
from chat.memory.base import (
    CONTEXT_STATUSES,
    ContextView,
    MemoryStrategy,
    ViewRequest,
    page_size,
    row_cost,
    tail_within,
    to_langchain,
)
from chat.memory.recall import Recall
from chat.memory.summaries import RunningSummary, SummaryBuffer
from chat.storage import repository

__all__ = [
    "CONTEXT_STATUSES",
    "STRATEGIES",
    "ContextView",
    "FullBuffer",
    "MemoryStrategy",
    "Recall",
    "RunningSummary",
    "SummaryBuffer",
    "TokenBudget",
    "ViewRequest",
    "Window",
    "strategy_for",
    "to_langchain",
]


class FullBuffer(MemoryStrategy):
    name = "full"
    label = "Full buffer"
    description = "Every stored message, however long the conversation grows."

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        user_id, conversation_id = request.user_id, request.conversation_id
        rows = repository.messages_from(
            session=session, user_id=user_id, conversation_id=conversation_id, start_position=1
        )
        return ContextView(messages=to_langchain(rows))


class Window(MemoryStrategy):
    name = "window"
    label = "Window (last k turns)"
    description = "The last k exchanges verbatim; anything older is forgotten."
    defaults: ClassVar[dict[str, Any]] = {"k": 10}

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        user_id, conversation_id = request.user_id, request.conversation_id
        rows = repository.last_turns(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            turns=max(1, int(self.params["k"])),
        )
        return ContextView(messages=to_langchain(rows), omitted=rows[0].position - 1 if rows else 0)


class TokenBudget(MemoryStrategy):
    name = "budget"
    label = "Token budget"
    description = (
        "The most recent messages that fit N tokens together with the system prompt and the "
        "new input, starting on a question (LangChain's trim_messages, strategy 'last')."
    )
    defaults: ClassVar[dict[str, Any]] = {"max_tokens": 1000}

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        user_id, conversation_id = request.user_id, request.conversation_id
        system_prompt = request.system_prompt
        budget = int(self.params["max_tokens"])
        # The newest page holds the pending question (this turn's input): it counts too.
        newest = repository.recent_view_rows(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            limit=page_size(budget),
        )
        pending = [row for row in newest[-2:] if row.role == "human" and row.status == "pending"]
        fixed = count_text_tokens(system_prompt) + MESSAGE_OVERHEAD_TOKENS
        fixed += sum(row_cost(row) for row in pending)
        rows = tail_within(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            budget=max(0, budget - fixed),
            first_page=newest,
        )
        start = rows[0].position if rows else (pending[0].position if pending else 1)
        return ContextView(messages=to_langchain(rows), omitted=start - 1)


STRATEGIES: dict[str, type[MemoryStrategy]] = {
    strategy.name: strategy
    for strategy in (FullBuffer, Window, TokenBudget, RunningSummary, SummaryBuffer, Recall)
}


def strategy_for(name: str, params: dict[str, Any] | None = None) -> MemoryStrategy:
    """The strategy called `name`; an unknown name (e.g. from an old row) falls back to window."""
    return STRATEGIES.get(name, Window)(params)
