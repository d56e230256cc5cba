"""Shared test factories: real rows through the app's own services, never pasted SQL."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from chat.auth.accounts import Account
from chat.llm.offline import OfflineChatModel
from chat.services import Services, build_services
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(services: Services, name: str | None = None, *, role: str = "user") -> Account:
    username = name or f"user{next(_counter)}-{uuid.uuid4().hex[:6]}"
    return services.accounts.create(  # as an operator would: not a sign-up from an address
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        role=role,
        actor="tests",
    )


def chat_turn(
    services: Services, user: Account, text: str, conversation_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, str]:
    """Run one full turn, after-answer work included; returns (conversation id, streamed
    answer)."""
    turn = services.turns.send(user_id=user.id, conversation_id=conversation_id, text=text)
    answer = "".join(turn.stream())
    assert turn.wait(60), "the turn's after-answer work did not finish"
    return turn.conversation_id, answer


class Clock:
    """A clock tests move by hand (throttle windows, lifetimes, code expiry)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime, timedelta

        # Ahead of the test transaction's now(), which stamps the rows it creates (users'
        # sessions_valid_after): in real life a login comes after the account exists.
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


def clocked(services: Services, clock: Clock, **settings: object) -> Services:
    """The same services over the same transaction, with `clock` and changed settings."""
    import dataclasses

    from chat.auth.accounts import AccountService
    from chat.auth.admin import AdminService
    from chat.auth.registration import Registration
    from chat.auth.sessions import BrowserSessions

    config = services.settings.model_copy(update=settings)
    accounts = AccountService(sessions=services.sessions, settings=config, clock=clock)
    registration = Registration(sessions=services.sessions, settings=config, accounts=accounts)
    admin = AdminService(
        sessions=services.sessions, settings=config, accounts=accounts, registration=registration
    )
    browser_sessions = BrowserSessions(
        sessions=services.sessions, settings=config, accounts=accounts, clock=clock
    )
    return dataclasses.replace(
        services,
        settings=config,
        accounts=accounts,
        registration=registration,
        admin=admin,
        browser_sessions=browser_sessions,
    )


def last_context(services: Services, user_id: uuid.UUID, conversation_id: uuid.UUID) -> dict:
    """What the model received for the conversation's last answer, text included (as the
    inspector rebuilds it from the stored references)."""
    view = services.conversations.open(user_id=user_id, conversation_id=conversation_id)
    context = services.conversations.context_of(
        user_id=user_id, conversation_id=conversation_id, message_id=view.messages[-1].id
    )
    assert context is not None
    return context


def rebuilt(
    services: Services,
    settings: Settings,
    *,
    model: BaseChatModel | None = None,
    model_factory: Callable[[str], BaseChatModel] | None = None,
) -> Services:
    """The app's services over the same database and transaction as `services`, with
    `settings`, answering with `model` (the offline model unless given), or with the models
    `model_factory` builds."""
    return build_services(
        settings,
        engine=services.engine,
        sessions=services.sessions,
        model_factory=model_factory or (lambda name: model or OfflineChatModel()),
    )


def store_context_log(
    services: Services,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    reply_id: uuid.UUID,
    payload: dict,
) -> None:
    """Store `payload` as an answer's context log, as a log of an earlier form was stored."""
    with unit_of_work(services.sessions) as session:
        repository.upsert_context_log(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            message_id=reply_id,
            strategy="full",
            payload=payload,
        )


def stored_rows(database_url: URL, username: str, conversation_id: uuid.UUID) -> list[tuple]:
    """A conversation's rows as they are, read without the app (opening a conversation in
    the app settles it): (id, role, status, content, meta), oldest first."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            user = repository.get_user_by_username(session=session, username=username)
            assert user is not None
            rows = repository.recent_messages(
                session=session, user_id=user.id, conversation_id=conversation_id, limit=10
            )
            return [(r.id, r.role, r.status, r.content, dict(r.meta or {})) for r in rows]
    finally:
        engine.dispose()
