"""The Recall strategy: the recent turns verbatim, plus the earlier messages most relevant
to the new input, within a token budget.

Relevance is PostgreSQL full-text search over the conversation's messages (the GIN index on
their text). With an embeddings model configured, vector similarity (pgvector) is fused
with it (chat/memory/vectors.py). Recalled messages keep their ids and say why they were
recalled (score, matched words), which the inspector shows.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, ClassVar

from langchain_core.messages import BaseMessage
from sqlalchemy.orm import Session

from chat.memory import vectors
from chat.memory.base import (
    ContextView,
    MemoryStrategy,
    ViewRequest,
    page_size,
    row_cost,
    tail_within,
    to_langchain,
)
from chat.storage import repository
from chat.storage.repository import RecalledRow, ViewRow


def pending_question(rows: list[ViewRow]) -> str:
    """The new input, when the caller did not pass it: the pending question among the
    newest rows (the turn stored it before reading the view)."""
    return next(
        (r.content for r in reversed(rows[-2:]) if r.role == "human" and r.status == "pending"),
        "",
    )


def recalled_messages(
    rows: list[RecalledRow], *, how: dict[uuid.UUID, str] | None = None
) -> list[BaseMessage]:
    """Recalled rows as LangChain messages, oldest first, marked with why they came (`how`:
    by full-text search, vector similarity or both; text when not said)."""
    messages = to_langchain(sorted(rows, key=lambda row: row.position))
    by_id = {str(row.id): row for row in rows}
    for message in messages:
        row = by_id[str(message.id)]
        message.response_metadata.update(
            {"recalled": True, "score": round(row.score, 4), "matched": list(row.matched)}
        )
        message.response_metadata["how"] = (how or {}).get(row.id, "text")
    return messages


class Recall(MemoryStrategy):
    name = "recall"
    label = "Recall (recent + relevant)"
    description = (
        "The recent turns verbatim, plus the earlier messages most relevant to the new input "
        "(full-text search; vector similarity too when embeddings are configured), within a "
        "token budget."
    )
    defaults: ClassVar[dict[str, Any]] = {
        "recent_tokens": 500,
        "recall_tokens": 600,
        "max_recalled": 8,
    }

    def prepare(self, request: ViewRequest) -> ViewRequest:
        return replace(request, question_vector=vectors.embed_question(request.question))

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        user_id, conversation_id = request.user_id, request.conversation_id
        recent_budget = int(self.params["recent_tokens"])
        newest = repository.recent_view_rows(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            limit=page_size(recent_budget),
        )
        question = request.question or pending_question(newest)
        recent = tail_within(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            budget=recent_budget,
            first_page=newest,
        )
        # Recall from before the recent turns (from everything, when none of them fit).
        start = recent[0].position if recent else (newest[-1].position + 1 if newest else 1)
        chosen, how = self.recall(session, request, question=question, before_position=start)
        messages = recalled_messages(chosen, how=how) + to_langchain(recent)
        return ContextView(
            messages=messages,
            omitted=max(0, start - 1 - len(chosen)),
        )

    def recall(
        self, session: Session, request: ViewRequest, *, question: str, before_position: int
    ) -> tuple[list[RecalledRow], dict[uuid.UUID, str]]:
        """The best matches before `before_position` that fit the recall budget, and how
        each was found (text, vector or both)."""
        if not question.strip() or before_position <= 1:
            return [], {}
        k = max(1, int(self.params["max_recalled"]))
        text = repository.recall_candidates(
            session=session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            question=question,
            before_position=before_position,
            limit=3 * k,
        )
        vector = vectors.similar(
            session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            vector=request.question_vector,
            before_position=before_position,
            limit=3 * k,
        )
        candidates = vectors.fuse(text, vector)
        how = {row.id: vectors.how_found(row.id, text, vector) for row in candidates}
        budget = int(self.params["recall_tokens"])
        chosen: list[RecalledRow] = []
        used = 0
        for row in candidates:
            if not row.content or used + row_cost(row) > budget:
                continue
            chosen.append(row)
            used += row_cost(row)
            if len(chosen) == k:
                break
        return chosen, how
