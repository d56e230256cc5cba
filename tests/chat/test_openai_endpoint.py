"""The model at the network boundary: the real ChatOpenAI client against a real local server.

These tests pin down what the app can rely on from ``langchain_openai.ChatOpenAI`` (and the
``openai`` client under it) when talking to an OpenAI-compatible endpoint: how a stream
arrives, where usage comes from, what is sent, and which exception each failure becomes.
The turn service's error handling (interrupted / error status) is built on these facts.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from langchain_core.exceptions import ModelConnectionError, ModelTimeoutError
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from tests.support.openai_server import FakeOpenAIServer, split_tokens


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def make_llm(server: FakeOpenAIServer, **overrides: Any) -> ChatOpenAI:
    """The client configured as the app configures it (chat completions, stream usage)."""
    options: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": "sk-test",
        "model": "test-model",
        "stream_usage": True,
        "use_responses_api": False,
        "max_retries": 0,
        "timeout": 5,
    }
    options.update(overrides)
    return ChatOpenAI(**options)


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def test_split_tokens_round_trips() -> None:
    for text in ["Hello brave new world", "  lead", "trail  ", "a\n\nb", "   ", ""]:
        assert "".join(split_tokens(text)) == text
    assert split_tokens("Hello brave world") == ["Hello", " brave", " world"]


def test_stream_yields_word_chunks_and_usage(server: FakeOpenAIServer) -> None:
    server.enqueue_reply(
        "The quick brown fox jumps",
        usage={"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    )

    chunks = list(make_llm(server).stream("Tell me about foxes"))

    contents = [c.content for c in chunks if c.content]
    assert contents == ["The", " quick", " brown", " fox", " jumps"]
    message = aggregate(chunks)
    assert message.content == "The quick brown fox jumps"
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 11
    assert message.usage_metadata["output_tokens"] == 5
    assert message.usage_metadata["total_tokens"] == 16
    assert message.response_metadata["finish_reason"] == "stop"
    sent = server.chat_requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_invoke_records_exact_messages(server: FakeOpenAIServer) -> None:
    server.enqueue_reply("Bonjour")

    answer = make_llm(server).invoke(
        [SystemMessage("You are terse."), HumanMessage("Say hello in French")]
    )

    assert answer.content == "Bonjour"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] == 1
    [request] = server.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "test-model"
    assert request["body"].get("stream") in (None, False)
    assert request["body"]["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello in French"},
    ]


def test_empty_queue_echoes_last_user_message(server: FakeOpenAIServer) -> None:
    llm = make_llm(server)

    assert llm.invoke("ping").content == "Echo: ping"
    assert "".join(str(c.content) for c in llm.stream("pong")) == "Echo: pong"


def test_wire_format_is_openai_sse(server: FakeOpenAIServer) -> None:
    """Raw bytes, no client in between: what a non-Python consumer would see."""
    server.enqueue_reply("a b")
    body = {
        "model": "test-model",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = response.read().decode()

    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["a", " b"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_models_endpoint(server: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)

    assert [m.id for m in client.models.list()] == ["test-model"]


def test_server_error_without_retries_raises(server: FakeOpenAIServer) -> None:
    server.enqueue_error(500, "upstream exploded")

    with pytest.raises(openai.InternalServerError, match="upstream exploded") as caught:
        make_llm(server, max_retries=0).invoke("hi")

    assert caught.value.status_code == 500
    assert len(server.requests) == 1


def test_server_error_is_retried_by_the_client(server: FakeOpenAIServer) -> None:
    """With max_retries=1 the openai client retries a 500 on its own (honouring
    retry-after-ms), so a transient upstream error is invisible to the app."""
    server.enqueue_error(500, "transient", retry_after=0.01)
    server.enqueue_reply("recovered")

    answer = make_llm(server, max_retries=1).invoke("hi")

    assert answer.content == "recovered"
    retry_counts = [r["headers"]["x-stainless-retry-count"] for r in server.requests]
    assert retry_counts == ["0", "1"]


def test_dropped_stream_yields_partial_chunks_then_connection_error(
    server: FakeOpenAIServer,
) -> None:
    """A connection closed mid-stream (no terminating chunk, no [DONE]) surfaces, after the
    chunks already received, as langchain-openai's OpenAIConnectionError: an
    openai.APIConnectionError (not APITimeoutError) and a langchain ModelConnectionError,
    caused by the HTTP client's RemoteProtocolError. The app keeps the partial text."""
    server.enqueue_drop(after_tokens=3, text="one two three four five")
    received: list[str] = []

    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in make_llm(server).stream("count"):
            received.append(str(chunk.content))

    assert "".join(received) == "one two three"
    assert [r for r in received if r] == ["one", " two", " three"]
    error = caught.value
    assert not isinstance(error, openai.APITimeoutError)
    assert isinstance(error, ModelConnectionError)
    assert isinstance(error.__cause__, openai.APIConnectionError)
    assert isinstance(error.__cause__.__cause__, httpx2.RemoteProtocolError)


def test_hang_past_client_timeout_raises_timeout(server: FakeOpenAIServer) -> None:
    server.enqueue_hang(5)
    started = time.monotonic()

    with pytest.raises(openai.APITimeoutError) as caught:
        list(make_llm(server, timeout=0.3).stream("hello?"))

    assert time.monotonic() - started < 2
    assert isinstance(caught.value, ModelTimeoutError)


def test_wrong_api_key_is_rejected() -> None:
    with FakeOpenAIServer(api_key="sk-test") as server:
        with pytest.raises(openai.AuthenticationError) as caught:
            make_llm(server, api_key="sk-wrong").invoke("hi")
        assert caught.value.status_code == 401
        assert make_llm(server, api_key="sk-test").invoke("hi").content == "Echo: hi"


def test_concurrent_streams_each_get_their_full_answer() -> None:
    with FakeOpenAIServer(default_token_delay=0.01) as server:
        llm = make_llm(server)
        barrier = threading.Barrier(8)
        results: dict[int, str] = {}
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                barrier.wait(timeout=5)
                prompt = f"user {n} says a few more words here"
                results[n] = "".join(str(c.content) for c in llm.stream(prompt))
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        assert errors == []
        assert results == {n: f"Echo: user {n} says a few more words here" for n in range(8)}
        assert len(server.chat_requests) == 8


def test_request_log_stamps_when_each_answer_was_received_and_finished(
    server: FakeOpenAIServer,
) -> None:
    """The load benchmark tells the model's time from the app's with these stamps."""
    server.enqueue_reply("one two three", token_delay=0.3)
    chunks = make_llm(server).stream("count")

    next(chunks)  # the opening chunk: the server is still sleeping before "one"
    [in_progress] = server.requests
    assert in_progress["finished_at"] is None
    assert "".join(str(c.content) for c in chunks) == "one two three"
    [done] = server.answered()
    assert done["finished_at"] - done["received_at"] >= 0.8  # three 0.3 s waits
