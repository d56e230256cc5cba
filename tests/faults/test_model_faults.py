"""The model endpoint fails: HTTP 500, a connection dropped before or during the stream, a
stream that slows down and stops, no answer at all; and failures another try cannot cure:
nothing listening at the address, a refused key, an unknown model, a refused request.
Through the real ChatOpenAI client against the local OpenAI-compatible server (or a closed
port), with the rows checked in PostgreSQL.

Each time the user gets a plain sentence, the question stays stored, what was shown stays
stored, and Retry reuses the same two rows. What cannot succeed is asked once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from chat.conversations.service import StoredMessage
from chat.errors import ModelError
from chat.services import Services, build_services
from chat.turn.engine import Turn
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer, attempts, closed_port_url

Configure = Callable[..., Services]


@pytest.fixture
def configure(endpoint_services: Services) -> Iterator[Configure]:
    """Builds the endpoint services over the same test transaction, with other model
    settings; their answers, and the work after them, finish before the test's end."""
    built: list[Services] = []

    def configured(**settings: object) -> Services:
        services = build_services(
            endpoint_services.settings.model_copy(update=settings),
            engine=endpoint_services.engine,
            sessions=endpoint_services.sessions,
        )
        built.append(services)
        return services

    yield configured
    for services in built:
        assert services.turns.drain(timeout=60), "an answer was still generating after 60 s"


def rows(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> list[tuple]:
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return [(m.role, m.status, m.content) for m in view.messages]


def last_answer(services: Services, user_id: uuid.UUID, turn: Turn) -> StoredMessage:
    view = services.conversations.open(user_id=user_id, conversation_id=turn.conversation_id)
    return view.messages[-1]


def answer_requests(server: FakeOpenAIServer) -> list[dict]:
    """The requests for answers (streamed), without those made after an answer (memory,
    title), which may already have arrived when the answer's last word is read."""
    return [r for r in server.chat_requests if r.get("stream")]


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
    users = [m for m in answer_requests(server)[-1]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == [turn.question]
    return answer


def test_http_500s_are_retried_with_backoff_then_the_answer_streams(
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_error(500, retry_after=0.05)
    openai_server.enqueue_error(503, retry_after=0.05)
    openai_server.enqueue_reply("Back on my feet.")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Are you there?")
    assert "".join(turn.stream()) == "Back on my feet."
    assert len(answer_requests(openai_server)) == 3
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Are you there?"),
        ("ai", "complete", "Back on my feet."),
    ]


def test_http_500_that_persists_gives_a_sentence_and_retry_reuses_the_rows(
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=2)
    alice = make_user(services)
    for _ in range(3):
        openai_server.enqueue_error(500, message="upstream exploded", retry_after=0.05)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Are you there?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    sentence = failure.value.user_message
    assert sentence == "The model endpoint answered with an error (500). Retry."
    assert "upstream exploded" not in sentence  # the provider's text stays in the log
    # The two retries (model_max_retries) and nothing more: retries never multiply.
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
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    """The endpoint answered 200 and then hung up before any text: the turn service asks
    again, and the user only ever sees the one answer."""
    services = configure(model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_drop(after_tokens=0, text="never shown")
    openai_server.enqueue_reply("Second time lucky.")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    chunks = list(turn.stream())
    assert "".join(chunks) == "Second time lucky."
    assert len(answer_requests(openai_server)) == 2
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Hello?"),
        ("ai", "complete", "Second time lucky."),
    ]
    # The retried request carried the question once, not twice.
    questions = [m for m in answer_requests(openai_server)[-1]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in questions] == ["Hello?"]


def test_streams_that_keep_dropping_before_the_first_word_stop_after_the_retry_budget(
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=1)
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
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=2)
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
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    """Words trickle in, then the endpoint goes silent with the connection open: the read
    timeout ends the wait instead of a spinner that never stops."""
    services = configure(model_max_retries=2, model_timeout=0.8)
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
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=1, model_timeout=0.5)
    alice = make_user(services)
    openai_server.enqueue_hang(5)
    openai_server.enqueue_hang(5)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Anyone home?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    assert failure.value.user_message == (
        "The model took too long to answer. Your message is saved; try again."
    )
    assert len(openai_server.chat_requests) == 2  # one retry, after a backoff
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


# --- failures another try cannot cure: told at once, asked once -------------------------


def test_an_endpoint_where_nothing_listens_is_reported_at_once_with_the_setting_to_check(
    configure: Configure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="openai")
    address = closed_port_url()
    services = configure(
        model_max_retries=2,
        openai_base_url=address,
        openai_api_key=SecretStr("sk-never-shown"),
    )
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    sentence = failure.value.user_message
    origin = address.removesuffix("/v1")
    assert sentence == (
        "The model could not be reached. Your message is saved; retry once it is back. "
        f"For an administrator: nothing accepted a connection at {origin}; check "
        "OPENAI_BASE_URL and that the model server is running."
    )
    assert "sk-never-shown" not in sentence
    assert attempts(caplog) == 1  # neither the client nor the turn service tried again
    assert rows(services, alice.id, turn.conversation_id) == [
        ("human", "complete", "Hello?"),
        ("ai", "error", ""),
    ]
    assert last_answer(services, alice.id, turn).meta["error"] == sentence


def test_a_refused_api_key_is_reported_after_one_request(
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=2, openai_api_key=SecretStr("sk-wrong-key"))
    alice = make_user(services)
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    sentence = failure.value.user_message
    assert sentence == (
        "The model endpoint refused the app's API key. Your message is saved. For an "
        f"administrator: check OPENAI_API_KEY (the key for http://127.0.0.1:{openai_server.port})."
    )
    assert "sk-wrong-key" not in sentence
    assert len(openai_server.requests) == 1
    assert [r[:2] for r in rows(services, alice.id, turn.conversation_id)] == [
        ("human", "complete"),
        ("ai", "error"),
    ]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (
            403,
            "permission_denied",
            "The model endpoint does not let the app's API key use this model. Your message "
            "is saved. For an administrator: check OPENAI_API_KEY's access, or MODELS.",
        ),
        (
            404,
            "model_not_found",
            "The model endpoint does not know this model. Your message is saved. "
            "For an administrator: check MODELS, and OPENAI_BASE_URL (http://127.0.0.1:{port}).",
        ),
        (
            400,
            "invalid_value",
            "The model endpoint refused the request (400). Your message is saved; the app's "
            "log has the endpoint's reason.",
        ),
    ],
)
def test_a_request_the_endpoint_refuses_is_not_retried(
    configure: Configure,
    openai_server: FakeOpenAIServer,
    status: int,
    code: str,
    expected: str,
) -> None:
    services = configure(model_max_retries=2)
    alice = make_user(services)
    for _ in range(3):
        openai_server.enqueue_error(
            status, "Not for you: internal detail", type="invalid_request_error", code=code
        )
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    assert failure.value.user_message == expected.format(port=openai_server.port)
    assert "internal detail" not in failure.value.user_message
    assert len(openai_server.chat_requests) == 1
    assert openai_server.pending == 2


def test_a_rate_limit_is_retried_after_the_wait_the_endpoint_asks_for(
    configure: Configure, openai_server: FakeOpenAIServer
) -> None:
    services = configure(model_max_retries=2)
    alice = make_user(services)
    openai_server.enqueue_error(429, "Slow down", type="rate_limit_error", retry_after=0.05)
    openai_server.enqueue_reply("Thanks for waiting.")
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="Hello?")
    assert "".join(turn.stream()) == "Thanks for waiting."
    assert len(answer_requests(openai_server)) == 2
