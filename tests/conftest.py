"""Shared fixtures: a real PostgreSQL, each test in a transaction that is rolled back."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from chat.llm.offline import OfflineChatModel
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage.db import migrate
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.openai_server import FakeOpenAIServer
from tests.support.postgres import fresh_database, server_url

# Fast hashes in tests (the minimum the settings allow); production defaults to 12.
os.environ.setdefault("BCRYPT_ROUNDS", "10")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with server_url() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[URL]:
    with fresh_database(pg_server_url) as url:
        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection per test, inside a transaction that is always rolled back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions that join the test's transaction: their commits become savepoints. The
    turn engine's worker threads use them too, on the test's one connection, so a session
    holds that connection for itself while it is open."""

    class SerialSession(Session):
        one_at_a_time = threading.RLock()

        def __enter__(self) -> SerialSession:
            self.one_at_a_time.acquire()
            return super().__enter__()

        def __exit__(self, *exc: object) -> None:
            try:
                super().__exit__(*exc)  # type: ignore[arg-type]
            finally:
                self.one_at_a_time.release()

    return sessionmaker(
        bind=connection,
        class_=SerialSession,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url="postgresql://unused",  # services are handed a ready engine
        openai_api_key=None,
        offline_token_delay=0.0,
        bcrypt_rounds=10,
        cookie_key="k" * 48,
    )


@pytest.fixture
def services(
    settings: Settings, connection: Connection, sessions: sessionmaker[Session]
) -> Iterator[Services]:
    """The app's real services over the test transaction, with the offline model. Answers
    still generating when the test ends finish before its transaction is rolled back."""
    built = build_services(
        settings,
        engine=connection.engine,
        sessions=sessions,
        model_factory=lambda name: OfflineChatModel(),
    )
    yield built
    assert built.turns.drain(timeout=60), "an answer was still generating after 60 s"


@pytest.fixture
def slow_services(
    settings: Settings, connection: Connection, sessions: sessionmaker[Session]
) -> Iterator[Services]:
    """As `services`, with an offline model that takes 50 ms a word: time to stop it."""
    built = build_services(
        settings,
        engine=connection.engine,
        sessions=sessions,
        model_factory=lambda name: OfflineChatModel(token_delay=0.05),
    )
    yield built
    assert built.turns.drain(timeout=60), "an answer was still generating after 60 s"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for every browser test of the session (e2e and faults): a
    second sync Playwright cannot start while one is open."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A local OpenAI-compatible endpoint, driven through the real ChatOpenAI client."""
    with FakeOpenAIServer(api_key="sk-test") as server:
        yield server


@pytest.fixture
def endpoint_services(
    settings: Settings,
    connection: Connection,
    sessions: sessionmaker[Session],
    openai_server: FakeOpenAIServer,
) -> Iterator[Services]:
    """The app's services configured for an OpenAI-compatible endpoint (the local server)."""
    configured = settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test"),
            "openai_base_url": openai_server.base_url,
            "models": ["test-model"],
            "model_max_retries": 0,
            "model_timeout": 5.0,
        }
    )
    built = build_services(configured, engine=connection.engine, sessions=sessions)
    yield built
    assert built.turns.drain(timeout=60), "an answer was still generating after 60 s"
