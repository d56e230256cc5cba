"""The history factory and the Postgres history behind RunnableWithMessageHistory."""

from __future__ import annotations

import threading
import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from sqlalchemy import Connection, event

from chat.auth.accounts import Account
from chat.errors import NotFound
from chat.memory.strategies import ContextView, strategy_for
from chat.services import Services
from chat.turn.history import HandedViews, HistoryFactory, history_factory
from tests.support.factories import chat_turn, make_user


def test_factory_returns_the_owners_history(services: Services) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "My name is Alice.")
    history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
    contents = [m.content for m in history.messages]
    assert contents[0] == "My name is Alice."
    assert isinstance(history.messages[1], AIMessage)


def test_factory_refuses_another_users_conversation(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    conversation_id, _ = chat_turn(services, alice, "secret plans")
    factory = history_factory(services.sessions)
    with pytest.raises(NotFound):
        factory(str(bob.id), str(conversation_id))


@pytest.mark.parametrize(
    "conversation_id", ["", "not-a-uuid", "'; DROP TABLE messages; --", str(uuid.uuid4())]
)
def test_factory_refuses_malformed_or_unknown_ids(services: Services, conversation_id: str) -> None:
    alice = make_user(services)
    with pytest.raises(NotFound):
        history_factory(services.sessions)(str(alice.id), conversation_id)


def test_add_messages_is_idempotent_by_id(services: Services) -> None:
    alice = make_user(services)
    conversation_id = services.turns.new_conversation(user_id=alice.id)
    history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
    question = HumanMessage("hello", id=str(uuid.uuid4()))
    history.add_messages([question, AIMessage("hi", id=str(uuid.uuid4()))])
    history.add_messages([question])  # a retried save
    assert [m.content for m in history.messages] == ["hello", "hi"]


def test_window_view_keeps_last_k_turns(services: Services) -> None:
    alice = make_user(services)
    conversation_id = None
    for index in range(5):
        conversation_id, _ = chat_turn(services, alice, f"question {index}", conversation_id)
    assert conversation_id is not None
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=conversation_id, strategy="window", params={"k": 2}
    )
    history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
    humans = [m.content for m in history.messages if isinstance(m, HumanMessage)]
    assert humans == ["question 3", "question 4"]
    assert history.last_view is not None and history.last_view.omitted == 6
    # k larger than the conversation: everything, nothing omitted
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=conversation_id, strategy="window", params={"k": 50}
    )
    history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
    assert len(history.messages) == 10
    assert history.last_view is not None and history.last_view.omitted == 0


def test_full_buffer_and_switching_keeps_every_message(services: Services) -> None:
    alice = make_user(services)
    conversation_id = None
    for index in range(4):
        conversation_id, _ = chat_turn(services, alice, f"q{index}", conversation_id)
    assert conversation_id is not None
    for strategy, params, expected in (("window", {"k": 1}, 2), ("full", {}, 8)):
        services.conversations.set_memory(
            user_id=alice.id, conversation_id=conversation_id, strategy=strategy, params=params
        )
        history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
        assert len(history.messages) == expected
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert len(view.messages) == 8  # switching strategy never deleted anything


def test_saves_skip_the_rows_someone_else_writes(services: Services) -> None:
    """The turn service writes the rows of its turns in flight; the chain's save, through
    this history, leaves them alone and stores anything else."""
    alice = make_user(services)
    conversation_id = services.turns.new_conversation(user_id=alice.id)
    theirs, mine = uuid.uuid4(), uuid.uuid4()
    factory = history_factory(services.sessions, written_elsewhere={theirs})
    history = factory(str(alice.id), str(conversation_id))
    history.add_messages([HumanMessage("not mine to store", id=str(theirs))])
    history.add_messages([HumanMessage("mine", id=str(mine))])
    assert [m.content for m in history.messages] == ["mine"]


def _a_view_handed_over(
    services: Services,
) -> tuple[Account, uuid.UUID, HandedViews, HistoryFactory]:
    """Alice's conversation, and a view of it ("handed over") waiting in this thread."""
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "My name is Alice.")
    handed = HandedViews()
    handed.hand(
        user_id=alice.id,
        conversation_id=conversation_id,
        strategy=strategy_for("window"),
        view=ContextView(messages=[HumanMessage("handed over", id=str(uuid.uuid4()))]),
    )
    return alice, conversation_id, handed, history_factory(services.sessions, handed=handed)


def test_a_handed_view_is_served_once_without_reading(
    services: Services, connection: Connection
) -> None:
    """The turn service reads the view with the question and hands it over: the factory
    call of that turn reads nothing; the next call, with nothing handed, reads the view."""
    alice, conversation_id, handed, factory = _a_view_handed_over(services)
    statements: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *args: statements.append(args[2]))
    first = factory(str(alice.id), str(conversation_id)).messages
    assert [m.content for m in first] == ["handed over"]
    assert statements == [] and len(handed) == 0
    second = factory(str(alice.id), str(conversation_id)).messages
    assert second[0].content == "My name is Alice."
    assert statements  # read from the database this time


def test_a_handed_view_is_only_for_its_own_thread(services: Services) -> None:
    """Two turns of one conversation can run at once (two tabs): a view is taken only by
    the factory call in the thread of the turn that read it."""
    alice, conversation_id, handed, factory = _a_view_handed_over(services)
    elsewhere: list[str] = []
    other = threading.Thread(
        target=lambda: elsewhere.extend(
            str(m.content) for m in factory(str(alice.id), str(conversation_id)).messages
        )
    )
    other.start()
    other.join(timeout=30)
    assert elsewhere[0] == "My name is Alice."
    assert len(handed) == 1  # still waiting for its own turn
    # another user asking for the same conversation gets nothing of it
    with pytest.raises(NotFound):
        factory(str(make_user(services).id), str(conversation_id))
    assert len(handed) == 1


def test_a_turn_leaves_nothing_in_flight(services: Services) -> None:
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hi.")
    chunks = turn.stream()
    next(chunks)
    assert services.turns.rows_in_flight == {turn.human_id, turn.reply_id}
    assert len(services.turns.handed_views) == 0  # the turn's history took its view
    turn.close()
    assert services.turns.rows_in_flight == set()
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert [m.status for m in view.messages] == ["complete", "interrupted"]
