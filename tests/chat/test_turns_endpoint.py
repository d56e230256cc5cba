"""Turns against an OpenAI-compatible endpoint: the local server, the real ChatOpenAI."""

from __future__ import annotations

import pytest

from chat.errors import ModelError
from chat.services import Services
from tests.support.factories import make_user
from tests.support.openai_server import FakeOpenAIServer


def stored(services: Services, user_id, conversation_id):  # type: ignore[no-untyped-def]
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return view.messages


def test_streamed_answer_usage_and_exact_context(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_reply("Hello Alice, nice to meet you.", usage=None)
    turn = services.chat.send(user_id=alice.id, conversation_id=None, text="I am Alice.")
    chunks = list(turn.stream())
    assert "".join(chunks) == "Hello Alice, nice to meet you."
    assert len(chunks) >= 5
    openai_server.enqueue_reply("You said you are Alice.")
    turn2 = services.chat.send(
        user_id=alice.id, conversation_id=turn.conversation_id, text="Who am I?"
    )
    list(turn2.stream())

    request = openai_server.chat_requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"
    sent = [(m["role"], m["content"]) for m in request["messages"]]
    assert sent == [
        ("system", services.settings.default_system_prompt),
        ("user", "I am Alice."),
        ("assistant", "Hello Alice, nice to meet you."),
        ("user", "Who am I?"),
    ]
    messages = stored(services, alice.id, turn.conversation_id)
    reply = messages[-1]
    assert reply.status == "complete" and reply.content == "You said you are Alice."
    assert reply.meta["usage"]["input_tokens"] > 0  # the provider's reported usage
    assert reply.meta["model"] == "test-model"
    # the inspector's record equals what the server actually received
    assert reply.context is not None
    logged = [(b["role"], b["content"]) for b in reply.context["blocks"]]
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    assert [(roles[r], c) for r, c in logged] == sent


def test_http_500_keeps_the_question_and_offers_retry(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_error(status=500, message="upstream failure")
    turn = services.chat.send(user_id=alice.id, conversation_id=None, text="Still there?")
    with pytest.raises(ModelError) as failure:
        list(turn.stream())
    assert "500" in failure.value.user_message
    messages = stored(services, alice.id, turn.conversation_id)
    assert [(m.role, m.status) for m in messages] == [("human", "complete"), ("ai", "error")]
    assert messages[-1].meta["error"]

    openai_server.enqueue_reply("Yes, back again.")
    retry = services.chat.retry(
        user_id=alice.id, conversation_id=turn.conversation_id, reply_id=turn.reply_id
    )
    assert "".join(retry.stream()) == "Yes, back again."
    messages = stored(services, alice.id, turn.conversation_id)
    assert [(m.role, m.status, m.content) for m in messages] == [
        ("human", "complete", "Still there?"),
        ("ai", "complete", "Yes, back again."),
    ]
    # the retried request carried the question exactly once
    users = [m for m in openai_server.chat_requests[-1]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == ["Still there?"]


def test_connection_dropped_mid_stream_keeps_what_the_user_saw(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    openai_server.enqueue_drop(after_tokens=3, text="one two three four five six")
    turn = services.chat.send(user_id=alice.id, conversation_id=None, text="Count for me")
    seen: list[str] = []
    with pytest.raises(ModelError) as failure:
        for chunk in turn.stream():
            seen.append(chunk)
    assert "connection" in failure.value.user_message.lower()
    reply = stored(services, alice.id, turn.conversation_id)[-1]
    assert reply.status == "error"
    assert reply.content == "".join(seen) == "one two three"
