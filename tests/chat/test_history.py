"""The history factory and the Postgres history behind RunnableWithMessageHistory."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from sqlalchemy import Engine

from chat.errors import NotFound
from chat.memory.strategies import ViewRequest
from chat.services import Services
from chat.turn.history import history_factory
from tests.support.factories import chat_turn, make_user
from tests.support.statements import recorded_statements


def test_factory_returns_the_owners_history(services: Services) -> None:
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # the history alone
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
    "conversation_id",
    ["", "not-a-uuid", "'; DROP TABLE messages; --", "6f1c2a4e-0000-4000-8000-00000000abcd"],
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


def test_saving_messages_stored_already_is_one_read(services: Services, engine: Engine) -> None:
    """The chain's own save after a turn finds the question and the answer stored by the
    engine: one read for both, nothing written."""
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "Hello there.")
    stored = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    question, answer = stored.messages
    # As the chain saves: the reply carries the model's own run id, and the config names
    # the answer's row.
    history = history_factory(services.sessions)(
        str(alice.id), str(conversation_id), reply_id=str(answer.id)
    )
    with recorded_statements(engine) as statements:
        history.add_messages(
            [
                HumanMessage(question.content, id=str(question.id)),
                AIMessage(answer.content, id=f"lc_run--{uuid.uuid4()}"),
            ]
        )
    assert len(statements) == 1 and statements[0].startswith("SELECT messages.id")
    again = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert again.messages == stored.messages


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
    assert history.view is not None and history.view.omitted == 6
    # k larger than the conversation: everything, nothing omitted
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=conversation_id, strategy="window", params={"k": 50}
    )
    history = history_factory(services.sessions)(str(alice.id), str(conversation_id))
    assert len(history.messages) == 10
    assert history.view is not None and history.view.omitted == 0


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


def test_the_chains_own_save_adds_nothing_to_a_turn(services: Services) -> None:
    """The engine stores the question and the answer's row before the model runs;
    RunnableWithMessageHistory's save afterwards finds them by id and adds nothing."""
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hi there.")
    text = "".join(turn.stream())
    assert turn.wait(30)
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert [(m.id, m.role, m.status) for m in view.messages] == [
        (turn.human_id, "human", "complete"),
        (turn.reply_id, "ai", "complete"),
    ]
    assert view.messages[1].content == text


def test_the_view_is_read_with_the_turns_own_input(services: Services) -> None:
    """The factory takes the turn's system prompt and question through the config: a token
    budget counts the prompt this turn sends, not the conversation's stored one."""
    alice = make_user(services)
    conversation_id = None
    for index in range(6):
        conversation_id, _ = chat_turn(services, alice, f"question number {index}", conversation_id)
    assert conversation_id is not None
    services.conversations.set_memory(
        user_id=alice.id,
        conversation_id=conversation_id,
        strategy="budget",
        params={"max_tokens": 200},
    )
    factory = history_factory(services.sessions)
    short = factory(
        str(alice.id),
        str(conversation_id),
        ViewRequest(user_id=alice.id, conversation_id=conversation_id, system_prompt="Be brief."),
    )
    long = factory(
        str(alice.id),
        str(conversation_id),
        ViewRequest(
            user_id=alice.id, conversation_id=conversation_id, system_prompt="Be brief. " * 30
        ),
    )
    assert len(long.messages) < len(short.messages)


def test_a_stopped_turn_keeps_what_was_shown(slow_services: Services) -> None:
    services = slow_services
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Tell me a story.")
    chunks = turn.stream()
    first = next(chunks)
    services.turns.stop(user_id=alice.id, reply_id=turn.reply_id)
    shown = first + "".join(chunks)
    assert turn.wait(30)
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert [m.status for m in view.messages] == ["complete", "interrupted"]
    assert view.messages[1].content == shown and view.messages[1].meta.get("stopped")
