"""Shared test factories: real rows through the app's own services, never pasted SQL."""

from __future__ import annotations

import itertools
import uuid

from chat.accounts import Account
from chat.services import Services

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(services: Services, name: str | None = None, *, role: str = "user") -> Account:
    username = name or f"user{next(_counter)}-{uuid.uuid4().hex[:6]}"
    return services.accounts.create(
        username=username, email=f"{username}@example.com", password=PASSWORD, role=role
    )


def chat_turn(
    services: Services, user: Account, text: str, conversation_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, str]:
    """Run one full turn; returns (conversation id, streamed answer)."""
    turn = services.chat.send(user_id=user.id, conversation_id=conversation_id, text=text)
    answer = "".join(turn.stream())
    return turn.conversation_id, answer
