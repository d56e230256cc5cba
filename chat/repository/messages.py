"""Messages: appending turns, settling them, the bounded reads the memory strategies use,
and the counts behind the per-user limits.

Part of chat.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    cast,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.models import (
    Message,
)
from chat.repository.conversations import get_conversation, touch_conversation
from chat.repository.processes import process_alive

# --- messages --------------------------------------------------------------------------


def next_position(*, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> int:
    """The next message position. The caller holds the conversation's row lock
    (get_conversation or get_conversation_and_owner with lock=True), so concurrent writers
    queue up instead of reading the same position."""
    last = session.scalar(
        select(Message.position)
        .where(Message.conversation_id == conversation_id, Message.user_id == user_id)
        .order_by(Message.position.desc())
        .limit(1)
    )
    return (last or 0) + 1


def add_message(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    role: str,
    content: str,
    token_count: int,
    status: str = "complete",
    message_id: uuid.UUID | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    """Append a message. If `message_id` already exists in this conversation, keep the
    stored row (idempotent: a retried save never duplicates)."""
    if message_id is not None:
        existing = session.scalar(
            select(Message).where(
                Message.id == message_id,
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
            )
        )
        if existing is not None:
            return existing
    get_conversation(session=session, user_id=user_id, conversation_id=conversation_id, lock=True)
    position = next_position(session=session, user_id=user_id, conversation_id=conversation_id)
    message = Message(
        id=message_id or uuid.uuid4(),
        conversation_id=conversation_id,
        user_id=user_id,
        position=position,
        role=role,
        content=content,
        status=status,
        token_count=token_count,
        meta=meta or {},
    )
    _append(session=session, user_id=user_id, conversation_id=conversation_id, rows=[message])
    return message


def append_pending_turn(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    question: str,
    question_tokens: int,
    reply_meta: dict[str, Any],
) -> tuple[Message, Message]:
    """A new turn's question and empty answer placeholder, both pending, at consecutive
    positions: one position read, one touch (this runs on every turn). The caller holds the
    conversation's lock (chat.turn_store.open_turn takes it with the turn's settings)."""
    position = next_position(session=session, user_id=user_id, conversation_id=conversation_id)
    rows = (
        Message(
            id=human_id,
            conversation_id=conversation_id,
            user_id=user_id,
            position=position,
            role="human",
            content=question,
            status="pending",
            token_count=question_tokens,
            meta={},
        ),
        Message(
            id=reply_id,
            conversation_id=conversation_id,
            user_id=user_id,
            position=position + 1,
            role="ai",
            content="",
            status="pending",
            token_count=0,
            meta=reply_meta,
        ),
    )
    _append(session=session, user_id=user_id, conversation_id=conversation_id, rows=rows)
    return rows


def _append(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, rows: Sequence[Message]
) -> None:
    """Write new rows and mark their conversation as active (the sidebar's order)."""
    session.add_all(rows)
    session.flush()
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)


def complete_pending_reply(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    content: str,
    token_count: int,
) -> bool:
    """Fill a pending AI placeholder with its final text. Rows already finalised
    (interrupted, error, complete) are left alone. Returns whether a row changed."""
    result = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            Message.role == "ai",
            Message.status == "pending",
        )
        .values(content=content, token_count=token_count, status="complete", updated_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_message(
    *,
    session: Session,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    status: str,
    content: str | None = None,
    token_count: int | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Final word of the turn service on a message: status, text the user saw, metadata."""
    values: dict[str, Any] = {"status": status, "updated_at": func.now()}
    if content is not None:
        values["content"] = content
    if token_count is not None:
        values["token_count"] = token_count
    if meta is not None:
        values["meta"] = Message.meta.op("||")(cast(meta, JSONB))
    result = session.execute(
        update(Message).where(Message.id == message_id, Message.user_id == user_id).values(**values)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("message not found")


def get_message(*, session: Session, user_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    message = session.scalar(
        select(Message).where(Message.id == message_id, Message.user_id == user_id)
    )
    if message is None:
        raise NotFound("message not found")
    return message


def recent_messages(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int,
    before_position: int | None = None,
) -> list[Message]:
    """The last `limit` messages (oldest first), read backwards along the position index."""
    query = select(Message).where(
        Message.conversation_id == conversation_id, Message.user_id == user_id
    )
    if before_position is not None:
        query = query.where(Message.position < before_position)
    rows = session.scalars(query.order_by(Message.position.desc()).limit(limit)).all()
    return list(reversed(rows))


def messages_from(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, start_position: int
) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.position >= start_position,
            )
            .order_by(Message.position)
        ).all()
    )


def nth_last_human_position(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, n: int
) -> int | None:
    """Position of the n-th most recent settled human message (window start), or None."""
    return session.scalar(
        select(Message.position)
        .where(
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            Message.role == "human",
            Message.status != "pending",
        )
        .order_by(Message.position.desc())
        .offset(n - 1)
        .limit(1)
    )


def count_messages(*, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id, Message.user_id == user_id)
        )
        or 0
    )


def settle_stale_turns(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, older_than: timedelta
) -> int:
    """Turns left pending by a process that is gone: the question stays, the answer is marked
    interrupted. An answer that names its process (meta `instance`, see chat/liveness.py) is
    abandoned as soon as that process's lock is free; any answer is abandoned once pending
    for longer than `older_than`. Returns how many rows changed."""
    cutoff = func.now() - older_than
    instance = Message.meta["instance"].astext
    abandoned = or_(
        Message.updated_at < cutoff,
        and_(instance.is_not(None), ~process_alive(cast(instance, BigInteger))),
    )
    scope = (
        Message.conversation_id == conversation_id,
        Message.user_id == user_id,
        Message.status == "pending",
    )
    questions_at = session.scalars(
        update(Message)
        .where(*scope, Message.role == "ai", abandoned)
        .values(status="interrupted", updated_at=func.now())
        .returning(Message.position - 1)
    ).all()
    if not questions_at:  # the usual case: one indexed look at the pending rows, no write
        return 0
    # A question and its answer are set pending together, so they are settled together.
    humans = session.execute(
        update(Message)
        .where(*scope, Message.role == "human", Message.position.in_(questions_at))
        .values(status="complete")
    )
    return len(questions_at) + int(humans.rowcount)  # type: ignore[attr-defined]


def messages_between(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    first_position: int,
    last_position: int,
    limit: int,
) -> list[Message]:
    """Messages with first_position <= position <= last_position, oldest first, at most
    `limit` (a range scan on the position index: summarisers read in bounded batches)."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.position >= first_position,
                Message.position <= last_position,
            )
            .order_by(Message.position)
            .limit(limit)
        ).all()
    )


def last_settled_position(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> int:
    """Position of the newest message that is not a turn still in flight (0 when none)."""
    return (
        session.scalar(
            select(Message.position)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.status != "pending",
            )
            .order_by(Message.position.desc())
            .limit(1)
        )
        or 0
    )


def count_human_messages_since(*, session: Session, user_id: uuid.UUID, since: datetime) -> int:
    query = select(func.count()).where(
        Message.user_id == user_id, Message.role == "human", Message.created_at >= since
    )
    return session.scalar(query) or 0


def tokens_since(*, session: Session, user_id: uuid.UUID, since: datetime) -> int:
    query = select(func.coalesce(func.sum(Message.token_count), 0)).where(
        Message.user_id == user_id, Message.created_at >= since
    )
    return int(session.scalar(query) or 0)
