"""Conversations (with the user's profile, which personalises them) and full-text search.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    cast,
    delete,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import (
    Conversation,
    Message,
    User,
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
