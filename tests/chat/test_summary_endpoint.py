"""Summary strategies on an OpenAI-compatible endpoint: the local server, the real ChatOpenAI."""

from __future__ import annotations

from chat.services import Services
from tests.support.factories import last_context, make_user
from tests.support.openai_server import FakeOpenAIServer

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def test_summariser_failure_loses_nothing_and_is_retried(
    endpoint_services: Services, openai_server: FakeOpenAIServer
) -> None:
    services = endpoint_services
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # one model call per update
    openai_server.enqueue_reply("Hello Sofia.")
    openai_server.enqueue_reply("Meeting Sofia")  # the new conversation's title
    first = services.turns.send(user_id=alice.id, conversation_id=None, text="I am Sofia.")
    list(first.stream())
    assert first.wait(30)
    cid = first.conversation_id
    services.conversations.set_memory(
        user_id=alice.id, conversation_id=cid, strategy="summary", params={}
    )
    openai_server.enqueue_error(status=500, message="summariser down")
    update = services.turns.update_memory(user_id=alice.id, conversation_id=cid)
    assert update.status == "failed" and update.message and "Nothing is lost" in update.message
    state = services.conversations.summary_state(user_id=alice.id, conversation_id=cid)
    assert state is not None and state.status == "failed" and state.covers_position == 0

    # next turn: the unsummarised messages go verbatim; the summary is retried after it
    openai_server.enqueue_reply("You are Sofia.")
    openai_server.enqueue_reply("The user is called Sofia.")
    second = services.turns.send(user_id=alice.id, conversation_id=cid, text="Who am I?")
    list(second.stream())
    assert second.wait(30)
    sent = [(m["role"], m["content"]) for m in openai_server.chat_requests[-2]["messages"]]
    assert sent[1:] == [
        ("user", "I am Sofia."),
        ("assistant", "Hello Sofia."),
        ("user", "Who am I?"),
    ]
    assert second.outcome.memory_notice is None
    summary_request = openai_server.chat_requests[-1]["messages"]
    assert "I am Sofia." in summary_request[-1]["content"]  # the summariser saw the transcript
    state = services.conversations.summary_state(user_id=alice.id, conversation_id=cid)
    assert state is not None and state.status == "ok" and state.covers_position == 4
    assert state.content == "The user is called Sofia."

    # the inspector's record equals what the server actually received, summary included
    openai_server.enqueue_reply("Sofia.")
    openai_server.enqueue_reply("The user is Sofia.")
    third = services.turns.send(user_id=alice.id, conversation_id=cid, text="Name?")
    list(third.stream())
    assert third.wait(30)
    received = [(m["role"], m["content"]) for m in openai_server.chat_requests[-2]["messages"]]
    messages = services.conversations.open(user_id=alice.id, conversation_id=cid).messages
    context = last_context(services, alice.id, cid)
    logged = [(ROLES[b["role"]], b["content"]) for b in context["blocks"]]
    assert logged == received
    assert [b["kind"] for b in context["blocks"]] == ["system", "summary", "input"]
    assert "The user is called Sofia." in received[1][1]
    assert len(messages) == 6  # nothing rewritten, nothing lost
