"""Recall's vector path: embeddings from an OpenAI-compatible endpoint (the local server,
through the real client), compared with pgvector, fused with full-text search.

pgvector comes from the server: the embedded PostgreSQL (pgserver) ships it, Debian's
packages do not. So these tests start an embedded server of their own, as the fault tests
do; on the shared test server (no pgvector) recall says so and keeps to full-text search.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.offline import OfflineChatModel
from chat.memory import vectors
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage.db import migrate
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer
from tests.support.own_postgres import OwnPostgres, own_postgres


@pytest.fixture(scope="module")
def vector_pg() -> Iterator[OwnPostgres]:
    with own_postgres() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_embedder_left_behind() -> Iterator[None]:
    yield
    vectors.configure(None)


class PoolWatchingEmbeddings(Embeddings):
    """The configured embeddings, noting how many pooled connections are checked out
    while the question's embedding is asked for."""

    def __init__(self, inner: Any, engine: Any) -> None:
        self.inner, self.engine = inner, engine
        self.connections_at_query: list[int] = []

    def embed_query(self, text: str) -> list[float]:
        self.connections_at_query.append(self.engine.pool.checkedout())
        return self.inner.embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)


def embedding_settings(settings: Settings, server: FakeOpenAIServer) -> Settings:
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test"),
            "openai_base_url": server.base_url,
            "models": ["test-model"],
            "embeddings_model": "test-embeddings",
            "messages_per_minute": 0,
            "model_max_retries": 0,
        }
    )


def services_on(engine_url: Any, settings: Settings) -> Services:
    engine = create_engine(engine_url)
    return build_services(settings, engine=engine, model_factory=lambda name: OfflineChatModel())


def answered(services: Services, user_id: uuid.UUID, text_: str, cid: uuid.UUID | None) -> Any:
    turn = services.turns.send(user_id=user_id, conversation_id=cid, text=text_)
    "".join(turn.stream())
    assert turn.wait(30)  # the engine embeds the new messages after the answer
    return turn


def test_vector_similarity_is_fused_with_full_text_search(
    vector_pg: OwnPostgres, settings: Settings, openai_server: FakeOpenAIServer
) -> None:
    url = vector_pg.fresh_database(f"vectors_{uuid.uuid4().hex[:8]}")
    engine = create_engine(url)
    migrate(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT extversion FROM pg_extension WHERE extname='vector'"))
    services = services_on(url, embedding_settings(settings, openai_server))
    alice, bob = make_user(services), make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # recall alone
    first = answered(services, alice.id, "The harbour cottage has a blue door.", None)
    cid = first.conversation_id
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=cid, strategy="recall", params={"recent_tokens": 80}
    )
    for index in range(8):
        answered(services, alice.id, f"Give me three tips about topic number {index}.", cid)
    bobs = answered(services, bob.id, "The harbour cottage has a red door.", None)
    watched = PoolWatchingEmbeddings(vectors.SEARCH.embedder, services.engine)
    vectors.configure(watched, vectors.SEARCH.model)

    turn = answered(services, alice.id, "What colour is the harbour door?", cid)

    # the question was embedded with no database connection checked out
    assert watched.connections_at_query == [0]

    recalled = [b for b in turn.outcome.context["blocks"] if b["kind"] == "recalled"]
    assert recalled[0]["content"] == "The harbour cottage has a blue door."
    assert recalled[0]["how"] == "both" and recalled[0]["score"] > 0
    assert "red door" not in str(turn.outcome.context)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT count(*), count(DISTINCT user_id) FROM message_embeddings "
                 "WHERE conversation_id = :c"), {"c": cid}
        ).one()  # fmt: skip
        assert stored[0] >= 18 and stored[1] == 1
        assert (
            connection.scalar(
                text("SELECT count(*) FROM message_embeddings WHERE conversation_id = :c"),
                {"c": bobs.conversation_id},
            )
            == 0
        )  # bob's conversation does not use recall: nothing embedded
    assert any(r["path"] == "/v1/embeddings" for r in openai_server.requests)
    services.engine.dispose()
    engine.dispose()


def test_a_server_without_pgvector_gets_a_clear_message_and_full_text_search(
    settings: Settings,
    connection: Connection,
    sessions: sessionmaker[Session],
    openai_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_vectors = embedding_settings(settings, openai_server)
    services = build_services(
        with_vectors, engine=connection.engine, sessions=sessions,
        model_factory=lambda name: OfflineChatModel(),
    )  # fmt: skip
    if connection.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")):
        pytest.skip("this test server has pgvector")
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)
    cid = answered(services, alice.id, "The harbour cottage has a blue door.", None).conversation_id
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=cid, strategy="recall", params={"recent_tokens": 50}
    )
    for index in range(4):
        answered(services, alice.id, f"Give me three tips about topic number {index}.", cid)
    with caplog.at_level(logging.WARNING):
        turn = answered(services, alice.id, "What colour is the harbour door?", cid)
    recalled = [b for b in turn.outcome.context["blocks"] if b["kind"] == "recalled"]
    assert recalled[0]["how"] == "text"
    assert "no pgvector extension" in caplog.text
    assert not any(r["path"] == "/v1/embeddings" for r in openai_server.requests)


def test_rank_fusion_prefers_what_both_rankings_found() -> None:
    from chat.storage.repository import RecalledRow

    def row(n: int) -> RecalledRow:
        return RecalledRow(uuid.UUID(int=n), n, "human", f"m{n}", "complete", 3, 0.1, ())

    fused = vectors.fuse([row(1), row(2), row(3)], [row(3), row(4)])
    assert [r.position for r in fused] == [3, 1, 4, 2]
    assert vectors.fuse([row(1)], []) == [row(1)]
    assert vectors.how_found(row(3).id, [row(3)], [row(3)]) == "both"


def test_an_embedder_only_when_a_model_and_a_key_are_configured(settings: Settings) -> None:
    from chat.llm.factory import build_embedder

    assert build_embedder(settings) is None
    assert build_embedder(settings.model_copy(update={"embeddings_model": "e"})) is None  # no key
    own = settings.model_copy(
        update={
            "embeddings_model": "e",
            "embeddings_api_key": SecretStr("sk-own"),
            "embeddings_base_url": "http://127.0.0.1:9/v1",
        }
    )
    embedder = build_embedder(own)
    assert embedder is not None and embedder.model == "e"  # type: ignore[attr-defined]
