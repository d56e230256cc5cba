"""The stored context log: bounded whatever the conversation's length, and read back as
exactly what the model received (chat/turn/store.py, chat/conversations/inspector.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chat.auth.accounts import Account
from chat.conversations.inspector import block_count, inspect_context
from chat.errors import ModelError
from chat.llm.offline import OfflineChatModel
from chat.services import Services
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from tests.support.factories import (
    chat_turn,
    last_context,
    make_user,
    rebuilt,
    store_context_log,
)


@pytest.fixture
def unlimited(services: Services, settings: Settings) -> Services:
    """The services with no per-minute limit: the tests write many questions at once."""
    return rebuilt(services, settings.model_copy(update={"messages_per_minute": 0}))


def add_exchanges(
    services: Services, user: Account, conversation_id: uuid.UUID, count: int, words: int
) -> None:
    """`count` stored exchanges (question, answer) of `words` words each."""
    text = "word " * words
    with unit_of_work(services.sessions) as session:
        for _ in range(count):
            for role in ("human", "ai"):
                repository.add_message(
                    session=session,
                    user_id=user.id,
                    conversation_id=conversation_id,
                    role=role,
                    content=text,
                    token_count=words,
                )


def answer(services: Services, user: Account, conversation_id: uuid.UUID) -> dict[str, Any]:
    """One more turn; what the model received for it."""
    turn = services.turns.send(user_id=user.id, conversation_id=conversation_id, text="And?")
    "".join(turn.stream())
    assert turn.wait(60) and turn.outcome.context is not None
    return turn.outcome.context


def stored_log(services: Services, user: Account, conversation_id: uuid.UUID) -> dict[str, Any]:
    view = services.conversations.open(user_id=user.id, conversation_id=conversation_id)
    assert view.messages[-1].context is not None
    return view.messages[-1].context


def test_a_full_buffer_log_does_not_grow_with_the_conversation(unlimited: Services) -> None:
    """However many history messages the model received, and however long, the stored log
    names them as one range: its size stays the same, and the inspector still rebuilds
    every message."""
    services = unlimited
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # the history alone
    sizes = {}
    for exchanges, words in ((2, 1), (300, 1), (300, 200)):
        conversation_id, _ = chat_turn(services, alice, "Hello.")
        services.conversations.set_memory(
            user_id=alice.id, conversation_id=conversation_id, strategy="full", params={}
        )
        add_exchanges(services, alice, conversation_id, exchanges, words)
        sent = answer(services, alice, conversation_id)
        history = [b for b in sent["blocks"] if b["kind"] == "history"]
        assert len(history) == 2 + 2 * exchanges  # the full buffer: every message

        stored = stored_log(services, alice, conversation_id)
        assert [b for b in stored["blocks"] if b["kind"] == "history"] == [
            {"kind": "history", "first_position": 1, "last_position": 2 + 2 * exchanges}
        ]
        assert block_count(stored) == len(sent["blocks"])
        sizes[(exchanges, words)] = len(json.dumps(stored))
        assert last_context(services, alice.id, conversation_id) == sent
    # only the digits of the counts and the last position differ
    assert max(sizes.values()) - min(sizes.values()) < 20, sizes


def test_history_with_a_gap_is_stored_as_two_ranges(services: Services, settings: Settings) -> None:
    """A failed answer is not sent again: the history around it is two ranges, and the
    inspector rebuilds both without the message the model did not see."""
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # the history alone
    conversation_id, _ = chat_turn(services, alice, "My name is Ada.")
    failing = rebuilt(services, settings, model=OfflineChatModel(fail_with="model exploded"))
    turn = failing.turns.send(user_id=alice.id, conversation_id=conversation_id, text="Hm?")
    with pytest.raises(ModelError):
        list(turn.stream())
    assert turn.wait(30)

    sent = answer(services, alice, conversation_id)
    assert [b["position"] for b in sent["blocks"] if b["kind"] == "history"] == [1, 2, 3]
    chat_turn(services, alice, "Go on.", conversation_id)  # positions 7 and 8
    sent = answer(services, alice, conversation_id)
    positions = [b["position"] for b in sent["blocks"] if b["kind"] == "history"]
    assert positions == [1, 2, 3, 5, 6, 7, 8]  # 4: the failed answer

    stored = stored_log(services, alice, conversation_id)
    assert [b for b in stored["blocks"] if b["kind"] == "history"] == [
        {"kind": "history", "first_position": 1, "last_position": 3},
        {"kind": "history", "first_position": 5, "last_position": 8},
    ]
    assert last_context(services, alice.id, conversation_id) == sent
    reply = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    position = reply.messages[-1].position
    assert inspect_context(stored, reply_position=position).left_out == [(4, 4)]
    assert inspect_context(sent, reply_position=position).left_out == [(4, 4)]


def test_a_log_that_names_each_history_message_by_position_still_rebuilds(
    services: Services,
) -> None:
    """Logs stored before ranges name one history message per block, by its position, and
    hold no block count: the inspector reads them as before."""
    alice = make_user(services)
    services.memory.set_enabled(user_id=alice.id, enabled=False)  # the history alone
    conversation_id, _ = chat_turn(services, alice, "My name is Ada.")
    chat_turn(services, alice, "I keep bees.", conversation_id)
    turn = services.turns.send(user_id=alice.id, conversation_id=conversation_id, text="Hi?")
    "".join(turn.stream())
    assert turn.wait(30) and turn.outcome.context is not None
    sent = turn.outcome.context
    one_per_message = {
        **sent,
        "blocks": [
            {"kind": "history", "position": block["position"]}
            if block["kind"] == "history"
            else {k: v for k, v in block.items() if k != "content" or block["kind"] == "system"}
            for block in sent["blocks"]
        ],
    }
    assert [b["kind"] for b in one_per_message["blocks"]].count("history") == 4
    store_context_log(services, alice.id, conversation_id, turn.reply_id, one_per_message)
    stored = stored_log(services, alice, conversation_id)
    assert "block_count" not in stored
    assert block_count(stored) == len(sent["blocks"]) == 6
    assert last_context(services, alice.id, conversation_id) == sent
    assert inspect_context(stored, reply_position=6).left_out == []
