"""Conversation management: list order and paging, pin, delete, settings, search."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from chat.conversations.service import group_by_age
from chat.errors import InvalidInput, NotFound
from chat.services import Services
from chat.storage.repository import HIGHLIGHT_START, HIGHLIGHT_STOP, ConversationSummary
from tests.support.factories import chat_turn, make_user


def test_list_puts_pinned_first_then_most_recent(services: Services) -> None:
    alice = make_user(services)
    first, _ = chat_turn(services, alice, "first topic")
    second, _ = chat_turn(services, alice, "second topic")
    third, _ = chat_turn(services, alice, "third topic")
    assert [c.id for c in services.conversations.list(user_id=alice.id)] == [
        third,
        second,
        first,
    ]
    services.conversations.set_pinned(user_id=alice.id, conversation_id=first, pinned=True)
    listed = services.conversations.list(user_id=alice.id)
    assert [c.id for c in listed] == [first, third, second]
    assert listed[0].pinned and not listed[1].pinned


def test_keyset_paging_visits_every_conversation_once(services: Services) -> None:
    alice = make_user(services)
    ids = {services.turns.new_conversation(user_id=alice.id, title=f"c{i}") for i in range(7)}
    services.conversations.set_pinned(user_id=alice.id, conversation_id=min(ids), pinned=True)
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = services.conversations.list(user_id=alice.id, limit=3, after=after)
        if not page:
            break
        seen += [row.id for row in page]
        after = page[-1]
    assert len(seen) == 7 and set(seen) == ids
    assert seen[0] == min(ids)  # the pinned one leads


def test_delete_removes_the_conversation_and_its_messages(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    conversation_id, _ = chat_turn(services, alice, "delete me please")
    with pytest.raises(NotFound):
        services.conversations.delete(user_id=bob.id, conversation_id=conversation_id)
    services.conversations.delete(user_id=alice.id, conversation_id=conversation_id)
    assert services.conversations.list(user_id=alice.id) == []
    with pytest.raises(NotFound):
        services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert services.conversations.search(user_id=alice.id, query="delete") == []


def test_other_users_cannot_pin_rename_or_configure(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    conversation_id, _ = chat_turn(services, alice, "mine")
    with pytest.raises(NotFound):
        services.conversations.set_pinned(
            user_id=bob.id, conversation_id=conversation_id, pinned=True
        )
    with pytest.raises(NotFound):
        services.conversations.rename(user_id=bob.id, conversation_id=conversation_id, title="x")
    with pytest.raises(NotFound):
        services.conversations.configure(
            user_id=bob.id, conversation_id=conversation_id, model="offline",
            temperature=0.5, system_prompt="evil",
        )  # fmt: skip


def test_configure_validates_and_stores(services: Services) -> None:
    alice = make_user(services)
    conversation_id, _ = chat_turn(services, alice, "hello")
    services.conversations.configure(
        user_id=alice.id, conversation_id=conversation_id, model="offline",
        temperature=0.3, system_prompt="You are a pirate.",
    )  # fmt: skip
    view = services.conversations.open(user_id=alice.id, conversation_id=conversation_id)
    assert (view.model, view.temperature, view.system_prompt) == (
        "offline",
        0.3,
        "You are a pirate.",
    )
    for model, temperature in (("gpt-9-unknown", 0.5), ("offline", 3.0)):
        with pytest.raises(InvalidInput):
            services.conversations.configure(
                user_id=alice.id, conversation_id=conversation_id, model=model,
                temperature=temperature, system_prompt="",
            )  # fmt: skip


def test_search_ranks_highlights_and_stays_in_the_users_data(services: Services) -> None:
    alice, bob = make_user(services), make_user(services)
    gardening, _ = chat_turn(services, alice, "How do I prune tomato plants in summer?")
    chat_turn(services, alice, "Tell me about chess openings.")
    chat_turn(services, bob, "Bob's secret tomato sauce recipe.")
    hits = services.conversations.search(user_id=alice.id, query="tomatoes")
    assert hits, "stemmed match expected (tomatoes ~ tomato)"
    assert {hit.conversation_id for hit in hits} == {gardening}
    message_hit = next(hit for hit in hits if hit.message_id is not None)
    assert f"{HIGHLIGHT_START}tomato{HIGHLIGHT_STOP}" in message_hit.snippet
    assert all("secret" not in hit.snippet for hit in hits)
    assert services.conversations.search(user_id=bob.id, query="prune") == []
    # the hit opens the conversation with that message in view
    view = services.conversations.open(
        user_id=alice.id, conversation_id=gardening, limit=1, at_message=message_hit.message_id
    )
    assert message_hit.message_id in [m.id for m in view.messages]


def test_open_at_a_message_of_another_conversation_is_not_found(services: Services) -> None:
    alice = make_user(services)
    one, _ = chat_turn(services, alice, "one")
    two, _ = chat_turn(services, alice, "two")
    other_message = services.conversations.open(user_id=alice.id, conversation_id=two).messages[0]
    with pytest.raises(NotFound):
        services.conversations.open(
            user_id=alice.id, conversation_id=one, at_message=other_message.id
        )


def _row(days_ago: float, pinned: bool = False) -> ConversationSummary:
    when = datetime(2026, 5, 20, 12, tzinfo=UTC) - timedelta(days=days_ago)
    return ConversationSummary(id=uuid.uuid4(), title="t", updated_at=when, pinned=pinned)


def test_group_by_age_uses_the_viewers_day() -> None:
    rows = [_row(0, pinned=True), _row(0), _row(1), _row(3), _row(7), _row(30)]
    groups = group_by_age(rows, today=date(2026, 5, 20), tz=UTC)
    assert [(name, len(items)) for name, items in groups] == [
        ("Pinned", 1),
        ("Today", 1),
        ("Yesterday", 1),
        ("Previous 7 days", 2),
        ("Older", 1),
    ]
