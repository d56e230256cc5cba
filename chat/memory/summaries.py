"""The summary strategies: a persisted running summary with a watermark.

The summary lives in the `summaries` table per conversation and strategy, with the last
message position it covers. It is updated after the answer has streamed (`after_turn`),
never before the first token, and never replaces a stored message.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import SummaryFailed
from chat.llm.tokens import count_text_tokens
from chat.memory.base import ContextView, MemoryStrategy, ViewRequest, tail_within, to_langchain
from chat.memory.summariser import summarise
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.repository import SummaryState, ViewRow

log = logging.getLogger(__name__)


def summary_text(content: str) -> str:
    """How a summary is put before the model (and shown by the inspector)."""
    return f"Summary of the earlier conversation:\n{content}"


class _Summarised(MemoryStrategy):
    """Shared by the summary strategies: a persisted summary with a watermark (the last
    position it covers). Messages past the watermark that the summary has not absorbed yet
    (a summariser failed, or the strategy was just picked) are sent verbatim, newest first
    up to `catch_up_tokens`, so a failure loses nothing while the next turn retries."""

    stateful = True
    catch_up_tokens: ClassVar[int] = 2000
    fold_batch: ClassVar[int] = 200

    def _summary_message(self, content: str, covers: int, version: int) -> SystemMessage:
        return SystemMessage(
            summary_text(content),
            id=f"summary-{self.name}",
            response_metadata={
                "covers_position": covers,
                "strategy": self.name,
                "version": version,
            },
        )

    def _view(
        self,
        *,
        session: Session,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        summary: SummaryState | None,
        buffer: list[ViewRow],
        buffer_start: int,
    ) -> ContextView:
        covers = summary.covers_position if summary else 0
        gap: list[ViewRow] = []
        if covers + 1 < buffer_start:
            gap = tail_within(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                budget=self.catch_up_tokens,
                after_position=covers,
                before_position=buffer_start,
            )
        verbatim = [row for row in gap + buffer if row.position > covers]
        messages: list[BaseMessage] = []
        if summary is not None and summary.content:
            messages.append(self._summary_message(summary.content, covers, summary.version))
        messages += to_langchain(verbatim)
        first = verbatim[0].position if verbatim else buffer_start
        return ContextView(
            messages=messages,
            omitted=max(0, first - 1 - covers),
            summary=summary.content if summary else None,
        )

    def _summary(self, session: Session, request: ViewRequest) -> tuple[SummaryState | None, int]:
        """This strategy's summary and the newest settled position, in one read."""
        return repository.summary_and_last_settled(
            session=session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            strategy=self.name,
        )

    def _fold_until(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> int:
        """The last position the summary should cover after this turn."""
        raise NotImplementedError

    def after_turn(
        self,
        *,
        sessions: sessionmaker[Session],
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        model: BaseChatModel,
    ) -> None:
        """Fold what the summary does not cover yet, in bounded batches. No connection is
        held while the summariser runs; on failure the row is flagged and SummaryFailed
        raised, and the next turn starts again from the same watermark."""
        while True:
            with unit_of_work(sessions) as session:
                summary = repository.get_summary(
                    session=session,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    strategy=self.name,
                )
                covers = summary.covers_position if summary else 0
                previous = summary.content if summary else ""
                target = self._fold_until(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                rows = repository.messages_between(
                    session=session,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    first_position=covers + 1,
                    last_position=target,
                    limit=self.fold_batch,
                )
            if not rows:
                return
            try:
                content = summarise(model, previous, to_langchain(rows))
            except Exception as exc:
                log.exception("summariser failed")
                with unit_of_work(sessions) as session:
                    repository.mark_summary_failed(
                        session=session,
                        user_id=user_id,
                        conversation_id=conversation_id,
                        strategy=self.name,
                    )
                raise SummaryFailed() from exc
            with unit_of_work(sessions) as session:
                repository.save_summary(
                    session=session,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    strategy=self.name,
                    content=content,
                    covers_position=rows[-1].position,
                    token_count=count_text_tokens(content),
                )
            if len(rows) < self.fold_batch:
                return


class RunningSummary(_Summarised):
    name = "summary"
    label = "Running summary"
    description = "A summary of everything so far, updated after each answer, plus the new input."

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        summary, end = self._summary(session, request)
        return self._view(
            session=session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            summary=summary,
            buffer=[],
            buffer_start=end + 1,
        )

    def _fold_until(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> int:
        return repository.last_settled_position(
            session=session, user_id=user_id, conversation_id=conversation_id
        )


class SummaryBuffer(_Summarised):
    name = "summary_buffer"
    label = "Summary + buffer"
    description = (
        "Recent messages verbatim up to a token limit; everything older folded into a summary."
    )
    defaults: ClassVar[dict[str, Any]] = {"max_tokens": 600}

    def _buffer(
        self,
        *,
        session: Session,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        last_settled: int | None = None,
    ) -> tuple[list[ViewRow], int]:
        rows = tail_within(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            budget=int(self.params["max_tokens"]),
        )
        if rows:
            return rows, rows[0].position
        if last_settled is None:
            last_settled = repository.last_settled_position(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
        return rows, last_settled + 1

    def load(self, session: Session, request: ViewRequest) -> ContextView:
        summary, last_settled = self._summary(session, request)
        buffer, start = self._buffer(
            session=session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            last_settled=last_settled,
        )
        return self._view(
            session=session,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            summary=summary,
            buffer=buffer,
            buffer_start=start,
        )

    def _fold_until(
        self, *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> int:
        _, start = self._buffer(session=session, user_id=user_id, conversation_id=conversation_id)
        return start - 1
