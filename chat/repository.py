"""All SQL of the app, as keyword-only typed functions.

Every function that touches user data takes `user_id` and filters by it: a conversation id
from a URL, a widget or a config is never trusted on its own. Helpers flush; the caller
(a service function holding the unit of work) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.models import (
    AppSetting,
    AuthEvent,
    ContextLog,
    Conversation,
    Message,
    PasswordReset,
    Summary,
    User,
)

# --- users -----------------------------------------------------------------------------


def create_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    email: str,
    password_hash: str,
    role: str = "user",
) -> User:
    user = User(
        id=uuid.uuid4(),
        username=username,
        display_name=display_name,
        email=email,
        password_hash=password_hash,
        role=role,
        profile={},
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_username(*, session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user(*, session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def set_password_hash(
    *, session: Session, user_id: uuid.UUID, password_hash: str, at: datetime | None = None
) -> None:
    """New password; every session issued before `at` (default: now) stops being valid."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, sessions_valid_after=at or func.now())
    )


def revoke_sessions(*, session: Session, user_id: uuid.UUID, at: datetime | None = None) -> None:
    """Every session issued before `at` (default: now) stops being valid."""
    cutoff = at if at is not None else func.now()
    session.execute(update(User).where(User.id == user_id).values(sessions_valid_after=cutoff))


def record_login(*, session: Session, user_id: uuid.UUID, at: datetime | None = None) -> None:
    moment = at or func.now()
    session.execute(
        update(User).where(User.id == user_id).values(last_login_at=moment, last_seen_at=moment)
    )


# --- conversations ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationSummary:
    """A sidebar row: no message bodies."""

    id: uuid.UUID
    title: str
    updated_at: datetime
    pinned: bool


def create_conversation(
    *,
    session: Session,
    user_id: uuid.UUID,
    title: str,
    memory_strategy: str,
    memory_params: dict[str, Any],
    model: str,
    system_prompt: str,
) -> Conversation:
    conversation = Conversation(
        id=uuid.uuid4(),
        user_id=user_id,
        title=title,
        memory_strategy=memory_strategy,
        memory_params=memory_params,
        model=model,
        system_prompt=system_prompt,
        pinned=False,
    )
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, lock: bool = False
) -> Conversation:
    """The user's conversation, or NotFound (also when it belongs to someone else)."""
    query = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    conversation = session.scalar(query)
    if conversation is None:
        raise NotFound()
    return conversation


def get_conversation_and_owner(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, lock: bool = False
) -> tuple[Conversation, User]:
    """The user's conversation and the user's own row, in one query (every turn needs both).
    `lock` locks the conversation row (not the user's) until the transaction ends."""
    query = (
        select(Conversation, User)
        .join(User, User.id == Conversation.user_id)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    if lock:
        query = query.with_for_update(of=Conversation)
    row = session.execute(query).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


def list_conversations(
    *,
    session: Session,
    user_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
    after: ConversationSummary | None = None,
) -> list[ConversationSummary]:
    """The sidebar list: pinned first, then most recently updated; never message bodies.

    `after` (the last row of the previous page) pages by key along the index
    (user_id, pinned desc, updated_at desc, id desc), so page 200 costs what page 1 costs."""
    query = select(
        Conversation.id, Conversation.title, Conversation.updated_at, Conversation.pinned
    ).where(Conversation.user_id == user_id)
    if after is not None:
        query = query.where(
            tuple_(Conversation.pinned, Conversation.updated_at, Conversation.id)
            < tuple_(literal(after.pinned), literal(after.updated_at), literal(after.id))
        )
    rows = session.execute(
        query.order_by(
            Conversation.pinned.desc(), Conversation.updated_at.desc(), Conversation.id.desc()
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return [ConversationSummary(*row) for row in rows]


def update_conversation(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, **values: Any
) -> None:
    allowed = {
        "title",
        "memory_strategy",
        "memory_params",
        "model",
        "system_prompt",
        "pinned",
        "temperature",
    }
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        .values(**values)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound()


def touch_conversation(*, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """Mark the conversation as just used. clock_timestamp, not now(): two writes in one
    transaction (tests, imports) still order as they happened."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        .values(updated_at=func.clock_timestamp())
    )


def delete_conversation(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> None:
    """Delete one conversation; its messages, summaries and context logs go with it (cascade)."""
    result = session.execute(
        delete(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound()


def delete_all_conversations(*, session: Session, user_id: uuid.UUID) -> int:
    result = session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def replace_title(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, expected: str, title: str
) -> bool:
    """Set a generated title unless the user renamed the conversation meanwhile."""
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.user_id == user_id,
            Conversation.title == expected,
        )
        .values(title=title)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_all_conversations(*, session: Session, user_id: uuid.UUID) -> Sequence[Conversation]:
    """Every conversation of the user, oldest first (export)."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.created_at, Conversation.id)
    ).all()


def all_messages(*, session: Session, user_id: uuid.UUID) -> Sequence[Message]:
    """Every message of the user, grouped by conversation in order (export)."""
    return session.scalars(
        select(Message)
        .where(Message.user_id == user_id)
        .order_by(Message.conversation_id, Message.position)
    ).all()


# --- profile ---------------------------------------------------------------------------


def update_profile(
    *, session: Session, user_id: uuid.UUID, display_name: str, profile: dict[str, Any]
) -> None:
    """Display name and the profile keys given (others already stored are kept)."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(display_name=display_name, profile=User.profile.op("||")(cast(profile, JSONB)))
    )


# --- search ----------------------------------------------------------------------------

HIGHLIGHT_START, HIGHLIGHT_STOP = "\ue000", "\ue001"
_HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=18, MinWords=6, MaxFragments=1"
)


@dataclass(frozen=True)
class SearchHit:
    conversation_id: uuid.UUID
    title: str
    message_id: uuid.UUID | None  # None: the title matched
    position: int | None
    rank: float
    snippet: str  # highlighted words between HIGHLIGHT_START and HIGHLIGHT_STOP


def search(
    *, session: Session, user_id: uuid.UUID, query: str, websearch: bool = True, limit: int = 20
) -> list[SearchHit]:
    """Full-text search over the user's titles and message text, best first.

    The text is a bound parameter, so no input can change the SQL. `websearch` parses it
    with websearch_to_tsquery ("quotes", or, -not); otherwise plainto_tsquery reads it with
    the parser that indexed the text, so pasted code or markup (<b>, a:b) finds itself.
    Ranks are computed for matching rows only (GIN index), headlines only for the `limit`
    best."""
    parse = func.websearch_to_tsquery if websearch else func.plainto_tsquery
    tsquery = parse("english", query)
    message_hits = (
        select(
            Message.conversation_id.label("conversation_id"),
            Message.id.label("message_id"),
            Message.position.label("position"),
            func.ts_rank(Message.search_vector, tsquery).label("rank"),
        )
        .where(Message.user_id == user_id, Message.search_vector.op("@@")(tsquery))
        .order_by(func.ts_rank(Message.search_vector, tsquery).desc())
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(
            message_hits.c.conversation_id,
            Conversation.title,
            message_hits.c.message_id,
            message_hits.c.position,
            message_hits.c.rank,
            func.ts_headline("english", Message.content, tsquery, _HEADLINE_OPTIONS),
        )
        .join(Message, Message.id == message_hits.c.message_id)
        .join(
            Conversation,
            (Conversation.id == message_hits.c.conversation_id) & (Conversation.user_id == user_id),
        )
        .where(Message.user_id == user_id)
    ).all()
    title_rows = session.execute(
        select(
            Conversation.id,
            Conversation.title,
            func.ts_rank(Conversation.search_vector, tsquery),
            func.ts_headline("english", Conversation.title, tsquery, _HEADLINE_OPTIONS),
        )
        .where(Conversation.user_id == user_id, Conversation.search_vector.op("@@")(tsquery))
        .order_by(func.ts_rank(Conversation.search_vector, tsquery).desc())
        .limit(limit)
    ).all()
    hits = [
        SearchHit(
            conversation_id=row[0],
            title=row[1],
            message_id=row[2],
            position=row[3],
            rank=float(row[4]),
            snippet=row[5],
        )
        for row in rows
    ]
    # A title match weighs double: a conversation named after the words is the best hit.
    hits += [
        SearchHit(
            conversation_id=row[0],
            title=row[1],
            message_id=None,
            position=None,
            rank=2 * float(row[2]),
            snippet=row[3],
        )
        for row in title_rows
    ]
    hits.sort(key=lambda hit: hit.rank, reverse=True)
    return hits[:limit]


# --- messages --------------------------------------------------------------------------


def next_position(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, locked: bool = False
) -> int:
    """Lock the conversation row (unless the caller already has), then read the next
    position: concurrent writers queue up."""
    if not locked:
        get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id, lock=True
        )
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
    session.add(message)
    session.flush()
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
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
    conversation_locked: bool = False,
) -> tuple[Message, Message]:
    """A new turn's question and empty answer placeholder, both pending, at consecutive
    positions: one lock (none when the caller holds it), one position read, one touch (this
    runs on every turn)."""
    position = next_position(
        session=session,
        user_id=user_id,
        conversation_id=conversation_id,
        locked=conversation_locked,
    )
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
    session.add_all(rows)
    session.flush()
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
    return rows


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
        and_(instance.is_not(None), ~_process_alive(cast(instance, BigInteger))),
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


# --- process liveness (chat/liveness.py) -------------------------------------------------

# The advisory-lock namespace of app processes (the first key of the two-key form); each
# process locks (PROCESS_LOCK_NAMESPACE, its instance id) for as long as it lives.
PROCESS_LOCK_NAMESPACE = 721_453_012
_pg_locks = table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("pid"),
    column("granted"),
)
_pg_database = table("pg_database", column("oid"), column("datname"))


def _process_alive(instance_id: Any) -> Any:
    """SQL: some session of this database holds the lock of process `instance_id`."""
    this_database = (
        select(_pg_database.c.oid)
        .where(_pg_database.c.datname == func.current_database())
        .scalar_subquery()
    )
    return exists().where(
        _pg_locks.c.locktype == "advisory",
        _pg_locks.c.database == this_database,
        _pg_locks.c.classid == PROCESS_LOCK_NAMESPACE,
        _pg_locks.c.objid == instance_id,
        _pg_locks.c.objsubid == 2,  # the two-key form
        _pg_locks.c.granted,
    )


def take_process_lock(*, connection: Connection, instance_id: int) -> bool:
    """Lock this process's id for the life of `connection`; False when another holds it."""
    taken = connection.scalar(
        select(func.pg_try_advisory_lock(PROCESS_LOCK_NAMESPACE, instance_id))
    )
    return bool(taken)


def release_process_lock(*, connection: Connection, instance_id: int) -> None:
    """Free the lock now (closing the connection frees it too, once the server notices)."""
    connection.execute(select(func.pg_advisory_unlock(PROCESS_LOCK_NAMESPACE, instance_id)))


def process_lock_held(*, connection: Connection, instance_id: int) -> bool:
    """Whether `connection` itself holds the lock (false after a database restart)."""
    held = connection.scalar(
        select(
            _process_alive(literal(instance_id, BigInteger)).where(
                _pg_locks.c.pid == func.pg_backend_pid()
            )
        )
    )
    return bool(held)


# --- context logs and summaries --------------------------------------------------------


def save_context_log(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    strategy: str,
    payload: dict[str, Any],
) -> None:
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


# --- security: users admin, activity, audit events, resets, app settings ---------------
# Admin-wide queries (user stats, events) are deliberately not filtered by user_id: only
# chat.admin calls them, after checking the caller is an admin.


def set_user_flags(
    *, session: Session, user_id: uuid.UUID, disabled: bool | None = None, role: str | None = None
) -> None:
    values: dict[str, Any] = {}
    if disabled is not None:
        values["disabled"] = disabled
    if role is not None:
        values["role"] = role
    if values:
        result = session.execute(update(User).where(User.id == user_id).values(**values))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("No such user.")


def touch_last_seen(*, session: Session, user_id: uuid.UUID, at: datetime) -> None:
    session.execute(update(User).where(User.id == user_id).values(last_seen_at=at))


def count_admins(*, session: Session) -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin", ~User.disabled)
    return session.scalar(query) or 0


@dataclass(frozen=True)
class UserStats:
    user_id: uuid.UUID
    conversations: int
    messages: int
    tokens: int


def user_stats(*, session: Session) -> dict[uuid.UUID, UserStats]:
    """Per user: conversations, messages and stored tokens (two grouped scans)."""
    conversations = dict(
        session.execute(
            select(Conversation.user_id, func.count()).group_by(Conversation.user_id)
        ).all()
    )
    rows = session.execute(
        select(
            Message.user_id, func.count(), func.coalesce(func.sum(Message.token_count), 0)
        ).group_by(Message.user_id)
    ).all()
    messages = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    return {
        uid: UserStats(uid, int(conversations.get(uid, 0)), *messages.get(uid, (0, 0)))
        for uid in set(conversations) | set(messages)
    }


def add_auth_event(
    *,
    session: Session,
    kind: str,
    username: str,
    at: datetime,
    user_id: uuid.UUID | None = None,
    client: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuthEvent(
            user_id=user_id,
            username=username[:64],
            kind=kind,
            client=client[:128],
            detail=detail or {},
            created_at=at,
        )
    )
    session.flush()


def count_auth_events(
    *,
    session: Session,
    kind: str,
    since: datetime,
    username: str | None = None,
    client: str | None = None,
) -> tuple[int, datetime | None]:
    """How many events of `kind` since `since` for this username or client, and the oldest."""
    query = select(func.count(), func.min(AuthEvent.created_at)).where(
        AuthEvent.kind == kind, AuthEvent.created_at >= since
    )
    if username is not None:
        query = query.where(AuthEvent.username == username)
    if client is not None:
        query = query.where(AuthEvent.client == client)
    count, oldest = session.execute(query).one()
    return int(count), oldest


def recent_auth_events(
    *, session: Session, limit: int = 100, user_id: uuid.UUID | None = None
) -> list[AuthEvent]:
    query = select(AuthEvent)
    if user_id is not None:
        query = query.where(AuthEvent.user_id == user_id)
    return list(session.scalars(query.order_by(AuthEvent.id.desc()).limit(limit)).all())


def create_password_reset(
    *,
    session: Session,
    user_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
    created_by: uuid.UUID | None,
) -> None:
    session.add(
        PasswordReset(
            token_hash=token_hash, user_id=user_id, expires_at=expires_at, created_by=created_by
        )
    )
    session.flush()


def take_password_reset(*, session: Session, token_hash: str, at: datetime) -> uuid.UUID | None:
    """Mark an unused, unexpired code as used and return its user (atomic: one use only)."""
    return session.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == token_hash,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > at,
        )
        .values(used_at=at)
        .returning(PasswordReset.user_id)
    )


def discard_password_resets(*, session: Session, user_id: uuid.UUID, at: datetime) -> None:
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=at)
    )


def get_app_setting(*, session: Session, key: str) -> Any:
    row = session.get(AppSetting, key)
    return None if row is None else row.value


def set_app_setting(*, session: Session, key: str, value: Any) -> None:
    statement = insert(AppSetting).values(key=key, value=value)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[AppSetting.key],
            set_={"value": statement.excluded.value, "updated_at": func.now()},
        )
    )


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
    """Store a newer summary. The watermark only moves forward: a slower concurrent
    summariser that finishes last cannot replace a summary covering more messages."""
    statement = insert(Summary).values(
        conversation_id=conversation_id,
        strategy=strategy,
        user_id=user_id,
        content=content,
        covers_position=covers_position,
        token_count=token_count,
        status="ok",
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Summary.conversation_id, Summary.strategy],
            set_={
                "content": statement.excluded.content,
                "covers_position": statement.excluded.covers_position,
                "token_count": statement.excluded.token_count,
                "status": "ok",
                "updated_at": func.now(),
            },
            where=(Summary.covers_position < statement.excluded.covers_position)
            & (Summary.user_id == user_id),
        )
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
