"""The statements of a turn: open it, save the answer as it streams, settle it.

Plain statements, one step each; the turn store (chat/turn/store.py) runs them in short
units of work, never while waiting for the model.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import ContextLog, Message

__all__ = [
    "has_pending_turn",
    "insert_turn_rows",
    "questions_since",
    "request_stop",
    "save_partial_answer",
    "settle_turn_rows",
    "tokens_since",
    "upsert_context_log",
]


def questions_since(*, session: Session, user_id: uuid.UUID, since: datetime, cap: int) -> int:
    """How many questions the user sent since `since`, counted up to `cap` (enough to
    decide a limit, bounded whatever the user sent)."""
    recent = (
        select(Message.id)
        .where(Message.user_id == user_id, Message.role == "human", Message.created_at >= since)
        .order_by(Message.created_at.desc())
        .limit(cap)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(recent)) or 0


def tokens_since(*, session: Session, user_id: uuid.UUID, since: datetime) -> int:
    """The user's tokens (questions and answers) since `since`."""
    return (
        session.scalar(
            select(func.coalesce(func.sum(Message.token_count), 0)).where(
                Message.user_id == user_id, Message.created_at >= since
            )
        )
        or 0
    )


def has_pending_turn(*, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
    """Whether an answer of this conversation is still in flight."""
    return bool(
        session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.status == "pending",
            )
            .limit(1)
        )
    )


def insert_turn_rows(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    position: int,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    question: str,
    question_tokens: int,
    reply_meta: dict[str, Any],
) -> None:
    """The question and its empty answer, both pending, at `position` and the next one.
    The caller holds the conversation's lock (get_conversation with lock=True)."""
    session.add_all(
        [
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
        ]
    )
    session.flush()


def save_partial_answer(
    *, session: Session, user_id: uuid.UUID, reply_id: uuid.UUID, attempt: str, text: str
) -> bool:
    """Store the text of an answer still streaming (this `attempt` of it). Returns whether
    a stop was asked for it (request_stop, from any process)."""
    asked = session.execute(
        update(Message)
        .where(
            Message.id == reply_id,
            Message.user_id == user_id,
            Message.status == "pending",
            Message.meta["attempt"].astext == attempt,
        )
        .values(content=text, updated_at=func.now())
        .returning(Message.meta["stop_requested"].astext)
    ).scalar()
    return asked == "true"


def request_stop(*, session: Session, user_id: uuid.UUID, reply_id: uuid.UUID) -> bool:
    """Ask whichever process streams this answer to stop it (it reads the flag when it next
    saves the text). Returns whether the answer was still in flight."""
    changed = session.execute(
        update(Message)
        .where(Message.id == reply_id, Message.user_id == user_id, Message.status == "pending")
        .values(meta=Message.meta.op("||")(cast({"stop_requested": True}, JSONB)))
        .returning(Message.id)
    ).scalar()
    return changed is not None


def settle_turn_rows(
    *,
    session: Session,
    user_id: uuid.UUID,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    attempt: str,
    status: str,
    text: str,
    token_count: int,
    meta: dict[str, Any],
    only_if_pending: bool = False,
) -> None:
    """The turn's last word: the answer's status, text and metadata (merged into what it
    had), then the question complete. Only this `attempt` of the answer is written (and,
    with `only_if_pending`, only while it is pending). NotFound when the answer is not the
    user's or not this attempt's (or has ended, with `only_if_pending`)."""
    reply = [
        Message.id == reply_id,
        Message.user_id == user_id,
        Message.meta["attempt"].astext == attempt,
    ]
    if only_if_pending:
        reply.append(Message.status == "pending")
    found = session.execute(
        update(Message)
        .where(*reply)
        .values(
            status=status,
            content=text,
            token_count=token_count,
            meta=Message.meta.op("||")(cast(meta, JSONB)),
            updated_at=func.now(),
        )
        .returning(Message.id)
    ).scalar()
    if found is None:
        raise NotFound("message not found")
    session.execute(
        update(Message)
        .where(Message.id == human_id, Message.user_id == user_id)
        .values(status="complete", updated_at=func.now())
    )


def upsert_context_log(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    strategy: str,
    payload: dict[str, Any],
) -> None:
    """What the model received for an answer (replacing an earlier attempt's)."""
    statement = insert(ContextLog).values(
        message_id=message_id,
        conversation_id=conversation_id,
        user_id=user_id,
        strategy=strategy,
        payload=payload,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ContextLog.message_id],
            set_={"strategy": statement.excluded.strategy, "payload": statement.excluded.payload},
        )
    )
