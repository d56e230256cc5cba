"""Per-user limits in TurnEngine.send: messages per minute and a daily token quota."""

from __future__ import annotations

import dataclasses

import pytest

from chat.errors import LimitReached
from chat.services import Services
from chat.turn.engine import TurnEngine
from tests.support.factories import chat_turn, make_user


def _with(services: Services, **settings: object) -> Services:
    config = services.settings.model_copy(update=settings)
    chat = TurnEngine(
        sessions=services.sessions, settings=config, model_factory=services.turns.model_factory
    )
    return dataclasses.replace(services, settings=config, turns=chat)


def test_messages_per_minute(services: Services) -> None:
    svc = _with(services, messages_per_minute=2)
    user = make_user(svc)
    conversation, _ = chat_turn(svc, user, "one")
    chat_turn(svc, user, "two", conversation)
    with pytest.raises(LimitReached, match="2 messages a minute"):
        svc.turns.send(user_id=user.id, conversation_id=conversation, text="three")
    view = svc.conversations.open(user_id=user.id, conversation_id=conversation)
    assert [m.content for m in view.messages if m.role == "human"] == ["one", "two"]
    # Another user is not limited by it.
    other = make_user(svc)
    chat_turn(svc, other, "hello")


def test_daily_token_quota(services: Services) -> None:
    svc = _with(services, daily_token_quota=10, messages_per_minute=0)
    user = make_user(svc)
    conversation, _ = chat_turn(svc, user, "please tell me a long story about tea and biscuits")
    with pytest.raises(LimitReached, match="today's 10 tokens"):
        svc.turns.send(user_id=user.id, conversation_id=conversation, text="more")


def test_limits_off_by_zero(services: Services) -> None:
    """0 switches a limit off: more questions than the default per-minute limit (20) all go
    through, and no token quota refuses them."""
    svc = _with(services, messages_per_minute=0, daily_token_quota=0)
    user = make_user(svc)
    conversation, _ = chat_turn(svc, user, "question 0")
    for number in range(1, 25):
        chat_turn(svc, user, f"question {number}", conversation)
    view = svc.conversations.open(user_id=user.id, conversation_id=conversation)
    questions = [m.content for m in view.messages if m.role == "human"]
    assert questions == [f"question {number}" for number in range(25)]


def test_a_refused_first_message_creates_no_conversation(services: Services) -> None:
    svc = _with(services, messages_per_minute=1)
    user = make_user(svc)
    chat_turn(svc, user, "one")
    before = svc.conversations.list(user_id=user.id)
    with pytest.raises(LimitReached):
        svc.turns.send(user_id=user.id, conversation_id=None, text="a new chat, too soon")
    assert svc.conversations.list(user_id=user.id) == before
