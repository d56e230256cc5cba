"""The database an entry point opens first: connected (the embedded PostgreSQL started if
needed), migrated, with the accounts on it and the instance's first admin.

All the command line's account and key commands need; it imports no model stack
(LangChain, the openai client), so those commands start in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.accounts import AccountService
from chat.auth.admin import ensure_initial_admin
from chat.auth.api_keys import ApiKeyService
from chat.settings import Settings
from chat.storage.db import (
    database_url,
    make_engine,
    migrate,
    released_on_failure,
    session_factory,
)


@dataclass(frozen=True)
class AccountStore:
    engine: Engine
    sessions: sessionmaker[Session]
    accounts: AccountService
    api_keys: ApiKeyService


def open_account_store(
    settings: Settings,
    *,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> AccountStore:
    """Connect and migrate (unless an engine is handed in), then make sure of the first
    admin. A database that cannot be reached raises DatabaseUnavailable, and an engine made
    here keeps no connections."""
    made: list[Engine] = []
    with released_on_failure(made):
        if engine is None:
            engine = make_engine(database_url(settings), settings)
            made.append(engine)
            migrate(engine)
        sessions = sessions or session_factory(engine)
        accounts = AccountService(sessions=sessions, settings=settings)
        ensure_initial_admin(accounts, settings)
    return AccountStore(
        engine=engine,
        sessions=sessions,
        accounts=accounts,
        api_keys=ApiKeyService(sessions=sessions),
    )
