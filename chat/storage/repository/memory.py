"""What the model received and remembered: context logs, summaries, token economics.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    Executable,
    Uuid,
    and_,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chat.storage.tables import (
    ContextLog,
    Conversation,
    Message,
    Summary,
    SummaryVersion,
)

# --- context logs and summaries --------------------------------------------------------


def context_logs(
    *, session: Session, user_id: uuid.UUID, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ContextLog]:
    if not message_ids:
        return {}
    rows = session.scalars(
        select(ContextLog).where(
            ContextLog.user_id == user_id, ContextLog.message_id.in_(list(message_ids))
        )
    ).all()
    return {row.message_id: row for row in rows}


def get_summary(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, strategy: str
) -> Summary | None:
    return session.scalar(
        select(Summary).where(
            Summary.conversation_id == conversation_id,
            Summary.user_id == user_id,
            Summary.strategy == strategy,
        )
    )


class SummaryState(Protocol):
    """What a summary strategy's view needs of its summary row."""

    @property
    def content(self) -> str: ...
    @property
    def covers_position(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def version(self) -> int: ...


def summary_and_last_settled(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, strategy: str
) -> tuple[SummaryState | None, int]:
    """The strategy's summary (None when there is none yet) and the position of the newest
    settled message (0 when none), in one statement: a summary strategy's view reads it on
    every turn."""
    row = session.execute(
        _summary_state_statement(),
        {"owner": user_id, "conversation": conversation_id, "strategy": strategy},
    ).first()
    if row is None:
        return None, 0
    summary: SummaryState | None = row if row.covers_position is not None else None
    return summary, int(row.last_settled)


@functools.cache
def _summary_state_statement() -> Executable:
    # Built once, values bound per call.
    owner = bindparam("owner", type_=Uuid())
    conversation = bindparam("conversation", type_=Uuid())
    last = (
        select(Message.position)
        .where(
            Message.conversation_id == conversation,
            Message.user_id == owner,
            Message.status != "pending",
        )
        .order_by(Message.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Summary.content,
            Summary.covers_position,
            Summary.status,
            Summary.version,
            func.coalesce(last, 0).label("last_settled"),
        )
        .select_from(Conversation)
        .outerjoin(
            Summary,
            and_(
                Summary.conversation_id == Conversation.id,
                Summary.user_id == owner,
                Summary.strategy == bindparam("strategy"),
            ),
        )
        .where(Conversation.id == conversation, Conversation.user_id == owner)
    )


def save_summary(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    strategy: str,
    content: str,
    covers_position: int,
    token_count: int,
) -> None:
    """Store a newer summary, as its next version. The watermark only moves forward: a
    slower concurrent summariser that finishes last cannot replace a summary covering more
    messages."""
    statement = insert(Summary).values(
        conversation_id=conversation_id,
        strategy=strategy,
        user_id=user_id,
        content=content,
        covers_position=covers_position,
        token_count=token_count,
        status="ok",
        version=1,
    )
    version = session.execute(
        statement.on_conflict_do_update(
            index_elements=[Summary.conversation_id, Summary.strategy],
            set_={
                "content": statement.excluded.content,
                "covers_position": statement.excluded.covers_position,
                "token_count": statement.excluded.token_count,
                "status": "ok",
                "version": Summary.version + 1,
                "updated_at": func.now(),
            },
            where=(Summary.covers_position < statement.excluded.covers_position)
            & (Summary.user_id == user_id),
        ).returning(Summary.version)
    ).scalar()
    if version is not None:
        session.add(
            SummaryVersion(
                conversation_id=conversation_id,
                strategy=strategy,
                version=version,
                user_id=user_id,
                content=content,
                covers_position=covers_position,
            )
        )
        session.flush()


def summary_versions(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    wanted: set[tuple[str, int]],
) -> dict[tuple[str, int], str]:
    """The texts of the named (strategy, version) summaries of the user's conversation."""
    if not wanted:
        return {}
    rows = session.execute(
        select(SummaryVersion.strategy, SummaryVersion.version, SummaryVersion.content).where(
            SummaryVersion.conversation_id == conversation_id,
            SummaryVersion.user_id == user_id,
            tuple_(SummaryVersion.strategy, SummaryVersion.version).in_(list(wanted)),
        )
    ).all()
    return {(row.strategy, row.version): row.content for row in rows}


def mark_summary_failed(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, strategy: str
) -> None:
    """The summariser failed: keep the previous summary and watermark, flag the row."""
    statement = insert(Summary).values(
        conversation_id=conversation_id,
        strategy=strategy,
        user_id=user_id,
        content="",
        covers_position=0,
        token_count=0,
        status="failed",
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Summary.conversation_id, Summary.strategy],
            set_={"status": "failed", "updated_at": func.now()},
            where=Summary.user_id == user_id,
        )
    )


@dataclass(frozen=True)
class AnswerEconomics:
    """One answer's tokens: what the context log measured and what the provider reported."""

    position: int
    strategy: str
    context_tokens: int
    meta: dict[str, Any]


def answer_economics(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, limit: int
) -> list[AnswerEconomics]:
    """The last `limit` answers that have a context log, oldest first."""
    rows = session.execute(
        select(
            Message.position,
            ContextLog.strategy,
            ContextLog.payload["total_tokens"].as_integer(),
            Message.meta,
        )
        .join(ContextLog, ContextLog.message_id == Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            ContextLog.user_id == user_id,
            Message.role == "ai",
        )
        .order_by(Message.position.desc())
        .limit(limit)
    ).all()
    return [
        AnswerEconomics(position=p, strategy=s, context_tokens=t or 0, meta=dict(m or {}))
        for p, s, t, m in reversed(rows)
    ]
