"""Recall's vector similarity: embeddings of a conversation's messages, compared with
pgvector, fused with the full-text ranking (reciprocal rank fusion).

On only when an embeddings model is configured (EMBEDDINGS_MODEL, chat.llm.factory.
build_embedder) and the database has pgvector. pgvector comes from the server: the embedded
PostgreSQL ships it, Debian's packages do not. A configured server without it gets one clear
log message, and recall uses full-text search alone. Messages are embedded after the answer
(never before the first token), and the new question just before its view is read (recall's
prepare), in both cases with no connection held while the endpoint answers.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace

from langchain_core.embeddings import Embeddings
from sqlalchemy.orm import Session, sessionmaker

from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.repository import RecalledRow

log = logging.getLogger(__name__)

RRF_K = 60  # the usual constant of reciprocal rank fusion
EMBED_BATCH = 50
NO_PGVECTOR = (
    "EMBEDDINGS_MODEL is set, but this PostgreSQL server has no pgvector extension "
    "(the 'vector' extension is not installed, or the app's role may not create it): recall "
    "uses full-text search only. Install pgvector on the server (the embedded PostgreSQL "
    "ships it) and run the migrations again to enable vector similarity."
)


class VectorSearch:
    """The process's embeddings model and what it knows about the database's pgvector."""

    def __init__(self) -> None:
        self.embedder: Embeddings | None = None
        self.model = ""
        self._available: bool | None = None
        self._lock = threading.Lock()

    def configure(self, embedder: Embeddings | None, model: str = "") -> None:
        with self._lock:
            self.embedder, self.model, self._available = embedder, model, None

    def usable(self, session: Session) -> bool:
        """Configured, and the database has pgvector (checked once; said once if not)."""
        if self.embedder is None:
            return False
        if self._available is None:
            available = repository.vector_search_available(session=session)
            if not available:
                log.warning(NO_PGVECTOR)
            self._available = available
        return self._available

    @property
    def ruled_out(self) -> bool:
        """Off, or the database was found to have no pgvector: nothing to embed for."""
        return self.embedder is None or self._available is False


SEARCH = VectorSearch()


def configure(embedder: Embeddings | None, model: str = "") -> None:
    """Set at start-up by build_services (tests set and reset it)."""
    SEARCH.configure(embedder, model)


def embed_question(question: str) -> tuple[float, ...] | None:
    """The question's embedding, or None when no embeddings model is configured. Called
    before the view's transaction: no connection is held while the endpoint answers. An
    endpoint failure is logged and costs only the vector half of recall."""
    if SEARCH.ruled_out or not question.strip():
        return None
    assert SEARCH.embedder is not None
    try:
        return tuple(SEARCH.embedder.embed_query(question))
    except Exception:
        log.exception("embedding the question failed; recall uses full-text search")
        return None


def similar(
    session: Session,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    vector: Sequence[float] | None,
    before_position: int,
    limit: int,
) -> list[RecalledRow]:
    """The messages nearest to the question's embedding, or none when there is none or
    the database has no pgvector."""
    if vector is None or not SEARCH.usable(session):
        return []
    return repository.similar_messages(
        session=session,
        user_id=user_id,
        conversation_id=conversation_id,
        model=SEARCH.model,
        vector=list(vector),
        before_position=before_position,
        limit=limit,
    )


def fuse(text: Sequence[RecalledRow], vector: Sequence[RecalledRow]) -> list[RecalledRow]:
    """Reciprocal rank fusion of the two rankings: score = sum of 1 / (RRF_K + rank). A row
    keeps the words full-text search matched."""
    if not vector:
        return list(text)
    scores: dict[uuid.UUID, float] = {}
    rows: dict[uuid.UUID, RecalledRow] = {}
    for ranking in (text, vector):
        for rank, row in enumerate(ranking, start=1):
            scores[row.id] = scores.get(row.id, 0.0) + 1.0 / (RRF_K + rank)
            rows.setdefault(row.id, row)
    order = sorted(scores, key=lambda key: (-scores[key], -rows[key].position))
    return [replace(rows[key], score=scores[key]) for key in order]


def how_found(row_id: uuid.UUID, text: Sequence[RecalledRow], vector: Sequence[RecalledRow]) -> str:
    in_text = any(r.id == row_id for r in text)
    in_vector = any(r.id == row_id for r in vector)
    return "both" if in_text and in_vector else ("vector" if in_vector else "text")


def embed_new_messages(
    *, sessions: sessionmaker[Session], user_id: uuid.UUID, conversation_id: uuid.UUID
) -> int:
    """After an answer: embed the conversation's messages that have no embedding yet
    (the newest EMBED_BATCH; an older conversation catches up over a few turns)."""
    with unit_of_work(sessions) as session:
        if not SEARCH.usable(session):
            return 0
        conversation = repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        if conversation.memory_strategy != "recall":
            return 0  # only recall reads them
        pending = repository.messages_without_embedding(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            model=SEARCH.model,
            limit=EMBED_BATCH,
        )
    if not pending:
        return 0
    assert SEARCH.embedder is not None
    try:
        vectors = SEARCH.embedder.embed_documents([content for _, content in pending])
    except Exception:
        log.exception("embedding messages failed; they are tried again after the next answer")
        return 0
    with unit_of_work(sessions) as session:
        repository.save_embeddings(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            model=SEARCH.model,
            vectors=[(mid, list(v)) for (mid, _), v in zip(pending, vectors, strict=True)],
        )
    return len(pending)
