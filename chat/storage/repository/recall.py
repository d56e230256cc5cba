"""Recall: the earlier messages of a conversation most relevant to a question.

Part of chat.storage.repository (see its docstring). Full-text search over the message
text (prefix queries on its lexemes) with the GIN index on messages.search_vector
(migration 0003), scoped to one conversation of the user and bounded by `limit`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Float, bindparam, cast, exists, func, select, text
from sqlalchemy.dialects.postgresql import TSQUERY, insert
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from chat.storage.repository.messages import ROW_COLUMNS
from chat.storage.tables import Conversation, Message, MessageEmbedding

__all__ = [
    "RecalledRow",
    "Vector",
    "messages_without_embedding",
    "question_lexemes",
    "recall_candidates",
    "save_embeddings",
    "similar_messages",
    "vector_search_available",
]

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 40
PREFIX_CHARS = 5


class Vector(UserDefinedType[list[float]]):
    """pgvector's type, for casts (the stored column is real[]: no extension needed)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "vector"


@dataclass(frozen=True)
class RecalledRow:
    """A stored message (the ViewRow columns) with why it was recalled."""

    id: uuid.UUID
    position: int
    role: str
    content: str
    status: str
    token_count: int
    score: float
    matched: tuple[str, ...]  # the question's words (as indexed) the message contains


def _recalled(row: Any, matched: Iterable[str]) -> RecalledRow:
    return RecalledRow(
        id=row.id,
        position=row.position,
        role=row.role,
        content=row.content,
        status=row.status,
        token_count=row.token_count,
        score=float(row.score),
        matched=tuple(matched),
    )


def question_lexemes(*, session: Session, question: str) -> list[str]:
    """The question's words as the index has them (stemmed, stop words dropped)."""
    words = _WORD.findall(question.lower())[:MAX_QUERY_WORDS]
    if not words:
        return []
    vector = func.to_tsvector("english", " ".join(words))
    return list(session.scalar(select(func.tsvector_to_array(vector))) or [])


def _family(lexeme: str) -> str:
    """A lexeme's word family as tsquery text: a long one by its first five letters, as a
    prefix ("allergi" and "allerg", which the stemmer leaves apart, both start "aller"); a
    short one as itself ("go" is not "good"). Quoted: nothing in it is syntax."""
    quoted = "'" + lexeme[:PREFIX_CHARS].replace("\\", "\\\\").replace("'", "''") + "'"
    return f"{quoted}:*" if len(lexeme) > PREFIX_CHARS else quoted


def _in_family(word: str, lexeme: str) -> bool:
    if len(lexeme) > PREFIX_CHARS:
        return word.startswith(lexeme[:PREFIX_CHARS])
    return word == lexeme


def recall_candidates(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    question: str,
    before_position: int,
    limit: int,
) -> list[RecalledRow]:
    """The settled messages before `before_position` sharing a word family with
    `question`, best first (ts_rank, length-normalised), at most `limit`. Two statements:
    the question's lexemes, then the search (GIN index, prefix matches)."""
    asked = question_lexemes(session=session, question=question)
    if not asked:
        return []
    query = cast(" | ".join(sorted({_family(lexeme) for lexeme in asked})), TSQUERY)
    score = func.ts_rank(Message.search_vector, query, 1)
    owned = exists().where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    rows = session.execute(
        select(
            *ROW_COLUMNS,
            score.label("score"),
            func.tsvector_to_array(Message.search_vector).label("lexemes"),
        )
        .where(
            Message.conversation_id == conversation_id,
            owned,
            Message.position < before_position,
            Message.status.in_(("complete", "interrupted")),
            Message.search_vector.op("@@")(query),
        )
        .order_by(score.desc(), Message.position.desc())
        .limit(limit)
    ).all()
    return [
        _recalled(row, sorted(w for w in row.lexemes or () if any(_in_family(w, a) for a in asked)))
        for row in rows
    ]


def vector_search_available(*, session: Session) -> bool:
    """Whether this database has pgvector (the extension, created by migration 0007)."""
    return bool(
        session.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')"))
    )


def messages_without_embedding(
    *, session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, model: str, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """The newest settled messages of the conversation with no embedding from `model`."""
    rows = session.execute(
        select(Message.id, Message.content)
        .outerjoin(
            MessageEmbedding,
            (MessageEmbedding.message_id == Message.id) & (MessageEmbedding.model == model),
        )
        .where(
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            Message.status.in_(("complete", "interrupted")),
            Message.content != "",
            MessageEmbedding.message_id.is_(None),
        )
        .order_by(Message.position.desc())
        .limit(limit)
    ).all()
    return [(row.id, row.content) for row in rows]


def save_embeddings(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    model: str,
    vectors: list[tuple[uuid.UUID, list[float]]],
) -> None:
    if not vectors:
        return
    statement = insert(MessageEmbedding).values(
        [
            {
                "message_id": message_id,
                "conversation_id": conversation_id,
                "user_id": user_id,
                "model": model,
                "embedding": vector,
            }
            for message_id, vector in vectors
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[MessageEmbedding.message_id],
            set_={"model": statement.excluded.model, "embedding": statement.excluded.embedding},
        )
    )


def similar_messages(
    *,
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    model: str,
    vector: list[float],
    before_position: int,
    limit: int,
) -> list[RecalledRow]:
    """The settled messages before `before_position` nearest to `vector` (pgvector's
    cosine distance over the conversation's embeddings; score = 1 - distance)."""
    query = cast(bindparam("query_vector", value=vector, type_=ARRAY(Float)), Vector())
    distance = cast(MessageEmbedding.embedding, Vector()).op("<=>")(query)
    owned = exists().where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    rows = session.execute(
        select(*ROW_COLUMNS, (1 - distance).label("score"))
        .join(MessageEmbedding, MessageEmbedding.message_id == Message.id)
        .where(
            MessageEmbedding.conversation_id == conversation_id,
            MessageEmbedding.user_id == user_id,
            MessageEmbedding.model == model,
            Message.conversation_id == conversation_id,
            owned,
            Message.position < before_position,
            Message.status.in_(("complete", "interrupted")),
        )
        .order_by(distance, Message.position.desc())
        .limit(limit)
    ).all()
    return [_recalled(row, ()) for row in rows]
