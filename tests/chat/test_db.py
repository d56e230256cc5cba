"""Engine-level behaviour on a real server: migrations once, no connection held while a
model streams, and why the turn service exists (RunnableWithMessageHistory on its own)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from chat.errors import AnswerInProgress
from chat.llm.offline import OfflineChatModel
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage.db import migrate, session_factory
from tests.support.factories import make_user
from tests.support.postgres import fresh_database


@pytest.fixture
def scratch_url(pg_server_url: str) -> Iterator[URL]:
    with fresh_database(pg_server_url, prefix="chat_scratch") as url:
        yield url


def _services_on(engine: Engine, settings: Settings, *, token_delay: float) -> Services:
    """The app's services on a migrated scratch database of their own (a real pool)."""
    migrate(engine)
    return build_services(
        settings,
        engine=engine,
        sessions=session_factory(engine),
        model_factory=lambda name: OfflineChatModel(token_delay=token_delay),
    )


def test_concurrent_starters_migrate_exactly_once(scratch_url: URL) -> None:
    engines = [create_engine(scratch_url) for _ in range(4)]
    barrier, errors = threading.Barrier(len(engines)), []

    def start(engine) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            migrate(engine)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with engines[0].connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        tables = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE tablename = 'messages'")
        ).scalar()
    assert len(versions) == 1 and tables == 1
    for engine in engines:
        engine.dispose()


def test_no_connection_is_held_while_the_model_streams(
    scratch_url: URL, settings: Settings
) -> None:
    """With a pool of one connection, a streaming answer leaves it free: every other unit
    of work gets it at once while the model is slow to answer, and the stored answer is
    updated as it grows."""
    engine = create_engine(scratch_url, pool_size=1, max_overflow=0, pool_timeout=2)
    # Long enough to be saved while it streams (each second, chat/turn/engine.py).
    services = _services_on(engine, settings, token_delay=0.1)
    user = make_user(services)
    turn = services.turns.send(user_id=user.id, conversation_id=None, text="Tell me about tea.")
    stored_lengths = []
    for _chunk in turn.stream():
        view = services.conversations.open(user_id=user.id, conversation_id=turn.conversation_id)
        stored_lengths.append(len(view.messages[-1].content))
    assert turn.outcome.status == "complete" and len(stored_lengths) > 5
    assert max(stored_lengths[:-1]) > 0  # saved while streaming, before the end
    assert turn.wait(30)
    engine.dispose()


def test_runnable_with_message_history_alone_loses_the_question_on_failure() -> None:
    """The library behaviour the turn service works around (see chat/turn/engine.py)."""
    import warnings

    from langchain_core.runnables.history import RunnableWithMessageHistory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = InMemoryChatMessageHistory()
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{q}")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = RunnableWithMessageHistory(
            prompt | OfflineChatModel(fail_with="boom"),
            lambda: store,
            input_messages_key="q",
            history_messages_key="history",
        )
    with pytest.raises(RuntimeError):
        chain.invoke({"q": "Are you there?"})
    assert store.messages == []  # the user's question is gone

    # ...and a stream stopped early is stored as if it were the whole answer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = RunnableWithMessageHistory(
            prompt | OfflineChatModel(),
            lambda: store,
            input_messages_key="q",
            history_messages_key="history",
        )
    stream = chain.stream({"q": "Tell me about tea."})
    next(stream), next(stream)
    stream.close()
    saved = [m.content for m in store.messages]
    full = OfflineChatModel().invoke([HumanMessage("Tell me about tea.")]).content
    assert saved[0] == "Tell me about tea."
    assert len(saved) == 2 and saved[1] and saved[1] != full  # a fragment, kept as an answer


def test_concurrent_sends_to_one_conversation_are_one_at_a_time(
    scratch_url: URL, settings: Settings
) -> None:
    """Six tabs send to one conversation at the same moment, through a real pool: one
    question is answered, the others are refused with a sentence and store nothing (the
    next question must see the answer), and the pool's connections are left clean."""
    engine = create_engine(scratch_url, pool_size=6, max_overflow=0, pool_pre_ping=True)
    services = _services_on(engine, settings, token_delay=0.01)
    user = make_user(services)
    conversation_id = services.turns.new_conversation(user_id=user.id)
    barrier, errors, turns = threading.Barrier(6), [], []

    def send(number: int) -> None:
        try:
            barrier.wait()
            turn = services.turns.send(
                user_id=user.id, conversation_id=conversation_id, text=f"Question {number}?"
            )
            "".join(turn.stream())
            turns.append(turn)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(turns) == 1 and len(errors) == 5
    assert all(isinstance(error, AnswerInProgress) for error in errors)
    assert turns[0].wait(30)
    messages = services.conversations.open(
        user_id=user.id, conversation_id=conversation_id
    ).messages
    assert [(m.position, m.role, m.status) for m in messages] == [
        (1, "human", "complete"),
        (2, "ai", "complete"),
    ]
    assert messages[1].context is not None
    connections = [engine.raw_connection() for _ in range(6)]
    assert [c.driver_connection.autocommit for c in connections] == [False] * 6
    for connection in connections:
        connection.close()
    engine.dispose()
