"""Which model calls are tried again, through the models the app builds (chat/llm/factory.py)
against the local OpenAI-compatible server or a port where nothing listens.

The answer stream's retries are in tests/faults/test_model_faults.py; these are the whole
answers (titles, summaries, facts) and embeddings, which follow the same rule: a failure
another try may cure is retried, one that cannot is raised after a single request.
"""

from __future__ import annotations

import logging

import openai
import pytest
from pydantic import SecretStr

from chat.llm.factory import build_embedder, build_model
from chat.settings import Settings
from chat.turn.model_errors import describe_model_error, endpoint_unreachable
from chat.turn.retrying import is_transient
from tests.support.openai_server import FakeOpenAIServer, attempts, closed_port_url


def endpoint_settings(settings: Settings, base_url: str, **overrides: object) -> Settings:
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test"),
            "openai_base_url": base_url,
            "models": ["test-model"],
            "model_max_retries": 2,
            "model_timeout": 5.0,
            **overrides,
        }
    )


def test_a_whole_answer_is_retried_after_a_server_error(
    settings: Settings, openai_server: FakeOpenAIServer
) -> None:
    model = build_model(endpoint_settings(settings, openai_server.base_url))
    openai_server.enqueue_error(503, retry_after=0.01)
    openai_server.enqueue_reply("A title")
    assert model.invoke("Name this conversation").content == "A title"
    assert len(openai_server.chat_requests) == 2


def test_a_whole_answer_with_a_refused_key_is_asked_once(
    settings: Settings, openai_server: FakeOpenAIServer
) -> None:
    model = build_model(
        endpoint_settings(settings, openai_server.base_url, openai_api_key=SecretStr("sk-no"))
    )
    with pytest.raises(openai.AuthenticationError):
        model.invoke("Name this conversation")
    assert len(openai_server.requests) == 1


def test_a_rate_limit_asking_for_a_long_wait_is_reported_instead_of_waited_for(
    settings: Settings, openai_server: FakeOpenAIServer
) -> None:
    model = build_model(endpoint_settings(settings, openai_server.base_url))
    openai_server.enqueue_error(429, type="rate_limit_error", retry_after=600)
    with pytest.raises(openai.RateLimitError) as failure:
        model.invoke("Name this conversation")
    assert len(openai_server.chat_requests) == 1
    assert describe_model_error(failure.value) == (
        "The model is busy (rate limited). Wait a moment, then retry."
    )


def test_nothing_listening_is_tried_once_whether_streamed_or_whole(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="openai")
    model = build_model(endpoint_settings(settings, closed_port_url()))
    with pytest.raises(openai.APIConnectionError) as whole:
        model.invoke("Hello?")
    assert attempts(caplog) == 1
    with pytest.raises(openai.APIConnectionError) as streamed:
        list(model.stream("Hello?"))
    assert attempts(caplog) == 2
    for failure in (whole.value, streamed.value):
        assert endpoint_unreachable(failure) and not is_transient(failure)


def test_a_host_name_that_does_not_resolve_is_told_as_such(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="openai")
    # .invalid never resolves (RFC 6761)
    model = build_model(endpoint_settings(settings, "http://model-server.invalid:8000/v1"))
    with pytest.raises(openai.APIConnectionError) as failure:
        model.invoke("Hello?")
    assert attempts(caplog) == 1
    assert describe_model_error(failure.value) == (
        "The model could not be reached. Your message is saved; retry once it is back. "
        "For an administrator: the host name in http://model-server.invalid:8000 could not "
        "be resolved; check OPENAI_BASE_URL and that the model server is running."
    )


def test_a_credential_in_the_base_url_is_never_shown(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url().replace("http://", "http://opsuser:hunter2@") + "?key=secret"
    model = build_model(endpoint_settings(settings, url))
    with pytest.raises(openai.APIConnectionError) as failure:
        model.invoke("Hello?")
    sentence = describe_model_error(failure.value)
    assert "could not be reached" in sentence
    assert "hunter2" not in sentence and "opsuser" not in sentence and "secret" not in sentence


def test_embeddings_follow_the_same_rule(
    settings: Settings, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="openai")
    refused = build_embedder(
        endpoint_settings(
            settings,
            openai_server.base_url,
            embeddings_model="test-embeddings",
            openai_api_key=SecretStr("sk-no"),
        )
    )
    assert refused is not None
    with pytest.raises(openai.AuthenticationError):
        refused.embed_query("Hello")
    assert len(openai_server.requests) == 1

    unreachable = build_embedder(
        endpoint_settings(settings, closed_port_url(), embeddings_model="test-embeddings")
    )
    assert unreachable is not None
    before = attempts(caplog)
    with pytest.raises(openai.APIConnectionError):
        unreachable.embed_documents(["Hello"])
    assert attempts(caplog) == before + 1

    working = build_embedder(
        endpoint_settings(settings, openai_server.base_url, embeddings_model="test-embeddings")
    )
    assert working is not None
    assert len(working.embed_query("Hello there")) > 0
