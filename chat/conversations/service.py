"""Reading and managing a user's conversations (everything but running a turn)."""

from __future__ import annotations

import builtins
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.auth.preferences import offered_models
from chat.conversations.economics import Economics, token_economics
from chat.conversations.inspector import references, with_texts
from chat.conversations.lab import LabTurn, conversation_transcript
from chat.errors import ChatError, InvalidInput, NotFound
from chat.memory.strategies import STRATEGIES
from chat.memory.summaries import summary_text
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.liveness import STALE_TURN_AFTER
from chat.storage.repository import ConversationSummary, SearchHit
from chat.validation import SEARCH, SYSTEM_PROMPT, clean, validate_title

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredMessage:
    id: uuid.UUID
    position: int
    role: str
    content: str
    status: str
    token_count: int
    meta: dict[str, Any]
    created_at: datetime
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConversationView:
    id: uuid.UUID
    title: str
    model: str
    system_prompt: str
    memory_strategy: str
    memory_params: dict[str, Any]
    messages: list[StoredMessage] = field(default_factory=list)
    earlier: int = 0  # stored messages before the first one shown
    temperature: float | None = None
    pinned: bool = False


@dataclass(frozen=True)
class SummaryState:
    """The summary a summary strategy keeps, for the sidebar."""

    strategy: str
    content: str
    covers_position: int
    token_count: int
    status: str  # ok | failed (kept as it was; retried after the next answer)


class ConversationService:
    def __init__(self, *, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def list(
        self,
        *,
        user_id: uuid.UUID,
        limit: int = 50,
        offset: int = 0,
        after: ConversationSummary | None = None,
    ) -> list[ConversationSummary]:
        """Pinned first, then most recent; `after` is the last row of the previous page."""
        with unit_of_work(self.sessions) as session:
            return repository.list_conversations(
                session=session, user_id=user_id, limit=limit, offset=offset, after=after
            )

    def message(
        self, *, user_id: uuid.UUID, message_id: uuid.UUID, with_context: bool = True
    ) -> StoredMessage:
        """One of the user's messages (e.g. an answer just finished), with its context log
        unless `with_context` is False. NotFound when it is not this user's."""
        with unit_of_work(self.sessions) as session:
            row = repository.get_message(session=session, user_id=user_id, message_id=message_id)
            logs = repository.context_logs(
                session=session,
                user_id=user_id,
                message_ids=[row.id] if with_context and row.role == "ai" else [],
            )
            return stored_message(row, logs[row.id].payload if row.id in logs else None)

    def open(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        limit: int = 200,
        at_message: uuid.UUID | None = None,
        contexts: int | None = None,
    ) -> ConversationView:
        """The conversation with its most recent `limit` messages and their context logs
        (of the last `contexts` messages only, when given), extended back to `at_message`
        (a search result) when it is older than that.
        An answer whose process died mid-stream is shown, and stored, as interrupted.
        NotFound when it is not this user's."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            if at_message is not None:
                target = repository.get_message(
                    session=session, user_id=user_id, message_id=at_message
                )
                if target.conversation_id != conversation_id:
                    raise NotFound("message not found")
                total = repository.count_messages(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                limit = max(limit, total - target.position + 1)
            rows = repository.recent_messages(
                session=session, user_id=user_id, conversation_id=conversation_id, limit=limit
            )
            if any(row.status == "pending" for row in rows) and repository.settle_stale_turns(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                older_than=STALE_TURN_AFTER,
            ):  # an answer whose process died: stored as interrupted, and shown so
                rows = repository.recent_messages(
                    session=session, user_id=user_id, conversation_id=conversation_id, limit=limit
                )
            logs = repository.context_logs(
                session=session,
                user_id=user_id,
                message_ids=[
                    row.id
                    for row in (rows if contexts is None else rows[len(rows) - contexts :])
                    if row.role == "ai"
                ],
            )
            messages = [
                stored_message(row, logs[row.id].payload if row.id in logs else None)
                for row in rows
            ]
            return ConversationView(
                id=conversation.id,
                title=conversation.title,
                model=conversation.model,
                system_prompt=conversation.system_prompt,
                memory_strategy=conversation.memory_strategy,
                memory_params=dict(conversation.memory_params or {}),
                messages=messages,
                earlier=(rows[0].position - 1) if rows else 0,
                temperature=conversation.temperature,
                pinned=conversation.pinned,
            )

    def rename(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str) -> None:
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                title=validate_title(title),
            )

    def set_memory(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        strategy: str,
        params: dict[str, Any],
    ) -> None:
        """Switch the strategy for the next turn; stored messages are left untouched."""
        if strategy not in STRATEGIES:
            raise InvalidInput(f"Unknown memory strategy {strategy!r}.")
        merged = {**STRATEGIES[strategy].defaults, **params}
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                memory_strategy=strategy,
                memory_params=merged,
            )

    def summary_state(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> SummaryState | None:
        """The current strategy's summary, or None when it keeps none (yet)."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            row = repository.get_summary(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                strategy=conversation.memory_strategy,
            )
            if row is None:
                return None
            return SummaryState(
                strategy=row.strategy,
                content=row.content,
                covers_position=row.covers_position,
                token_count=row.token_count,
                status=row.status,
            )

    def available_models(self) -> builtins.list[str]:
        """The configured models, plus the offline model (always there, needs no network)."""
        return offered_models(self.settings)

    def set_pinned(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, pinned: bool) -> None:
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id, pinned=pinned
            )

    def delete(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """Delete the conversation and everything stored with it. NotFound if not the user's."""
        with unit_of_work(self.sessions) as session:
            repository.delete_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )

    def delete_later(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> Callable[[], bool]:
        """Delete the conversation once UNDO_DELETE_SECONDS have passed; returns `undo`,
        which cancels it and says whether it came in time. NotFound if not the user's (the
        check is made now)."""
        with unit_of_work(self.sessions) as session:
            repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
        guard = threading.Lock()
        pending = threading.Event()
        pending.set()

        def delete_now() -> None:
            with guard:
                if not pending.is_set():
                    return
                pending.clear()
            try:
                self.delete(user_id=user_id, conversation_id=conversation_id)
            except ChatError:
                log.exception("deleting conversation %s failed", conversation_id)

        def undo() -> bool:
            with guard:
                in_time = pending.is_set()
                pending.clear()
            timer.cancel()
            return in_time

        timer = threading.Timer(self.settings.undo_delete_seconds, delete_now)
        timer.daemon = True
        timer.start()
        return undo

    def configure(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        model: str,
        temperature: float | None,
        system_prompt: str,
    ) -> None:
        """Model, temperature and system prompt (persona) used from the next turn on."""
        if model not in self.available_models():
            raise InvalidInput(f"The model {model!r} is not available here.")
        if temperature is not None and not 0.0 <= temperature <= 2.0:
            raise InvalidInput("Temperature must be between 0 and 2.")
        system_prompt = clean(system_prompt, SYSTEM_PROMPT)
        with unit_of_work(self.sessions) as session:
            repository.update_conversation(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                model=model,
                temperature=temperature,
                system_prompt=system_prompt,
            )

    def context_of(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID
    ) -> dict[str, Any] | None:
        """What the model received for one answer, text included (rebuilt from the
        references its log keeps), or None when the answer has no log."""
        with unit_of_work(self.sessions) as session:
            logs = repository.context_logs(
                session=session, user_id=user_id, message_ids=[message_id]
            )
            log = logs.get(message_id)
            if log is None or log.conversation_id != conversation_id:
                return None
            named = references(log.payload)
            texts = repository.message_texts(
                session=session,
                user_id=user_id,
                message_ids=[uuid.UUID(i) for i in named.message_ids],
            )
            summaries = repository.summary_versions(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                wanted=named.summary_versions,
            )
            history = (
                repository.view_rows_between(
                    session=session,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    first_position=min(first for first, _ in named.history_ranges),
                    last_position=max(last for _, last in named.history_ranges),
                )
                if named.history_ranges
                else []
            )
        return with_texts(
            dict(log.payload),
            messages={str(key): text for key, text in texts.items()},
            summaries={key: summary_text(text) for key, text in summaries.items()},
            history={row.position: row for row in history},
        )

    def economics(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> Economics:
        """Tokens and estimated cost per answer, priced from settings."""
        return token_economics(
            sessions=self.sessions,
            prices=self.settings.model_prices,
            user_id=user_id,
            conversation_id=conversation_id,
        )

    def transcript(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> builtins.list[LabTurn]:
        """The user's questions in one of their conversations, for a Memory lab replay."""
        return conversation_transcript(
            sessions=self.sessions, user_id=user_id, conversation_id=conversation_id
        )

    def search(
        self, *, user_id: uuid.UUID, query: str, limit: int = 20
    ) -> builtins.list[SearchHit]:
        """The user's own titles and messages matching `query`, best first."""
        text = clean(query, SEARCH)
        if not text:  # an empty search box: nothing to look for
            return []
        with unit_of_work(self.sessions) as session:
            return repository.search(
                session=session,
                user_id=user_id,
                query=text,
                websearch=uses_search_syntax(text),
                limit=limit,
            )


_SEARCH_SYNTAX = re.compile(r'"|(?:^|\s)-\w|\sor\s', re.IGNORECASE)


def uses_search_syntax(query: str) -> bool:
    """Whether the query uses web-search syntax ("a phrase", this or that, -without).
    Without it, the query is read like the stored text was, so searching for exactly what
    was typed (code, markup, punctuation) finds it."""
    return bool(_SEARCH_SYNTAX.search(query))


GROUPS = ("Pinned", "Today", "Yesterday", "Previous 7 days", "Older")


def group_by_age(
    items: list[ConversationSummary], *, today: date, tz: Any = None
) -> list[tuple[str, list[ConversationSummary]]]:
    """Sidebar sections in display order (empty ones left out). `today` and `tz` are the
    viewer's, so "Today" means their day, not the server's."""
    groups: dict[str, list[ConversationSummary]] = {name: [] for name in GROUPS}
    for item in items:
        if item.pinned:
            groups["Pinned"].append(item)
            continue
        day = item.updated_at.astimezone(tz).date()
        if day >= today:
            groups["Today"].append(item)
        elif day == today - timedelta(days=1):
            groups["Yesterday"].append(item)
        elif day > today - timedelta(days=8):
            groups["Previous 7 days"].append(item)
        else:
            groups["Older"].append(item)
    return [(name, rows) for name, rows in groups.items() if rows]


def stored_message(row: repository.MessageRow, context: dict[str, Any] | None) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        position=row.position,
        role=row.role,
        content=row.content,
        status=row.status,
        token_count=row.token_count,
        meta=dict(row.meta or {}),
        created_at=row.created_at,
        context=dict(context) if context is not None else None,
    )
