"""A LangChain chat history over our PostgreSQL tables, and the factory that checks ownership.

`messages` is the conversation's memory-strategy view (a bounded query, never every row);
`add_messages` is idempotent by message id, so the turn service can store the question before
the model runs and RunnableWithMessageHistory's own save afterwards does not duplicate it.

The turn service reads the view in the transaction that stores the question, having
checked that the conversation is the user's, and hands it to the factory (HandedViews): a
turn's history then costs no database work of its own. Called without a handed view, the
factory checks ownership and reads the view itself, in one unit of work.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Container, Sequence

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import NotFound
from chat.llm.tokens import count_message_tokens
from chat.memory.strategies import ContextView, MemoryStrategy, ViewRequest, strategy_for
from chat.memory.views import read_view
from chat.storage import repository
from chat.storage.db import unit_of_work


def role_of(message: BaseMessage) -> str:
    """Our stored role for a LangChain message (chunks count as their full type)."""
    if isinstance(message, HumanMessage):
        return "human"
    if isinstance(message, AIMessage):
        return "ai"
    if isinstance(message, SystemMessage):
        return "system"
    raise ValueError(f"cannot store a {message.type!r} message")


def parse_id(value: str | uuid.UUID, *, what: str) -> uuid.UUID:
    """Ids from URLs and configs are untrusted text: a malformed one is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"{what} not found") from exc


class PostgresChatHistory(BaseChatMessageHistory):
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        strategy: MemoryStrategy,
        view: ContextView | None = None,
        written_elsewhere: Container[uuid.UUID] = frozenset(),
    ) -> None:
        self.sessions = sessions
        self.written_elsewhere = written_elsewhere
        self.user_id = user_id
        self.conversation_id = conversation_id
        self.strategy = strategy
        self.last_view: ContextView | None = None
        self._prefetched = view  # read with the ownership check; served once

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        view, self._prefetched = self._prefetched, None
        if view is None:
            with unit_of_work(self.sessions) as session:
                view = read_view(
                    session,
                    self.strategy,
                    ViewRequest(user_id=self.user_id, conversation_id=self.conversation_id),
                )
        self.last_view = view
        return list(view.messages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        self._prefetched = None  # the next read must see what is stored now
        to_store = [m for m in messages if _uuid_or_none(m.id) not in self.written_elsewhere]
        if not to_store:
            return
        with unit_of_work(self.sessions) as session:
            for message in to_store:
                self._store(session, message)

    def _store(self, session: Session, message: BaseMessage) -> None:
        role = role_of(message)
        content = message.text if not isinstance(message.content, str) else message.content
        message_id = _uuid_or_none(message.id)
        tokens = count_message_tokens(message)
        if message_id is not None and role == "ai":
            # A placeholder stored by the turn service is completed, never duplicated.
            if repository.complete_pending_reply(
                session=session,
                user_id=self.user_id,
                conversation_id=self.conversation_id,
                message_id=message_id,
                content=content,
                token_count=tokens,
            ):
                return
        repository.add_message(
            session=session,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
            role=role,
            content=content,
            token_count=tokens,
            message_id=message_id,
        )

    def clear(self) -> None:
        raise NotImplementedError("conversations are deleted through the conversation service")


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class HandedViews:
    """Views the turn service read with the question (chat/turn/store.py), waiting for the
    same turn's history factory call, which takes each once.

    RunnableWithMessageHistory calls the factory in the thread that iterates the chain's
    stream, which is the turn's own thread; so a view is keyed on (user, conversation,
    thread) and a turn never takes another turn's view. A factory call that finds none (a
    retried request, another caller) reads the view itself."""

    def __init__(self) -> None:
        self._views: dict[tuple[uuid.UUID, uuid.UUID, int], tuple[MemoryStrategy, ContextView]] = {}

    def hand(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        strategy: MemoryStrategy,
        view: ContextView,
    ) -> None:
        self._views[(user_id, conversation_id, threading.get_ident())] = (strategy, view)

    def take(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> tuple[MemoryStrategy, ContextView] | None:
        return self._views.pop((user_id, conversation_id, threading.get_ident()), None)

    def __len__(self) -> int:
        return len(self._views)


HistoryFactory = Callable[[str, str], PostgresChatHistory]


def history_factory(
    sessions: sessionmaker[Session],
    *,
    written_elsewhere: Container[uuid.UUID] = frozenset(),
    handed: HandedViews | None = None,
) -> HistoryFactory:
    """The `get_session_history` of RunnableWithMessageHistory, keyed on
    (user_id, conversation_id). Ownership is checked once per turn: here, or, for a view
    in `handed`, by the turn service that read it for that same user and conversation. A
    conversation of another user is NotFound and no data is read.

    `written_elsewhere`: ids of messages whose rows someone else writes (the turn service's
    turns in flight, a live set); the histories' saves skip them."""

    def get_session_history(user_id: str, conversation_id: str) -> PostgresChatHistory:
        uid = parse_id(user_id, what="user")
        cid = parse_id(conversation_id, what="conversation")
        ready = handed.take(user_id=uid, conversation_id=cid) if handed is not None else None
        if ready is not None:
            strategy, view = ready
        else:
            with unit_of_work(sessions) as session:
                conversation = repository.get_conversation(
                    session=session, user_id=uid, conversation_id=cid
                )
                strategy = strategy_for(conversation.memory_strategy, conversation.memory_params)
                request = ViewRequest(
                    user_id=uid, conversation_id=cid, system_prompt=conversation.system_prompt
                )
                view = read_view(session, strategy, request)
        return PostgresChatHistory(
            sessions=sessions,
            user_id=uid,
            conversation_id=cid,
            strategy=strategy,
            view=view,
            written_elsewhere=written_elsewhere,
        )

    return get_session_history
