"""The statements of a turn's hot path: few round trips, each doing a whole step.

Every turn runs these (chat/turn_store.py), so each step is one statement where the
database can do it in one: opening a turn locks, touches and reads the conversation with
the counts the limits need; the question and its placeholder go in with one INSERT; the
turn's last word on both rows and its context log is one statement. Each statement is built
once, with bound parameters (building one costs more than running it), and runs on the unit
of work's connection as Core: nothing here needs the ORM's identity map.

Part of chat.repository (see its docstring).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    String,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.models import ContextLog, Conversation, Message, User

__all__ = ["OpenedConversation", "finish_turn_rows", "insert_pending_turn", "open_conversation"]


@dataclass(frozen=True)
class OpenedConversation:
    """A conversation as a new turn finds it, with what the limits and the settling need."""

    title: str
    model: str
    temperature: float | None
    system_prompt: str
    memory_strategy: str
    memory_params: dict[str, Any]
    display_name: str
    profile: dict[str, Any]
    has_pending: bool  # some turn of it is in flight, or was left so by a dead process
    sent_recently: int  # the user's questions since `sent_since` (at most `sent_cap`)
    tokens_used: int  # the user's tokens since `tokens_from` (0 when not asked)


def open_conversation(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    sent_since: datetime | None = None,
    sent_cap: int = 0,
    tokens_from: datetime | None = None,
) -> OpenedConversation:
    """Lock the user's conversation for a new turn and mark it as just used (the sidebar's
    order), returning its settings, its owner's profile and the user's recent usage. The
    row stays locked until the transaction ends, so positions read afterwards are final.

    Counts are taken only when asked: questions since `sent_since`, counted up to
    `sent_cap` (enough to decide a limit, bounded whatever the user sent), and tokens since
    `tokens_from`. NotFound when the conversation is not the user's."""
    statement = _open_statement(sent_since is not None, tokens_from is not None)
    row = (
        session.connection()
        .execute(
            statement,
            {
                "owner": user_id,
                "conversation": conversation_id,
                "sent_since": sent_since,
                "sent_cap": sent_cap,
                "tokens_from": tokens_from,
            },
        )
        .first()
    )
    if row is None:
        raise NotFound()
    return OpenedConversation(*row)


def insert_pending_turn(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    question: str,
    question_tokens: int,
    reply_meta: dict[str, Any],
) -> int:
    """A new turn's question and empty answer, both pending, at the next two positions,
    in one statement; returns the question's position. The caller holds the conversation's
    lock (open_conversation), so the last position this statement reads is final."""
    positions = (
        session.connection()
        .execute(
            _insert_turn_statement(),
            {
                "owner": user_id,
                "conversation": conversation_id,
                "human_id": human_id,
                "reply_id": reply_id,
                "question": question,
                "question_tokens": question_tokens,
                "reply_meta": reply_meta,
            },
        )
        .scalars()
        .all()
    )
    return min(positions)


def finish_turn_rows(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    status: str,
    text: str,
    token_count: int,
    meta: dict[str, Any],
    strategy: str,
    context: dict[str, Any] | None,
) -> None:
    """The turn service's last word, in one statement: the question settled, the answer's
    status, text and metadata (merged into what it had), and the context log of what the
    model received (replacing an earlier attempt's). NotFound when a row is not the user's."""
    found = (
        session.connection()
        .execute(
            _finish_statement(context is not None),
            {
                "owner": user_id,
                "conversation": conversation_id,
                "human_id": human_id,
                "reply_id": reply_id,
                "new_status": status,
                "new_text": text,
                "new_tokens": token_count,
                "new_meta": meta,
                "strategy": strategy,
                "context": context,
            },
        )
        .one()
    )
    if not all(found):
        raise NotFound("message not found")


# --- the statements, built once ----------------------------------------------------------

_USER = bindparam("owner", type_=UUID(as_uuid=True))
_CONVERSATION = bindparam("conversation", type_=UUID(as_uuid=True))
_HUMAN = bindparam("human_id", type_=UUID(as_uuid=True))
_REPLY = bindparam("reply_id", type_=UUID(as_uuid=True))


@functools.cache
def _open_statement(count_sent: bool, count_tokens: bool) -> Executable:
    mine = Message.user_id == _USER
    sent: Any = literal(0)
    if count_sent:
        # newest first along (user_id, created_at): a bounded index scan under any plan
        recent = (
            select(Message.id)
            .where(mine, Message.role == "human", Message.created_at >= bindparam("sent_since"))
            .order_by(Message.created_at.desc())
            .limit(bindparam("sent_cap", type_=Integer))
            .subquery()
        )
        sent = select(func.count()).select_from(recent).scalar_subquery()
    tokens: Any = literal(0)
    if count_tokens:
        tokens = (
            select(func.coalesce(func.sum(Message.token_count), 0))
            .where(mine, Message.created_at >= bindparam("tokens_from"))
            .scalar_subquery()
        )
    # 'pending' written out, not bound: the partial index on pending rows then serves the
    # prepared statement's generic plan too
    pending = exists().where(
        Message.conversation_id == _CONVERSATION,
        mine,
        Message.status == literal_column("'pending'"),
    )
    return (
        update(Conversation)
        .where(
            Conversation.id == _CONVERSATION,
            Conversation.user_id == _USER,
            User.id == Conversation.user_id,
        )
        .values(updated_at=func.clock_timestamp())
        .returning(
            Conversation.title,
            Conversation.model,
            Conversation.temperature,
            Conversation.system_prompt,
            Conversation.memory_strategy,
            Conversation.memory_params,
            User.display_name,
            User.profile,
            pending,
            sent,
            tokens,
        )
    )


@functools.cache
def _insert_turn_statement() -> Executable:
    last = (
        select(func.coalesce(func.max(Message.position), 0))
        .where(Message.conversation_id == _CONVERSATION, Message.user_id == _USER)
        .scalar_subquery()
    )

    def row(message_id: Any, offset: int, role: str, content: Any, tokens: Any, meta: Any) -> Any:
        return select(
            message_id,
            _CONVERSATION,
            _USER,
            last + offset,
            literal(role, String),
            content,
            literal("pending", String),
            tokens,
            meta,
        )

    # INSERT ... SELECT: a multi-row VALUES is compiled anew on every call
    return (
        insert(Message)
        .from_select(
            [
                "id",
                "conversation_id",
                "user_id",
                "position",
                "role",
                "content",
                "status",
                "token_count",
                "meta",
            ],
            union_all(
                row(
                    _HUMAN,
                    1,
                    "human",
                    bindparam("question", type_=String),
                    bindparam("question_tokens", type_=Integer),
                    cast(literal({}, JSONB), JSONB),
                ),
                row(
                    _REPLY,
                    2,
                    "ai",
                    literal("", String),
                    literal(0, Integer),
                    bindparam("reply_meta", type_=JSONB),
                ),
            ),
        )
        .returning(Message.position)
    )


@functools.cache
def _finish_statement(with_log: bool) -> Executable:
    human = (
        update(Message)
        .where(Message.id == _HUMAN, Message.user_id == _USER)
        .values(status="complete", updated_at=func.now())
        .returning(Message.id)
        .cte("human")
    )
    reply = (
        update(Message)
        .where(Message.id == _REPLY, Message.user_id == _USER)
        .values(
            status=bindparam("new_status", type_=String),
            content=bindparam("new_text", type_=String),
            token_count=bindparam("new_tokens", type_=Integer),
            meta=Message.meta.op("||")(bindparam("new_meta", type_=JSONB)),
            updated_at=func.now(),
        )
        .returning(Message.id)
        .cte("reply")
    )
    ctes = [human, reply]
    if with_log:
        log = insert(ContextLog).from_select(
            ["message_id", "conversation_id", "user_id", "strategy", "payload"],
            select(
                reply.c.id,
                _CONVERSATION,
                _USER,
                bindparam("strategy", type_=String),
                bindparam("context", type_=JSONB),
            ),
        )
        log = log.on_conflict_do_update(
            index_elements=[ContextLog.message_id],
            set_={"strategy": log.excluded.strategy, "payload": log.excluded.payload},
        )
        ctes.append(log.cte("log"))
    return select(
        select(func.count()).select_from(human).scalar_subquery(),
        select(func.count()).select_from(reply).scalar_subquery(),
    ).add_cte(*ctes)
