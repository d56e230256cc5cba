"""Regenerate and edit-last: same rows, no duplicates, and the next turn sees the change."""

from __future__ import annotations

import pytest

from chat.errors import InvalidInput
from chat.services import Services
from tests.support.factories import chat_turn, last_context, make_user
from tests.support.openai_server import FakeOpenAIServer


def rows(services: Services, user_id, conversation_id):  # type: ignore[no-untyped-def]
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.position, m.role, m.status, m.content) for m in view.messages]


def test_edit_last_message_replaces_it_and_the_next_turn_sees_the_new_text(
    services: Services,
) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "Hello there.")
    _, _ = chat_turn(services, alice, "My name is Bob.", conversation_id)
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    human, reply = view.messages[-2], view.messages[-1]
    turn = services.turns.edit_last(
        user_id=alice.id, conversation_id=conversation_id, human_id=human.id,
        text="My name is Carol.",
    )  # fmt: skip
    answer = "".join(turn.stream())
    assert (turn.human_id, turn.reply_id) == (human.id, reply.id)
    stored = rows(services, alice.id, conversation_id)
    assert [r[0] for r in stored] == [1, 2, 3, 4]  # no duplicates, no gaps
    assert stored[2:] == [
        (3, "human", "complete", "My name is Carol."),
        (4, "ai", "complete", answer),
    ]
    _, next_answer = chat_turn(services, alice, "What is my name?", conversation_id)
    assert "Carol" in next_answer and "Bob" not in next_answer


def test_regenerate_replaces_the_last_answer_in_place(services: Services) -> None:
    alice = make_user(services)
    conversation_id, first_answer = chat_turn(services, alice, "Tell me about tea.")
    reply_id = (
        services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        .messages[-1]
        .id
    )
    turn = services.turns.regenerate(
        user_id=alice.id, conversation_id=conversation_id, reply_id=reply_id
    )
    again = "".join(turn.stream())
    assert turn.reply_id == reply_id
    stored = rows(services, alice.id, conversation_id)
    assert stored == [(1, "human", "complete", "Tell me about tea."), (2, "ai", "complete", again)]
    # the next turn's context holds exactly one answer to the first question
    chat_turn(services, alice, "Go on.", conversation_id)
    context = last_context(services, alice.id, conversation_id)
    history = [b["content"] for b in context["blocks"] if b["kind"] == "history"]
    assert history == ["Tell me about tea.", again]
    assert first_answer  # a real answer was replaced


def test_only_the_last_exchange_can_be_regenerated_or_edited(services: Services) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "one")
    chat_turn(services, alice, "two", conversation_id)
    first_human, first_reply = services.conversations.open(
        user_id=alice.id, conversation_id=conversation_id
    ).messages[:2]
    with pytest.raises(InvalidInput):
        services.turns.regenerate(
            user_id=alice.id, conversation_id=conversation_id, reply_id=first_reply.id
        )
    with pytest.raises(InvalidInput):
        services.turns.edit_last(
            user_id=alice.id, conversation_id=conversation_id, human_id=first_human.id, text="x"
        )
    assert [r[3] for r in rows(services, alice.id, conversation_id)][::2] == ["one", "two"]


def test_invalid_edit_is_refused_and_changes_nothing(services: Services) -> None:
    alice = make_user(services)
    conversation_id, answer = chat_turn(services, alice, "keep me")
    human = services.conversations.open(user_id=alice.id, conversation_id=conversation_id).messages[
        0
    ]
    with pytest.raises(InvalidInput):
        services.turns.edit_last(
            user_id=alice.id, conversation_id=conversation_id, human_id=human.id, text="  "
        )
    assert rows(services, alice.id, conversation_id) == [
        (1, "human", "complete", "keep me"),
        (2, "ai", "complete", answer),
    ]


def test_stopped_regeneration_keeps_partial_text_marked(slow_services: Services) -> None:
    services = slow_services
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "Tell me about coffee.")
    reply_id = (
        services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        .messages[-1]
        .id
    )
    turn = services.turns.regenerate(
        user_id=alice.id, conversation_id=conversation_id, reply_id=reply_id
    )
    stream = turn.stream()
    seen = next(stream) + next(stream)
    services.turns.stop(user_id=alice.id, reply_id=reply_id)
    seen += "".join(stream)  # what was on its way when the stop came, if anything
    assert rows(services, alice.id, conversation_id)[-1] == (2, "ai", "interrupted", seen)
    assert turn.wait(30)
    assert rows(services, alice.id, conversation_id)[-1] == (2, "ai", "interrupted", seen)


def test_model_names_a_new_conversation_after_the_answer(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_reply("Prune tomatoes in early summer.")
    openai_server.enqueue_reply('"Pruning Tomato Plants."')
    turn = services.turns.send(
        user_id=alice.id, conversation_id=None, text="When to prune tomatoes?"
    )
    assert "".join(turn.stream()) == "Prune tomatoes in early summer."
    assert turn.wait(30)
    assert len(openai_server.chat_requests) == 2  # the answer, then the title
    assert "title" in str(openai_server.chat_requests[1]["messages"]).lower()
    view = services.conversations.open(user_id=alice.id, conversation_id=turn.conversation_id)
    assert view.title == "Pruning Tomato Plants"
    assert services.turns.name_conversation(turn) is None  # once only
    # later turns are not renamed
    openai_server.enqueue_reply("Yes.")
    second = services.turns.send(user_id=alice.id, conversation_id=turn.conversation_id, text="Ok?")
    "".join(second.stream())
    assert second.wait(30)
    assert len(openai_server.chat_requests) == 3
    assert services.conversations.list(user_id=alice.id)[0].title == "Pruning Tomato Plants"


def test_offline_titles_are_the_heuristic_and_need_no_model_call(services: Services) -> None:
    alice = make_user(services)
    turn = services.turns.send(
        user_id=alice.id, conversation_id=None, text="Tell me about chess openings."
    )
    "".join(turn.stream())
    assert services.turns.name_conversation(turn) is None
    assert services.conversations.list(user_id=alice.id)[0].title == "Chess openings"


def test_temperature_and_profile_reach_the_model(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    conversation_id = services.turns.new_conversation(user_id=alice.id)
    services.conversations.configure(
        user_id=alice.id, conversation_id=conversation_id, model="test-model",
        temperature=0.2, system_prompt="You are a pirate.",
    )  # fmt: skip
    services.profiles.update(
        user_id=alice.id, display_name="Alice Liddell", language="French", about="I like cats."
    )
    openai_server.enqueue_reply("Bonjour.")
    "".join(
        services.turns.send(user_id=alice.id, conversation_id=conversation_id, text="Hi").stream()
    )
    request = openai_server.chat_requests[-1]
    assert request["temperature"] == 0.2
    system = request["messages"][0]["content"]
    assert system.startswith("You are a pirate.")
    assert "Alice Liddell" in system and "answer in French" in system and "I like cats." in system


def test_stop_at_once_settles_the_turn(slow_services: Services) -> None:
    """Stop pressed as soon as the question is sent: nothing stays pending (which would
    read as "answer in progress" for ten minutes), and stopping again changes nothing."""
    services = slow_services
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about tea.")
    services.turns.stop(user_id=alice.id, reply_id=turn.reply_id)
    kept = turn.text_so_far()
    expected = [(1, "human", "complete", "Tell me about tea."), (2, "ai", "interrupted", kept)]
    assert rows(services, alice.id, turn.conversation_id) == expected
    assert turn.wait(30)
    services.turns.stop(user_id=alice.id, reply_id=turn.reply_id)  # idempotent
    assert rows(services, alice.id, turn.conversation_id) == expected
    retry = services.turns.retry(
        user_id=alice.id, conversation_id=turn.conversation_id, reply_id=turn.reply_id
    )
    assert "".join(retry.stream())
