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
    engine = create_engine(scratch_url, pool_size=2, max_overflow=0)
    services = _services_on(engine, settings, token_delay=0.01)
    user = make_user(services)
    turn = services.turns.send(user_id=user.id, conversation_id=None, text="Tell me about tea.")
    checked_out = []
    for _chunk in turn.stream():
        checked_out.append(engine.pool.checkedout())  # type: ignore[attr-defined]
    assert len(checked_out) > 5
    assert set(checked_out) == {0}
    assert turn.outcome.status == "complete"
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


def test_concurrent_sends_to_one_conversation_keep_their_order(
    scratch_url: URL, settings: Settings
) -> None:
    """Six tabs send to one conversation at the same moment, through a real pool: each
    question gets its own position with its answer right after it, every answer and its
    context log are stored (the last word is a statement of its own, in autocommit), and
    the pool's connections go back to ordinary transactions."""
    engine = create_engine(scratch_url, pool_size=6, max_overflow=0, pool_pre_ping=True)
    services = _services_on(engine, settings, token_delay=0.001)
    user = make_user(services)
    conversation_id = services.turns.new_conversation(user_id=user.id)
    barrier, errors = threading.Barrier(6), []

    def send(number: int) -> None:
        try:
            barrier.wait()
            turn = services.turns.send(
                user_id=user.id, conversation_id=conversation_id, text=f"Question {number}?"
            )
            "".join(turn.stream())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    view = services.conversations.open(user_id=user.id, conversation_id=conversation_id)
    messages = view.messages
    assert [m.position for m in messages] == list(range(1, 13))
    questions = [m for m in messages if m.role == "human"]
    assert sorted(str(m.content) for m in questions) == [f"Question {n}?" for n in range(6)]
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert (question.role, answer.role) == ("human", "ai")
        assert answer.status == "complete" and answer.content
        assert answer.context is not None
        sent = [block["content"] for block in answer.context["blocks"]]
        assert sent[-1] == question.content  # its own question, last
    connections = [engine.raw_connection() for _ in range(6)]
    assert [c.driver_connection.autocommit for c in connections] == [False] * 6
    for connection in connections:
        connection.close()
    engine.dispose()
