"""Turns against an OpenAI-compatible endpoint: the local server, the real ChatOpenAI.

The endpoint's failures (HTTP 500, drops, stalls, timeouts) are in tests/faults/.
"""

from __future__ import annotations

from chat.services import Services
from tests.support.factories import last_context, make_user
from tests.support.openai_server import FakeOpenAIServer


def stored(services: Services, user_id, conversation_id):  # type: ignore[no-untyped-def]
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    return view.messages


def test_streamed_answer_usage_and_exact_context(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # one model call an answer
    openai_server.enqueue_reply("Hello Alice, nice to meet you.", usage=None)
    openai_server.enqueue_reply("Meeting Alice")  # the new conversation's title
    turn = services.turns.send(user_id=alice.id, conversation_id=None, text="I am Alice.")
    chunks = list(turn.stream())
    assert "".join(chunks) == "Hello Alice, nice to meet you."
    assert len(chunks) >= 5
    assert turn.wait(30)
    openai_server.enqueue_reply("You said you are Alice.")
    turn2 = services.turns.send(
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
    context = last_context(services, alice.id, turn.conversation_id)
    logged = [(b["role"], b["content"]) for b in context["blocks"]]
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    assert [(roles[r], c) for r, c in logged] == sent
