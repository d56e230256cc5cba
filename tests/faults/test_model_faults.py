"""The model endpoint fails: HTTP 500, a connection dropped before or during the stream, a
stream that slows down and stops, no answer at all. Through the real ChatOpenAI client
against the local OpenAI-compatible server, with the rows checked in PostgreSQL.

Each time the user gets a plain sentence, the question stays stored, what was shown stays
stored, and Retry reuses the same two rows.
"""

from __future__ import annotations

import uuid

import pytest

from chat.conversations.service import StoredMessage
from chat.errors import ModelError
from chat.services import Services, build_services
from chat.turn.engine import Turn
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer


def configured(services: Services, **settings: object) -> Services:
    """The endpoint services over the same test transaction, with other model settings."""
    return build_services(
        services.settings.model_copy(update=settings),
        engine=services.engine,
        sessions=services.sessions,
    )


def rows(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> list[tuple]:
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.role, m.status, m.content) for m in view.messages]


def last_answer(services: Services, user_id: uuid.UUID, turn: Turn) -> StoredMessage:
    view = services.conversations.open(user_id=user_id, conversation_id=turn.conversation_id)
    return view.messages[-1]


def retry_and_finish(
    services: Services, server: FakeOpenAIServer, user_id: uuid.UUID, turn: Turn
) -> str:
    """The user presses Retry under the failed answer; this time the endpoint answers."""
    server.enqueue_reply("Here is the whole answer.")
    retry = services.turns.retry(
        user_id=user_id, conversation_id=turn.conversation_id, reply_id=turn.reply_id
    )
    assert (retry.human_id, retry.reply_id) == (turn.human_id, turn.reply_id)  # same rows
    answer = "".join(retry.stream())
    # the retried request carried the question exactly once
    users = [m for m in server.chat_requests[-1]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == [turn.question]
    return answer


def test_http_500s_are_retried_with_backoff_then_the_answer_streams(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = configured(endpoint_services, model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_error(500, retry_after=0.05)
    openai_server.enqueue_error(503, retry_after=0.05)
    openai_server.enqueue_reply("Back on my feet.")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Are you there?")
    assert "".join(turn.stream()) == "Back on my feet."
    assert len(openai_server.chat_requests) == 3
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Are you there?"),
        ("ai", "complete", "Back on my feet."),
    ]


def test_http_500_that_persists_gives_a_sentence_and_retry_reuses_the_rows(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = configured(endpoint_services, model_max_retries=2)
    alice = make_user(services)
    for _ in range(3):
        openai_server.enqueue_error(500, message="upstream exploded", retry_after=0.05)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Are you there?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    sentence = failure.value.user_message
    assert sentence == "The model endpoint answered with an error (500). Retry."
    assert "upstream exploded" not in sentence  # the provider's text stays in the log
    # The client's own retries (2) and nothing more: retries never multiply.
    assert len(openai_server.chat_requests) == 3
    answer = last_answer(services, alice.id, turn)
    assert (answer.status, answer.content, answer.meta["error"]) == ("error", "", sentence)

    assert retry_and_finish(services, openai_server, alice.id, turn) == (
        "Here is the whole answer."
    )
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Are you there?"),
        ("ai", "complete", "Here is the whole answer."),
    ]


def test_stream_dropped_before_its_first_word_is_retried_unseen(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    """The endpoint answered 200 and then hung up before any text: the client does not
    retry that (the request had succeeded), the turn service does, and the user only ever
    sees the one answer."""
    services = configured(endpoint_services, model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_drop(after_tokens=0, text="never shown")
    openai_server.enqueue_reply("Second time lucky.")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    chunks = list(turn.stream())
    assert "".join(chunks) == "Second time lucky."
    assert len(openai_server.chat_requests) == 2
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Hello?"),
        ("ai", "complete", "Second time lucky."),
    ]
    # The retried request carried the question once, not twice.
    questions = [m for m in openai_server.chat_requests[-1]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in questions] == ["Hello?"]


def test_streams_that_keep_dropping_before_the_first_word_stop_after_the_retry_budget(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = configured(endpoint_services, model_max_retries=1)
    alice = make_user(services)
    for _ in range(3):
        openai_server.enqueue_drop(after_tokens=0)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    assert failure.value.user_message == (
        "The connection to the model was lost. Your message is saved; retry."
    )
    assert len(openai_server.chat_requests) == 2  # one try, one retry
    assert openai_server.pending == 1
    assert [r[:2] for r in rows(services, alice.id, turn.conversation_id)] == [
        ("human", "complete"),
        ("ai", "error"),
    ]


def test_connection_dropped_mid_stream_keeps_the_words_shown_and_is_not_retried(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = configured(endpoint_services, model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_drop(after_tokens=3, text="one two three four five six")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Count for me")
    seen: list[str] = []
    with pytest.raises(ModelError) as failure:
        for chunk in turn.stream():
            seen.append(chunk)
    assert "".join(seen) == "one two three"
    assert failure.value.user_message == (
        "The connection to the model was lost during the answer. What arrived is kept; "
        "retry for a full one."
    )
    assert len(openai_server.chat_requests) == 1  # words were shown: never retried silently
    answer = last_answer(services, alice.id, turn)
    assert (answer.status, answer.content) == ("error", "one two three")
    assert answer.meta["error"] == failure.value.user_message

    assert retry_and_finish(services, openai_server, alice.id, turn) == (
        "Here is the whole answer."
    )
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Count for me"),
        ("ai", "complete", "Here is the whole answer."),
    ]


def test_slow_stream_that_stops_ends_with_a_sentence_and_keeps_what_arrived(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    """Words trickle in, then the endpoint goes silent with the connection open: the read
    timeout ends the wait instead of a spinner that never stops."""
    services = configured(endpoint_services, model_max_retries=2, model_timeout=0.8)
    alice = make_user(services)
    openai_server.enqueue_stall(
        after_tokens=3, seconds=10, text="slowly but surely here it comes", token_delay=0.2
    )
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Take your time")
    seen: list[str] = []
    with pytest.raises(ModelError) as failure:
        for chunk in turn.stream():
            seen.append(chunk)
    assert "".join(seen) == "slowly but surely"
    assert failure.value.user_message == (
        "The model stopped sending its answer. What arrived is kept; retry for a full one."
    )
    assert len(openai_server.chat_requests) == 1
    answer = last_answer(services, alice.id, turn)
    assert (answer.status, answer.content) == ("error", "slowly but surely")

    assert retry_and_finish(services, openai_server, alice.id, turn) == (
        "Here is the whole answer."
    )
    assert [r[:2] for r in rows(services, alice.id, turn.conversation_id)] == [
        ("human", "complete"),
        ("ai", "complete"),
    ]


def test_no_answer_within_the_timeout_is_retried_then_explained(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = configured(endpoint_services, model_max_retries=1, model_timeout=0.5)
    alice = make_user(services)
    openai_server.enqueue_hang(5)
    openai_server.enqueue_hang(5)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Anyone home?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    assert failure.value.user_message == (
        "The model took too long to answer. Your message is saved; try again."
    )
    assert len(openai_server.chat_requests) == 2  # the client's one retry, with backoff
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Anyone home?"),
        ("ai", "error", ""),
    ]

    assert retry_and_finish(services, openai_server, alice.id, turn) == (
        "Here is the whole answer."
    )
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Anyone home?"),
        ("ai", "complete", "Here is the whole answer."),
    ]
