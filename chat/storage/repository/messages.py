"""Messages: appending turns, settling them, the bounded reads the memory strategies use,
and the counts behind the per-user limits.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import functools
import typing
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    BigInteger,
    Executable,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.repository.conversations import get_conversation, touch_conversation
from chat.storage.repository.processes import process_alive
from chat.storage.tables import (
    Conversation,
    Message,
)

# --- messages --------------------------------------------------------------------------


def next_position(*, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> int:
    """The next message position. The caller holds the conversation's row lock
    (get_conversation with lock=True), so concurrent writers
    queue up instead of reading the same position."""
    last = session.scalar(
        select(Message.position)
        .where(Message.conversation_id == conversation_id, Message.user_id == user_id)
        .order_by(Message.position.desc())
        .limit(1)
    )
    return (last or 0) + 1


def stored_message_ids(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `ids` are stored in this conversation of the user's (one statement)."""
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Message.id).where(
                Message.id.in_(list(ids)),
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
            )
        )
    )


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


def _append(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, rows: Sequence[Message]
) -> None:
    """Write new rows and mark their conversation as active (the sidebar's order)."""
    session.add_all(rows)
    session.flush()
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)


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


class ViewRow(Protocol):
    """What a memory view needs of a stored message (a Message has it all; the views' own
    reads select just these columns, skipping the metadata and the ORM's bookkeeping).
    The views read the id as text, the form a LangChain message's id takes: a full buffer
    would otherwise parse every row's UUID only to print it again."""

    @property
    def id(self) -> uuid.UUID | str: ...
    @property
    def position(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def token_count(self) -> int: ...


class PlainViewRow(NamedTuple):
    """A ViewRow as a plain tuple, for the read that returns every message of a
    conversation: a full buffer reads each column of each row, and a tuple's fields are
    read several times faster than a SQLAlchemy Row's."""

    id: str
    position: int
    role: str
    content: str
    status: str
    token_count: int


# Limits and offsets written into the statement when it runs, not bound: PostgreSQL then
# plans the prepared statement once (a generic plan) instead of on every execution.
_ROW_LIMIT = bindparam("row_limit", type_=Integer, literal_execute=True)


def _in_owned_conversation() -> tuple[Any, Any]:
    """Scoping for the views' reads: messages of the conversation bound as `conversation`,
    provided it belongs to the user bound as `owner`. The ownership test runs once per
    query (a constant subquery), leaving the (conversation_id, position) index as the one
    way to read the rows, newest first; a filter on messages.user_id tempted the planner to
    combine it with the user's index and sort the whole conversation."""
    conversation = bindparam("conversation", type_=Uuid())
    owned = exists().where(
        Conversation.id == conversation, Conversation.user_id == bindparam("owner", type_=Uuid())
    )
    return Message.conversation_id == conversation, owned


_VIEW_COLUMNS = (
    cast(Message.id, String).label("id"),
    Message.position,
    Message.role,
    Message.content,
    Message.status,
    Message.token_count,
)


def recent_view_rows(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int,
    before_position: int | None = None,
) -> list[ViewRow]:
    """recent_messages for a memory view: the last `limit` rows (oldest first), read
    backwards along the position index, with only the columns a view uses."""
    rows = session.execute(
        _recent_view_statement(before_position is not None),
        {
            "owner": user_id,
            "conversation": conversation_id,
            "row_limit": limit,
            "before": before_position,
        },
    ).all()
    return typing.cast(list[ViewRow], list(reversed(rows)))


@functools.cache
def _recent_view_statement(before: bool) -> Executable:
    # Built once (every turn's view reads through it); the values are bound per call.
    query = select(*_VIEW_COLUMNS).where(*_in_owned_conversation())
    if before:
        query = query.where(Message.position < bindparam("before"))
    return query.order_by(Message.position.desc()).limit(
        bindparam("row_limit", type_=Integer, literal_execute=True)
    )


class MessageRow(ViewRow, Protocol):
    """A stored message as a conversation shows it: a view's columns (the id as a UUID),
    its metadata and when it was written."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def meta(self) -> dict[str, Any] | None: ...
    @property
    def created_at(self) -> datetime: ...


# A ViewRow's columns, the id as stored (recall's reads select these too).
ROW_COLUMNS = (
    Message.id,
    Message.position,
    Message.role,
    Message.content,
    Message.status,
    Message.token_count,
)
_MESSAGE_COLUMNS = (*ROW_COLUMNS, Message.meta, Message.created_at)


def recent_messages(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int,
    before_position: int | None = None,
) -> list[MessageRow]:
    """The last `limit` messages (oldest first), read backwards along the position index,
    as plain rows: every reader only reads them, and a page of hundreds of messages spent
    more on building ORM objects than on the query."""
    query = select(*_MESSAGE_COLUMNS).where(
        Message.conversation_id == conversation_id, Message.user_id == user_id
    )
    if before_position is not None:
        query = query.where(Message.position < before_position)
    rows = session.execute(query.order_by(Message.position.desc()).limit(limit)).all()
    return typing.cast(list[MessageRow], list(reversed(rows)))


def messages_from(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, start_position: int
) -> list[ViewRow]:
    """Every message from `start_position` on, oldest first, with only the columns a view
    uses (a full buffer reads the whole conversation: no metadata, no ORM objects; run on
    the session's connection, as plain columns need none of the ORM's result handling)."""
    connection = session.connection()
    result = connection.execute(
        _messages_from_statement(),
        {"owner": user_id, "conversation": conversation_id, "start": start_position},
    )
    return [PlainViewRow._make(row) for row in result]


def last_turns(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, turns: int
) -> list[ViewRow]:
    """The messages from the `turns`-th most recent settled question on (all of them when
    there are fewer), oldest first: a window's view, in one statement in the usual case.

    The statement reads backwards from the newest message, at most a few rows per turn
    (a bounded index scan whatever the conversation's length; the planner cannot
    estimate a range whose start is only known while the query runs, and would scan the
    table). Should the window reach further back than that, its rows are read by range."""
    rows = session.execute(
        _last_turns_statement(),
        {
            "owner": user_id,
            "conversation": conversation_id,
            "skip": turns - 1,
            "row_limit": 4 * turns + 8,
        },
    ).all()
    if rows and rows[0].position > rows[0].window_start:  # longer than the rows read
        return typing.cast(
            list[ViewRow],
            session.execute(
                _messages_from_statement(),
                {
                    "owner": user_id,
                    "conversation": conversation_id,
                    "start": rows[0].window_start,
                },
            ).all(),
        )
    return typing.cast(list[ViewRow], rows)


@functools.cache
def _last_turns_statement() -> Executable:
    # Built once (every turn of a window conversation reads through it).
    mine = _in_owned_conversation()
    start = select(
        func.coalesce(
            select(Message.position)
            .where(
                *mine,
                Message.role == literal_column("'human'"),
                Message.status != literal_column("'pending'"),
            )
            .order_by(Message.position.desc())
            .offset(bindparam("skip", type_=Integer, literal_execute=True))
            .limit(literal_column("1"))
            .scalar_subquery(),
            literal_column("1"),
        ).label("position")
    ).cte("window_start")  # read once, used twice
    newest = (
        select(*_VIEW_COLUMNS)
        .where(*mine)
        .order_by(Message.position.desc())
        .limit(_ROW_LIMIT)
        .subquery()
    )
    return (
        select(newest, start.c.position.label("window_start"))
        .select_from(newest.join(start, newest.c.position >= start.c.position))
        .order_by(newest.c.position)
    )


@functools.cache
def _messages_from_statement() -> Executable:
    return (
        select(*_VIEW_COLUMNS)
        .where(*_in_owned_conversation(), Message.position >= bindparam("start"))
        .order_by(Message.position)
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
    interrupted. An answer that names its process (meta `instance`, see chat/storage/liveness.py) is
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


def view_rows_between(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    first_position: int,
    last_position: int,
) -> list[ViewRow]:
    """The messages with first_position <= position <= last_position, oldest first, with
    the columns a view uses (the history a context log names, read back whole)."""
    rows = session.execute(
        select(*_VIEW_COLUMNS)
        .where(
            *_in_owned_conversation(),
            Message.position.between(first_position, last_position),
        )
        .order_by(Message.position),
        {"owner": user_id, "conversation": conversation_id},
    ).all()
    return typing.cast(list[ViewRow], rows)


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


def message_texts(
    *, session: Session, user_id: uuid.UUID, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The text of each named message of the user's (others are simply absent)."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Message.id, Message.content).where(
            Message.id.in_(list(message_ids)), Message.user_id == user_id
        )
    ).all()
    return {row.id: row.content for row in rows}
