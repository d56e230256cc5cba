"""The database goes away: restarted between two turns, down at start-up, a pool with no
free connection. Restarts and stops happen on the tests' own embedded PostgreSQL.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from chat.errors import DatabaseBusy, DatabaseUnavailable
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage.liveness import Liveness
from tests.support.factories import chat_turn, make_user
from tests.support.own_postgres import OwnPostgres
from tests.support.postgres import fresh_database


def app_settings(settings: Settings, url: URL, **changes: object) -> Settings:
    """The app's settings pointed at `url`: services built from them make their own pooled
    engine (pre-ping and all) and migrate, exactly as a started app does."""
    return settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False), **changes}
    )


@pytest.fixture
def own_url(own_pg: OwnPostgres) -> URL:
    return own_pg.fresh_database(f"faults_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def started(settings: Settings, own_url: URL) -> Iterator[Services]:
    services = build_services(app_settings(settings, own_url))
    yield services
    services.engine.dispose()


def test_restart_between_two_turns_costs_nothing(own_pg: OwnPostgres, started: Services) -> None:
    services = started
    alice = make_user(services)
    conversation_id, first = chat_turn(services, alice, "My name is Ada.")
    pool = services.engine.pool
    assert pool.checkedin() >= 1  # type: ignore[attr-defined]  # connections the restart kills

    own_pg.restart()

    conversation_id, second = chat_turn(services, alice, "What is my name?", conversation_id)
    assert "My name is Ada" in second
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert [(m.role, m.status) for m in view.messages] == [
        ("human", "complete"),
        ("ai", "complete"),
        ("human", "complete"),
        ("ai", "complete"),
    ]
    assert view.messages[1].content == first


def test_database_down_is_a_sentence_and_the_next_call_recovers(
    own_pg: OwnPostgres, started: Services
) -> None:
    services = started
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "Keep this safe.")

    own_pg.stop()
    with pytest.raises(DatabaseUnavailable) as failure:
        services.turns.send(user_id=alice.id, conversation_id=conversation_id, text="Lost?")
    assert failure.value.user_message == (
        "The database is not reachable right now. Your text was not lost; try again."
    )
    with pytest.raises(DatabaseUnavailable):
        services.conversations.open(user_id=alice.id, conversation_id=conversation_id)

    own_pg.start()  # the same services object: no restart of the app
    chat_turn(services, alice, "Back again.", conversation_id)
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert [m.content for m in view.messages if m.role == "human"] == [
        "Keep this safe.",
        "Back again.",
    ]


def test_start_with_the_database_down_raises_a_sentence_then_starts_when_it_returns(
    own_pg: OwnPostgres, settings: Settings, own_url: URL
) -> None:
    configured = app_settings(settings, own_url)
    own_pg.stop()
    with pytest.raises(DatabaseUnavailable) as failure:  # a ChatError: the page shows it
        build_services(configured, track_liveness=True)
    assert "database is not reachable" in failure.value.user_message

    own_pg.start()
    services = build_services(configured, track_liveness=True)
    try:
        assert services.liveness is not None and services.liveness.holds_lock()
        alice = make_user(services)
        _, answer = chat_turn(services, alice, "Hello after the outage.")
        assert answer
    finally:
        assert services.liveness is not None
        services.liveness.stop()
        services.engine.dispose()


def test_liveness_lock_is_taken_again_after_a_database_restart(
    own_pg: OwnPostgres, own_url: URL
) -> None:
    liveness = Liveness(own_url, check_every=0.2).start()
    try:
        instance = liveness.instance_id
        assert liveness.holds_lock()
        own_pg.restart()
        deadline = time.monotonic() + 20
        while not liveness.holds_lock():
            assert time.monotonic() < deadline, "the lock was not taken again"
            time.sleep(0.1)
        assert liveness.instance_id == instance  # answers it started still name it
    finally:
        liveness.stop()


@pytest.fixture
def scratch_url(pg_server_url: str) -> Iterator[URL]:
    with fresh_database(pg_server_url, prefix="chat_faults") as url:
        yield url


def test_pool_exhausted_waits_then_says_the_app_is_busy(
    settings: Settings, scratch_url: URL
) -> None:
    services = build_services(
        app_settings(settings, scratch_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    )
    try:
        alice = make_user(services)
        conversation_id, _ = chat_turn(services, alice, "First message.")
        holder = services.engine.connect()  # the only connection, held elsewhere
        holder.exec_driver_sql("SELECT 1")
        try:
            with pytest.raises(DatabaseBusy) as failure:
                services.turns.send(
                    user_id=alice.id, conversation_id=conversation_id, text="Second message."
                )
        finally:
            holder.close()
        assert isinstance(failure.value, DatabaseUnavailable)  # pages handle it the same way
        assert failure.value.user_message == (
            "The app is busy right now and could not reach the database in time. "
            "Your text was not lost; try again in a moment."
        )
        # Nothing half-written; once the connection is free the same call works.
        view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        assert [m.content for m in view.messages if m.role == "human"] == ["First message."]
        chat_turn(services, alice, "Second message.", conversation_id)
        view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        assert [m.content for m in view.messages if m.role == "human"] == [
            "First message.",
            "Second message.",
        ]
    finally:
        services.engine.dispose()


class _ReleaseOnRetry(logging.Handler):
    """Frees the held connection when the turn service says it will try again."""

    def __init__(self, holder: Connection) -> None:
        super().__init__(level=logging.WARNING)
        self.holder = holder
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.retries += 1
            self.holder.close()


def test_an_answer_is_stored_when_the_pool_frees_up_after_the_stream(
    settings: Settings, scratch_url: URL
) -> None:
    """The user has read the answer: a pool that is busy at that moment costs a short wait,
    not the answer."""
    services = build_services(
        app_settings(
            settings,
            scratch_url,
            db_pool_size=1,
            db_max_overflow=0,
            db_pool_timeout=0.3,
            offline_token_delay=0.05,  # the connection is taken while the answer streams
        )
    )
    turns_log = logging.getLogger("chat.turn.engine")
    try:
        alice = make_user(services)
        turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello there.")
        chunks = turn.stream()
        first = next(chunks)  # the history has been read; no connection is checked out now
        holder = services.engine.connect()  # the only connection, taken by someone else
        holder.exec_driver_sql("SELECT 1")
        release = _ReleaseOnRetry(holder)
        turns_log.addHandler(release)
        try:
            rest = "".join(chunks)
        finally:
            turns_log.removeHandler(release)
            holder.close()
        assert release.retries == 1
        assert turn.outcome.status == "complete"
        view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
        assert [(m.role, m.status) for m in view.messages] == [
            ("human", "complete"),
            ("ai", "complete"),
        ]
        assert view.messages[1].content == first + rest
    finally:
        services.engine.dispose()
