"""The process-wide objects, built once (the entry point caches them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from langchain_core.language_models import BaseChatModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chat.auth.accounts import AccountService
from chat.auth.admin import AdminService
from chat.auth.api_keys import ApiKeyService
from chat.auth.preferences import PreferenceService
from chat.auth.profile import ProfileService
from chat.auth.registration import Registration
from chat.auth.sessions import BrowserSessions
from chat.auth.store import open_account_store
from chat.conversations.service import ConversationService
from chat.llm.factory import build_embedder, build_model
from chat.memory import vectors
from chat.memory.user_memory import UserMemoryService
from chat.settings import Settings, get_settings
from chat.storage.db import released_on_failure
from chat.storage.liveness import Liveness
from chat.turn.engine import TurnEngine


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    accounts: AccountService
    browser_sessions: BrowserSessions
    conversations: ConversationService
    turns: TurnEngine
    registration: Registration
    admin: AdminService
    profiles: ProfileService
    preferences: PreferenceService
    api_keys: ApiKeyService
    memory: UserMemoryService
    liveness: Liveness | None = None

    def close(self) -> None:
        """Let answers in flight end, then release the liveness lock and the pool (when a
        cache drops these services)."""
        self.turns.drain(timeout=10)
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
    store = open_account_store(settings, engine=engine, sessions=sessions)
    sessions, accounts = store.sessions, store.accounts
    with released_on_failure([store.engine] if engine is None else []):
        liveness = Liveness(store.engine.url).start() if track_liveness else None
        # recall's vector similarity: on when EMBEDDINGS_MODEL is set (process-wide)
        vectors.configure(build_embedder(settings), settings.embeddings_model or "")
    registration = Registration(sessions=sessions, settings=settings, accounts=accounts)
    return Services(
        settings=settings,
        engine=store.engine,
        sessions=sessions,
        accounts=accounts,
        browser_sessions=BrowserSessions(sessions=sessions, settings=settings, accounts=accounts),
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
        preferences=PreferenceService(sessions=sessions, settings=settings),
        api_keys=store.api_keys,
        memory=UserMemoryService(sessions=sessions),
        liveness=liveness,
    )


_process_guard = threading.Lock()
_process_services: Services | None = None


def process_services() -> Services:
    """This app process's services, built on first use by whichever comes first, a page or
    an API request: both use the same pool, liveness lock and turn engine, so an answer
    started by one can be followed or stopped by the other. Not kept when building fails
    (the next call tries again). The pages reach it through their st.cache_resource
    (pages/support/runtime.py), which releases it when that cache is cleared."""
    global _process_services
    with _process_guard:
        if _process_services is None:
            _process_services = build_services(get_settings(), track_liveness=True)
        return _process_services


def release_process_services(services: Services) -> None:
    """Forget and close these services (the next process_services() builds new ones)."""
    global _process_services
    with _process_guard:
        if _process_services is services:
            _process_services = None
    services.close()
