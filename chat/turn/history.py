"""A LangChain chat history over our PostgreSQL tables, and the factory that checks ownership.

`messages` is the conversation's memory-strategy view (bounded reads, never every row),
read when asked for; the factory checks first that the conversation is the user's.
`add_messages` is an idempotent insert by message id: the turn engine stores the question
and the answer's row before the model runs and settles them itself, so
RunnableWithMessageHistory's own save afterwards finds them stored and adds nothing (the
model's reply is the row the config names as `reply_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

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
    """One conversation's history as the model sees it: its memory strategy's view."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        strategy: MemoryStrategy,
        request: ViewRequest,
        reply_id: uuid.UUID | None = None,
    ) -> None:
        self.sessions = sessions
        self.reply_id = reply_id  # the answer's row: the model's reply is saved as it
        self.strategy = strategy
        self.request = request
        self.user_id = request.user_id
        self.conversation_id = request.conversation_id
        self.view: ContextView | None = None  # the last view read

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        request = self.strategy.prepare(self.request)  # network work, before the transaction
        with unit_of_work(self.sessions) as session:
            self.view = read_view(session, self.strategy, request)
        return list(self.view.messages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store each message whose id is not stored yet (a message without an id is
        always new; the model's reply is the answer's row when one is named). The turn engine
        has stored both already: one read finds them."""
        ids = [
            self.reply_id
            if self.reply_id is not None and isinstance(message, AIMessage)
            else _uuid_or_none(message.id)
            for message in messages
        ]
        with unit_of_work(self.sessions) as session:
            stored = repository.stored_message_ids(
                session=session,
                user_id=self.user_id,
                conversation_id=self.conversation_id,
                ids=[message_id for message_id in ids if message_id is not None],
            )
            for message, message_id in zip(messages, ids, strict=True):
                if message_id in stored:
                    continue
                content = message.text if not isinstance(message.content, str) else message.content
                repository.add_message(
                    session=session,
                    user_id=self.user_id,
                    conversation_id=self.conversation_id,
                    role=role_of(message),
                    content=content,
                    token_count=count_message_tokens(message),
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


HistoryFactory = Callable[..., PostgresChatHistory]


def history_factory(sessions: sessionmaker[Session]) -> HistoryFactory:
    """The `get_session_history` of RunnableWithMessageHistory, keyed on
    (user_id, conversation_id). `reply_id` names the answer's row, stored before the model
    runs. `turn` is the turn's own input (the system prompt it sends
    and its question), which some strategies budget or search by. A conversation of
    another user is NotFound, and nothing of it is read."""

    def get_session_history(
        user_id: str, conversation_id: str, turn: ViewRequest | None = None, reply_id: str = ""
    ) -> PostgresChatHistory:
        uid = parse_id(user_id, what="user")
        cid = parse_id(conversation_id, what="conversation")
        reply = parse_id(reply_id, what="answer") if reply_id else None
        with unit_of_work(sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=uid, conversation_id=cid
            )
            strategy = strategy_for(conversation.memory_strategy, conversation.memory_params)
        request = ViewRequest(
            user_id=uid,
            conversation_id=cid,
            system_prompt=turn.system_prompt if turn else conversation.system_prompt,
            question=turn.question if turn else "",
        )
        return PostgresChatHistory(
            sessions=sessions, strategy=strategy, request=request, reply_id=reply
        )

    return get_session_history
