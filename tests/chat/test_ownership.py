"""User B can neither read nor change user A's data through any id-bearing path: open (URL
?c=), rename, memory settings, send, retry (a reply id kept in session state), the chain's
history factory config, pin, configure, delete, regenerate, edit, search, export,
delete-all, and the inspector's context logs."""

from __future__ import annotations

import uuid

import pytest

from chat.errors import NotFound
from chat.services import Services
from chat.storage import repository
from tests.support.factories import chat_turn, make_user


@pytest.fixture
def a_and_b(services: Services) -> tuple[object, object, uuid.UUID, uuid.UUID]:
    alice, bob = make_user(services), make_user(services)
    conversation, _ = chat_turn(services, alice, "alice's secret plan")
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation)
    return alice, bob, conversation, view.messages[-1].id


def test_bob_cannot_read_or_change_alices_conversation(services: Services, a_and_b) -> None:  # type: ignore[no-untyped-def]
    alice, bob, conversation, reply_id = a_and_b
    attempts = [
        lambda: services.conversations.open(user_id=bob.id, conversation_id=conversation),
        lambda: services.conversations.rename(
            user_id=bob.id, conversation_id=conversation, title="pwned"
        ),
        lambda: services.conversations.set_memory(
            user_id=bob.id, conversation_id=conversation, strategy="full", params={}
        ),
        lambda: services.turns.send(user_id=bob.id, conversation_id=conversation, text="hi"),
        lambda: services.turns.retry(
            user_id=bob.id, conversation_id=conversation, reply_id=reply_id
        ),
        lambda: services.turns.get_history(str(bob.id), str(conversation)),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert all(item.id != conversation for item in services.conversations.list(user_id=bob.id))
    after = services.conversations.open(user_id=alice.id, conversation_id=conversation)
    assert after.title != "pwned" and after.memory_strategy == "window"
    assert after.messages[0].content == "alice's secret plan"
    assert len(after.messages) == 2


def test_the_chain_config_cannot_point_at_someone_elses_history(
    services: Services, a_and_b
) -> None:  # type: ignore[no-untyped-def]
    """The same path the turn service uses: RunnableWithMessageHistory's configurable ids."""
    alice, bob, conversation, _ = a_and_b
    chain = services.turns.chain_for("offline")
    config = {
        "configurable": {
            "user_id": str(bob.id),
            "conversation_id": str(conversation),
            "reply_id": "",
            "turn": None,
        }
    }
    with pytest.raises(NotFound):
        chain.invoke(
            {"input": [("human", "what was the plan?")], "system_prompt": ""}, config=config
        )
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation)
    assert len(view.messages) == 2


def test_malformed_and_unknown_ids_are_simply_not_found(services: Services, a_and_b) -> None:  # type: ignore[no-untyped-def]
    _, bob, _, _ = a_and_b
    with pytest.raises(NotFound):
        services.turns.get_history(str(bob.id), "not-a-uuid")
    with pytest.raises(NotFound):
        services.conversations.open(user_id=bob.id, conversation_id=uuid.uuid4())


def test_bob_cannot_reach_alices_data_through_the_conversation_features(
    services: Services, a_and_b
) -> None:  # type: ignore[no-untyped-def]
    """The paths the conversations issue added: pin, configure, delete, regenerate, edit,
    search, export, delete-all, and the inspector's context logs."""
    alice, bob, conversation, reply_id = a_and_b
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation)
    human_id = view.messages[0].id
    attempts = [
        lambda: services.conversations.set_pinned(
            user_id=bob.id, conversation_id=conversation, pinned=True
        ),
        lambda: services.conversations.configure(
            user_id=bob.id,
            conversation_id=conversation,
            model="offline",
            temperature=None,
            system_prompt="leak everything",
        ),
        lambda: services.conversations.delete(user_id=bob.id, conversation_id=conversation),
        lambda: services.turns.regenerate(
            user_id=bob.id, conversation_id=conversation, reply_id=reply_id
        ),
        lambda: services.turns.edit_last(
            user_id=bob.id, conversation_id=conversation, human_id=human_id, text="pwned"
        ),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()

    assert services.conversations.search(user_id=bob.id, query="secret plan") == []
    assert "secret" not in services.profiles.export(user_id=bob.id).json_text
    assert services.profiles.delete_all_conversations(user_id=bob.id) == 0

    # Alice's conversation is untouched, and its inspector record is still hers alone
    after = services.conversations.open(user_id=alice.id, conversation_id=conversation)
    assert [m.content for m in after.messages] == [m.content for m in view.messages]
    assert after.messages[-1].context is not None
    assert services.conversations.search(user_id=alice.id, query="secret plan")
    with services.sessions() as session:
        assert (
            repository.context_logs(session=session, user_id=bob.id, message_ids=[reply_id]) == {}
        )
