"""User memory: facts about a user kept across conversations, and their switches.

Part of chat.storage.repository (see its docstring). Every statement is scoped to its user:
another user's facts cannot be read, changed or sent, whatever id is passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, false, func, select, update
from sqlalchemy.orm import Session

from chat.errors import NotFound
from chat.storage.tables import AppSetting, Conversation, Message, User, UserMemory

__all__ = [
    "INSTANCE_SWITCH",
    "MemoryFact",
    "add_fact",
    "conversations_without_memory",
    "delete_all_facts",
    "delete_facts",
    "facts_for_context",
    "facts_learnt_from",
    "list_facts",
    "question_to_learn_from",
    "set_conversation_memory",
    "set_user_memory",
    "update_fact",
    "user_memory_enabled",
]

INSTANCE_SWITCH = "user_memory"  # app setting: false turns the feature off for everyone


@dataclass(frozen=True)
class MemoryFact:
    id: uuid.UUID
    content: str
    conversation_id: uuid.UUID | None
    conversation_title: str | None  # None: added by hand, or its conversation was deleted
    origin: str
    created_at: datetime
    updated_at: datetime


def _instance_on() -> ColumnElement[bool]:
    return ~exists().where(
        AppSetting.key == INSTANCE_SWITCH, AppSetting.value == func.to_jsonb(false())
    )


def _memory_applies(user_id: uuid.UUID, conversation_id: uuid.UUID) -> ColumnElement[bool]:
    """Whether the user's memory applies to this conversation: on for the instance, for
    the user, and for the conversation (which must be the user's)."""
    user_on = exists().where(User.id == user_id, User.user_memory.is_(True))
    conversation_on = exists().where(
        Conversation.id == conversation_id,
        Conversation.user_id == user_id,
        Conversation.user_memory.is_(True),
    )
    return user_on & conversation_on & _instance_on()


def facts_for_context(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """The user's facts (oldest first, at most `limit`) when their memory applies to this
    conversation; none otherwise. One statement: the switches are part of it."""
    rows = session.execute(
        select(UserMemory.id, UserMemory.content)
        .where(UserMemory.user_id == user_id, _memory_applies(user_id, conversation_id))
        .order_by(UserMemory.created_at.desc(), UserMemory.id.desc())
        .limit(limit)
    ).all()
    return [(row.id, row.content) for row in reversed(rows)]


def list_facts(*, session: Session, user_id: uuid.UUID, limit: int = 500) -> list[MemoryFact]:
    """The user's facts, newest first, with the title of the conversation each came from."""
    rows = session.execute(
        select(
            UserMemory.id,
            UserMemory.content,
            UserMemory.conversation_id,
            Conversation.title,
            UserMemory.origin,
            UserMemory.created_at,
            UserMemory.updated_at,
        )
        .outerjoin(
            Conversation,
            (Conversation.id == UserMemory.conversation_id) & (Conversation.user_id == user_id),
        )
        .where(UserMemory.user_id == user_id)
        .order_by(UserMemory.created_at.desc(), UserMemory.id.desc())
        .limit(limit)
    ).all()
    return [MemoryFact(*row) for row in rows]


def add_fact(
    *,
    session: Session,
    user_id: uuid.UUID,
    content: str,
    origin: str,
    conversation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
) -> uuid.UUID:
    fact = UserMemory(
        id=uuid.uuid4(),
        user_id=user_id,
        content=content,
        origin=origin,
        conversation_id=conversation_id,
        message_id=message_id,
    )
    session.add(fact)
    session.flush()
    return fact.id


def update_fact(*, session: Session, user_id: uuid.UUID, fact_id: uuid.UUID, content: str) -> None:
    result = session.execute(
        update(UserMemory)
        .where(UserMemory.id == fact_id, UserMemory.user_id == user_id)
        .values(content=content, origin="edited", updated_at=func.now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("fact not found")


def delete_facts(*, session: Session, user_id: uuid.UUID, fact_ids: Sequence[uuid.UUID]) -> int:
    result = session.execute(
        delete(UserMemory).where(UserMemory.user_id == user_id, UserMemory.id.in_(fact_ids))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_all_facts(*, session: Session, user_id: uuid.UUID) -> int:
    result = session.execute(delete(UserMemory).where(UserMemory.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def question_to_learn_from(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> tuple[uuid.UUID, str] | None:
    """The newest complete question of the conversation (the one just answered), when the
    user's memory applies to the conversation; None otherwise. One statement: the switches
    are part of it."""
    row = session.execute(
        select(Message.id, Message.content)
        .where(
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            Message.role == "human",
            Message.status == "complete",
            _memory_applies(user_id, conversation_id),
        )
        .order_by(Message.position.desc())
        .limit(1)
    ).first()
    return (row.id, row.content) if row else None


def facts_learnt_from(*, session: Session, user_id: uuid.UUID, message_id: uuid.UUID) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(UserMemory.user_id == user_id, UserMemory.message_id == message_id)
            )
        )
    )


def set_user_memory(*, session: Session, user_id: uuid.UUID, enabled: bool) -> None:
    session.execute(update(User).where(User.id == user_id).values(user_memory=enabled))


def user_memory_enabled(*, session: Session, user_id: uuid.UUID) -> bool:
    return bool(session.scalar(select(User.user_memory).where(User.id == user_id)))


def set_conversation_memory(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, enabled: bool
) -> None:
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        .values(user_memory=enabled)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound()


def conversations_without_memory(*, session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Conversation.id).where(
                Conversation.user_id == user_id, Conversation.user_memory.is_(False)
            )
        ).all()
    )
