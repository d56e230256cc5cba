"""The turn service: nothing lost on success, stop, model failure or retry."""

from __future__ import annotations

import json

import pytest

from chat.conversations.inspector import block_count, inspect_context
from chat.errors import InvalidInput, ModelError, NotFound
from chat.llm.offline import OfflineChatModel
from chat.services import Services
from chat.settings import Settings
from tests.support.factories import (
    chat_turn,
    last_context,
    make_user,
    rebuilt,
    store_context_log,
)


def rows(services: Services, user_id, conversation_id):  # type: ignore[no-untyped-def]
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.role, m.status, m.content) for m in view.messages]


def test_a_turn_stores_question_and_streamed_answer(services: Services) -> None:
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="My name is Alice.")
    chunks = list(turn.stream())
    assert len(chunks) > 3  # streamed, not one block
    stored = rows(services, alice.id, turn.conversation_id)
    assert stored == [
        ("human", "complete", "My name is Alice."),
        ("ai", "complete", "".join(chunks)),
    ]
    assert turn.outcome.first_token_s is not None and turn.outcome.usage["output_tokens"] > 0


def test_question_is_stored_before_the_model_is_called(
    services: Services, settings: Settings
) -> None:
    alice = make_user(services)
    failing = rebuilt(services, settings, model=OfflineChatModel(fail_with="model exploded"))
    turn = failing.turns.send(user_id=alice.id, conversation_id=None, text="Are you there?")
    with pytest.raises(ModelError):
        list(turn.stream())
    assert turn.outcome.status == "error"
    stored = rows(services, alice.id, turn.conversation_id)
    assert stored == [("human", "complete", "Are you there?"), ("ai", "error", "")]
    # retry with a working model completes the same rows: no duplicates
    retry = services.turns.retry(
        user_id=alice.id, conversation_id=turn.conversation_id, reply_id=turn.reply_id
    )
    answer = "".join(retry.stream())
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Are you there?"),
        ("ai", "complete", answer),
    ]


def test_stopped_stream_keeps_partial_text_marked_interrupted(slow_services: Services) -> None:
    services = slow_services
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about tea.")
    stream = turn.stream()
    seen = [next(stream), next(stream), next(stream)]
    services.turns.stop(user_id=alice.id, reply_id=turn.reply_id)
    seen += list(stream)
    assert turn.wait(30)
    stored = rows(services, alice.id, turn.conversation_id)
    assert stored[-1] == ("ai", "interrupted", "".join(seen))
    assert stored[0] == ("human", "complete", "Tell me about tea.")
    # the next turn sees the partial answer, and the conversation continues normally
    _, answer = chat_turn(services, alice, "Go on.", turn.conversation_id)
    assert stored[-1][2]
    assert "I can see 4 messages" in answer  # system, question, partial answer, new question


def test_retry_only_for_the_last_stopped_answer(services: Services) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "hello")
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    with pytest.raises(InvalidInput):
        services.turns.retry(
            user_id=alice.id, conversation_id=conversation_id, reply_id=view.messages[-1].id
        )


def test_another_user_cannot_write_into_a_conversation(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    conversation_id, _ = chat_turn(services, alice, "mine")
    with pytest.raises(NotFound):
        services.turns.send(user_id=bob.id, conversation_id=conversation_id, text="intrusion")
    assert len(rows(services, alice.id, conversation_id)) == 2


def test_context_log_records_what_the_model_received(services: Services) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "first")
    chat_turn(services, alice, "second", conversation_id)
    context = last_context(services, alice.id, conversation_id)
    kinds = [block["kind"] for block in context["blocks"]]
    assert kinds == ["system", "history", "history", "input"]
    assert context["blocks"][-1]["content"] == "second"
    assert context["total_tokens"] == sum(block["tokens"] for block in context["blocks"])


def test_history_enters_only_through_the_chain(services: Services) -> None:
    """The model sees the stored history plus the new input, once (no duplicate input)."""
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "My name is Zoe.")
    _, answer = chat_turn(services, alice, "What is my name?", conversation_id)
    assert "Zoe" in answer
    context = last_context(services, alice.id, conversation_id)
    inputs = [b for b in context["blocks"] if "my name?" in b["content"]]
    assert len(inputs) == 1


def test_the_context_log_is_stored_by_reference(services: Services) -> None:
    """The stored log names the messages the model received instead of copying them: its
    size does not depend on how long they are, and the inspector rebuilds their text."""
    alice = make_user(services)
    sizes = {}
    for length in (1, 2_000):
        conversation_id, _ = chat_turn(services, alice, "word " * length)
        chat_turn(services, alice, "Go on.", conversation_id)
        view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        stored = view.messages[-1].context
        assert stored is not None
        assert all("content" not in b for b in stored["blocks"] if b["kind"] != "system")
        sizes[length] = len(json.dumps(stored))
        rebuilt = last_context(services, alice.id, conversation_id)
        assert rebuilt["blocks"][1]["content"] == view.messages[0].content
        assert rebuilt["blocks"][2]["content"] == view.messages[1].content
    assert sizes[2_000] - sizes[1] < 20  # only the token counts' digits differ


def test_the_inspector_rebuilds_exactly_what_the_model_received(services: Services) -> None:
    """Each block the inspector shows (text, role, position, tokens, what it refers to) is
    the block the model was sent, whatever the strategy: the stored log's references are
    enough to rebuild it."""
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "My name is Ada and I keep bees.")
    for index in range(4):
        chat_turn(services, alice, f"Give me a tip about hives, number {index}.", conversation_id)
    kinds = set()
    for strategy, params in (
        ("full", {}),
        ("window", {"k": 1}),
        ("budget", {"max_tokens": 120}),
        ("summary", {}),
        ("summary", {}),  # now from its summary
        ("summary_buffer", {"max_tokens": 60}),
        ("summary_buffer", {"max_tokens": 60}),
        ("recall", {"recent_tokens": 40, "recall_tokens": 300}),
        ("full", {}),
    ):
        services.conversations.set_memory(
            user_id=alice.id, conversation_id=conversation_id, strategy=strategy, params=params
        )
        turn = services.turns.send(
            user_id=alice.id, conversation_id=conversation_id, text="What do I keep? Bees?"
        )
        "".join(turn.stream())
        assert turn.wait(30)
        sent = turn.outcome.context
        assert sent is not None
        assert last_context(services, alice.id, conversation_id) == sent, strategy
        view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
        stored = view.messages[-1].context  # what the inspector's label counts
        assert stored is not None and block_count(stored) == len(sent["blocks"])
        position = view.messages[-1].position  # what was left out, read from either
        from_log = inspect_context(stored, reply_position=position)
        from_sent = inspect_context(sent, reply_position=position)
        assert (from_log.left_out, from_log.summarised) == (
            from_sent.left_out,
            from_sent.summarised,
        ), strategy
        kinds |= {block["kind"] for block in sent["blocks"]}
    assert kinds == {"system", "user_memory", "history", "summary", "recalled", "input"}


def test_a_log_that_names_its_history_by_id_still_rebuilds(services: Services) -> None:
    """Logs stored before history messages were named by position keep each one's id,
    role and tokens: the inspector rebuilds them as before."""
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "My name is Ada.")
    turn = services.turns.send(user_id=alice.id, conversation_id=conversation_id, text="Hi?")
    "".join(turn.stream())
    assert turn.wait(30) and turn.outcome.context is not None
    sent = turn.outcome.context
    older_form = {  # the text of what is stored elsewhere left out, nothing else
        **sent,
        "blocks": [
            {k: v for k, v in block.items() if k != "content" or "message_id" not in block}
            for block in sent["blocks"]
        ],
    }
    assert [b["kind"] for b in older_form["blocks"]].count("history") == 2
    store_context_log(services, alice.id, conversation_id, turn.reply_id, older_form)
    assert last_context(services, alice.id, conversation_id) == sent


def test_a_model_is_built_once_for_all_its_turns_and_their_after_answer_work(
    services: Services, settings: Settings
) -> None:
    built: list[str] = []

    def counting_factory(name: str) -> OfflineChatModel:
        built.append(name)
        return OfflineChatModel()

    counted = rebuilt(services, settings, model_factory=counting_factory)
    alice = make_user(counted)
    conversation_id, _ = chat_turn(counted, alice, "I live in Porto and I keep two cats.")
    chat_turn(counted, alice, "Where do I live?", conversation_id)
    assert counted.memory.overview(user_id=alice.id).facts  # learnt after an answer
    assert len(built) == 1


def test_an_answer_stopped_through_its_worker_is_stored_as_stopped(
    slow_services: Services,
) -> None:
    """The worker's own last word on a stopped answer says it was stopped, as the Stop
    button's does: whichever of the two is stored last, the page shows "Stopped" (a stop
    from another process reaches the answer only through its worker)."""
    services = slow_services
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Tell me about tea.")
    stream = turn.stream()
    next(stream)
    turn.stop()  # the flag alone, as a stop asked from another process sets it
    list(stream)
    assert turn.wait(30)
    stored = services.conversations.message(user_id=alice.id, message_id=turn.reply_id)
    assert stored.status == "interrupted"
    assert stored.meta.get("stopped") is True
