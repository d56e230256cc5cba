"""The statements of a turn's hot path: few round trips, each doing a whole step.

Every turn runs these (chat/turn/store.py), so each step is one statement where the
database can do it in one: opening a turn locks, touches and reads the conversation with
the counts the limits need and writes the question and its placeholder, in one statement;
the turn's last word on both rows and its context log is another. Each statement is built
once, with bound parameters (building one costs more than running it), and runs on the unit
of work's connection as Core: nothing here needs the ORM's identity map.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Integer,
    String,
    Update,
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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import ContextLog, Conversation, Message, Summary, User

__all__ = [
    "OpenedConversation",
    "PositionTaken",
    "TurnSummary",
    "finish_turn_rows",
    "open_conversation",
    "open_new_turn",
    "plan_once",
]


@dataclass(frozen=True)
class TurnSummary:
    """The conversation's summary for its current strategy, as the turn opened."""

    content: str
    covers_position: int
    status: str


@dataclass(frozen=True)
class OpenedConversation:
    """A conversation as a new turn finds it: its settings, its owner's profile, what the
    limits and the settling need, and what the summary strategies' views start from."""

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
    last_settled: int  # position of the newest message not in flight (0 when none)
    summary: TurnSummary | None  # the summary of the current strategy, if it has one

    @classmethod
    def of(cls, row: Any) -> OpenedConversation:
        *head, content, covers, status = row
        names = [field.name for field in fields(cls) if field.name != "summary"]
        return cls(
            **dict(zip(names, head, strict=True)),
            summary=TurnSummary(content, covers, status) if covers is not None else None,
        )


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
    return OpenedConversation.of(row)


class PositionTaken(Exception):
    """Another turn of the conversation took the next positions first: it committed while
    open_new_turn waited for the conversation's lock. Run the unit of work again."""


def plan_once(*, session: Session) -> None:
    """For the rest of this transaction, run prepared statements on their generic plan,
    made once per connection, instead of planning them again on every execution.

    PostgreSQL's default keeps re-planning a prepared statement whose generic plan it
    estimates dearer than a custom one; for open_new_turn that meant about 1 ms of planning
    on every turn, for a plan no faster than the generic one (measured with EXPLAIN). The
    statements a turn runs after it (the memory views' reads) are written for generic
    plans: limits written into the SQL, constants written out."""
    session.connection().exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")


def open_new_turn(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    human_id: uuid.UUID,
    reply_id: uuid.UUID,
    question: str,
    question_tokens: int,
    instance_id: int | None,
    sent_since: datetime | None = None,
    sent_cap: int = 0,
    tokens_from: datetime | None = None,
) -> tuple[OpenedConversation, int]:
    """open_conversation, and in the same statement the new turn's question and empty
    answer, both pending, at the next two positions (written only when the conversation is
    the user's); the answer names the conversation's model and the app process
    (`instance_id`, see chat/storage/liveness.py). Returns the conversation and the question's
    position.

    The positions come from the statement's snapshot, taken before it waited for the lock
    if another turn held it; should that turn have taken them meanwhile, the unique
    position raises PositionTaken and the caller runs its unit of work again (it then sees
    that turn's rows). NotFound when the conversation is not the user's."""
    try:
        row = (
            session.connection()
            .execute(
                _open_new_turn_statement(sent_since is not None, tokens_from is not None),
                {
                    "owner": user_id,
                    "conversation": conversation_id,
                    "sent_since": sent_since,
                    "sent_cap": sent_cap,
                    "tokens_from": tokens_from,
                    "human_id": human_id,
                    "reply_id": reply_id,
                    "question": question,
                    "question_tokens": question_tokens,
                    "instance": instance_id,
                },
            )
            .first()
        )
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) == _POSITIONS:
            raise PositionTaken() from exc
        raise
    if row is None:
        raise NotFound()
    return OpenedConversation.of(row[:-1]), int(row[-1])


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
def _open_statement(count_sent: bool, count_tokens: bool) -> Update:
    mine = Message.user_id == _USER
    sent: Any = literal(0)
    if count_sent:
        # newest first along (user_id, created_at): a bounded index scan under any plan
        recent = (
            select(Message.id)
            .where(mine, Message.role == "human", Message.created_at >= bindparam("sent_since"))
            .order_by(Message.created_at.desc())
            .limit(bindparam("sent_cap", type_=Integer, literal_execute=True))
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
    last_settled = (
        select(Message.position)
        .where(
            Message.conversation_id == _CONVERSATION,
            mine,
            Message.status != literal_column("'pending'"),
        )
        .order_by(Message.position.desc())
        .limit(literal_column("1"))
        .scalar_subquery()
    )
    of_strategy = (
        Summary.conversation_id == _CONVERSATION,
        Summary.user_id == _USER,
        Summary.strategy == Conversation.memory_strategy,
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
            pending.label("has_pending"),
            sent.label("sent_recently"),
            tokens.label("tokens_used"),
            func.coalesce(last_settled, 0).label("last_settled"),
            *(
                select(column).where(*of_strategy).scalar_subquery().label(f"summary_{column.key}")
                for column in (Summary.content, Summary.covers_position, Summary.status)
            ),
        )
    )


_POSITIONS = "messages_conversation_position"  # unique (conversation_id, position)


@functools.cache
def _open_new_turn_statement(count_sent: bool, count_tokens: bool) -> Executable:
    opened = _open_statement(count_sent, count_tokens).cte("opened")
    last = (
        select(func.coalesce(func.max(Message.position), 0))
        .where(Message.conversation_id == _CONVERSATION, Message.user_id == _USER)
        .scalar_subquery()
    )

    def row(message_id: Any, offset: int, role: str, content: Any, tokens: Any, meta: Any) -> Any:
        # FROM opened: no row unless the conversation is the user's (and is now locked)
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
        ).select_from(opened)

    # INSERT ... SELECT: a multi-row VALUES is compiled anew on every call
    inserted = (
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
                    func.jsonb_build_object(
                        "model", opened.c.model, "instance", bindparam("instance", type_=BigInteger)
                    ),
                ),
            ),
        )
        .returning(Message.position)
        .cte("inserted")
    )
    return select(*opened.c, select(func.min(inserted.c.position)).scalar_subquery()).select_from(
        opened
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
