"""The process-wide objects, built once (the entry point caches them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from langchain_core.language_models import BaseChatModel
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.accounts import AccountService
from chat.auth.admin import AdminService, ensure_initial_admin
from chat.auth.profile import ProfileService
from chat.auth.registration import Registration
from chat.conversations.service import ConversationService
from chat.errors import DatabaseUnavailable
from chat.llm.factory import build_embedder, build_model
from chat.memory import vectors
from chat.memory.user_memory import UserMemoryService
from chat.settings import Settings
from chat.storage.db import database_url, make_engine, migrate, session_factory
from chat.storage.liveness import Liveness
from chat.turn.engine import TurnEngine


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    accounts: AccountService
    conversations: ConversationService
    turns: TurnEngine
    registration: Registration
    admin: AdminService
    profiles: ProfileService
    memory: UserMemoryService
    liveness: Liveness | None = None

    def close(self) -> None:
        """Release the liveness lock and the pool (when a cache drops these services)."""
        if self.liveness is not None:
            self.liveness.stop()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    model_factory: Callable[[str], BaseChatModel] | None = None,
    track_liveness: bool = False,
) -> Services:
    """Connect (starting the embedded PostgreSQL if needed), migrate, wire the services.

    `track_liveness`: this process takes its liveness lock (chat/storage/liveness.py), as an app
    process that streams answers must; the command line does not. A database that cannot be
    reached raises DatabaseUnavailable: nothing is cached, so the next page view tries again.
    Tests hand in their own engine/sessions (a rolled-back transaction) and model factory.
    """
    built_engine = engine is None
    try:
        if engine is None:
            engine = make_engine(database_url(settings), settings)
            migrate(engine)
        sessions = sessions or session_factory(engine)
        accounts = AccountService(sessions=sessions, settings=settings)
        registration = Registration(sessions=sessions, settings=settings, accounts=accounts)
        ensure_initial_admin(accounts, settings)
        liveness = Liveness(engine.url).start() if track_liveness else None
        # recall's vector similarity: on when EMBEDDINGS_MODEL is set (process-wide)
        vectors.configure(build_embedder(settings), settings.embeddings_model or "")
    except (OperationalError, DatabaseUnavailable) as exc:
        if built_engine and engine is not None:
            engine.dispose()  # a failed start keeps no connections
        if isinstance(exc, OperationalError):
            raise DatabaseUnavailable() from exc
        raise
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        accounts=accounts,
        conversations=ConversationService(sessions=sessions, settings=settings),
        turns=TurnEngine(
            sessions=sessions,
            settings=settings,
            model_factory=model_factory or partial(build_model, settings),
            liveness=liveness,
        ),
        registration=registration,
        admin=AdminService(
            sessions=sessions, settings=settings, accounts=accounts, registration=registration
        ),
        profiles=ProfileService(sessions=sessions),
        memory=UserMemoryService(sessions=sessions),
        liveness=liveness,
    )
