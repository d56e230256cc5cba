"""The turn service: one user message in, one streamed answer out, nothing lost.

RunnableWithMessageHistory alone saves only on success, so a failing model would lose the
question. Here the question and an empty answer placeholder are stored *before* the model is
called; the chain's own save completes the placeholder; and whatever happens (success, stop,
error, crash) this service has the last word on the answer's text and status. No database
connection is held while the model streams: every write is its own short unit of work.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import openai
from langchain_core import exceptions as lc_errors
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from sqlalchemy.orm import Session, sessionmaker

from chat import repository
from chat.chain import build_chain
from chat.db import unit_of_work
from chat.errors import ChatError, InvalidInput, ModelError, SummaryFailed
from chat.history import history_factory
from chat.limits import check_send_allowed
from chat.memory import strategy_for
from chat.offline_model import title_for
from chat.settings import Settings
from chat.tokens import count_message_tokens, count_text_tokens, tokens_are_approximate
from chat.validation import validate_message

log = logging.getLogger(__name__)

# A turn still pending after this long belongs to a process that died mid-stream.
STALE_TURN_AFTER = timedelta(minutes=10)


class ContextRecorder(BaseCallbackHandler):
    """Keeps exactly what the chat model was sent, for the context inspector."""

    def __init__(self) -> None:
        self.sent: list[BaseMessage] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.sent = list(messages[0]) if messages else []


@dataclass
class TurnOutcome:
    status: str = "pending"  # complete | interrupted | error
    text: str = ""
    error: str | None = None
    first_token_s: float | None = None
    total_s: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] | None = None  # the context log payload, once stored


@dataclass
class Turn:
    """A turn in flight. Iterate `stream()` (e.g. with st.write_stream); `outcome` is final
    once the stream ends or is closed."""

    conversation_id: uuid.UUID
    human_id: uuid.UUID
    reply_id: uuid.UUID
    _chunks: Iterator[str]
    outcome: TurnOutcome
    strategy_name: str = ""

    def stream(self) -> Iterator[str]:
        return self._chunks


class ChatService:
    """Everything a chat page does, as plain functions of (user, conversation, text)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        model_factory: Callable[[str], BaseChatModel],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.model_factory = model_factory
        self.get_history = history_factory(sessions)
        self._chains: dict[str, Any] = {}

    def chain_for(self, model_name: str) -> Any:
        if model_name not in self._chains:
            self._chains[model_name] = build_chain(
                model=self.model_factory(model_name), history_factory=self.get_history
            )
        return self._chains[model_name]

    # --- conversations -------------------------------------------------------------

    def new_conversation(self, *, user_id: uuid.UUID, title: str = "New chat") -> uuid.UUID:
        settings = self.settings
        strategy = strategy_for(settings.default_memory_strategy)
        params = dict(strategy.params)  # the strategy's defaults, editable in the sidebar
        if strategy.name == "window":
            params["k"] = settings.default_window_turns
        with unit_of_work(self.sessions) as session:
            conversation = repository.create_conversation(
                session=session,
                user_id=user_id,
                title=title,
                memory_strategy=strategy.name,
                memory_params=params,
                model=settings.model_choices[0],
                system_prompt=settings.default_system_prompt,
            )
            return conversation.id

    # --- turns ---------------------------------------------------------------------

    def send(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID | None, text: str) -> Turn:
        """Store the question and a placeholder answer, then return the streaming turn.

        Raises InvalidInput or LimitReached (nothing stored), NotFound (not the user's
        conversation) or DatabaseUnavailable before anything streams.
        """
        text = validate_message(text, max_chars=self.settings.max_message_chars)
        check_send_allowed(self.sessions, self.settings, user_id=user_id)
        if conversation_id is None:
            conversation_id = self.new_conversation(user_id=user_id, title=title_for(text))
        human_id, reply_id = uuid.uuid4(), uuid.uuid4()
        with unit_of_work(self.sessions) as session:
            repository.settle_stale_turns(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                older_than=STALE_TURN_AFTER,
            )
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            model_name, system_prompt = conversation.model, conversation.system_prompt
            strategy_name = conversation.memory_strategy
            repository.add_message(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                role="human",
                content=text,
                token_count=count_text_tokens(text),
                status="pending",
                message_id=human_id,
            )
            repository.add_message(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                role="ai",
                content="",
                token_count=0,
                status="pending",
                message_id=reply_id,
                meta={"model": model_name},
            )
        return self._start(
            user_id=user_id,
            conversation_id=conversation_id,
            human=HumanMessage(text, id=str(human_id)),
            reply_id=reply_id,
            model_name=model_name,
            system_prompt=system_prompt or self.settings.default_system_prompt,
            strategy_name=strategy_name,
        )

    def retry(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, reply_id: uuid.UUID) -> Turn:
        """Answer the last question again, reusing both rows: a retry never duplicates."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id, lock=True
            )
            last_two = repository.recent_messages(
                session=session, user_id=user_id, conversation_id=conversation_id, limit=2
            )
            if (
                len(last_two) != 2
                or last_two[1].id != reply_id
                or last_two[0].role != "human"
                or last_two[1].status not in ("error", "interrupted")
            ):
                raise InvalidInput("Only the last answer can be retried, once it has stopped.")
            human_row, reply_row = last_two
            repository.finish_message(
                session=session, user_id=user_id, message_id=human_row.id, status="pending"
            )
            repository.finish_message(
                session=session,
                user_id=user_id,
                message_id=reply_row.id,
                status="pending",
                content="",
                token_count=0,
            )
            model_name, system_prompt = conversation.model, conversation.system_prompt
            strategy_name = conversation.memory_strategy
            human = HumanMessage(human_row.content, id=str(human_row.id))
        return self._start(
            user_id=user_id,
            conversation_id=conversation_id,
            human=human,
            reply_id=reply_id,
            model_name=model_name,
            system_prompt=system_prompt or self.settings.default_system_prompt,
            strategy_name=strategy_name,
        )

    def _start(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        human: HumanMessage,
        reply_id: uuid.UUID,
        model_name: str,
        system_prompt: str,
        strategy_name: str,
    ) -> Turn:
        outcome = TurnOutcome()
        assert human.id is not None
        turn = Turn(
            conversation_id=conversation_id,
            human_id=uuid.UUID(human.id),
            reply_id=reply_id,
            _chunks=iter(()),
            outcome=outcome,
            strategy_name=strategy_name,
        )
        turn._chunks = self._run(
            turn=turn,
            user_id=user_id,
            human=human,
            model_name=model_name,
            system_prompt=system_prompt,
            strategy_name=strategy_name,
        )
        return turn

    def _run(
        self,
        *,
        turn: Turn,
        user_id: uuid.UUID,
        human: HumanMessage,
        model_name: str,
        system_prompt: str,
        strategy_name: str,
    ) -> Iterator[str]:
        outcome = turn.outcome
        recorder = ContextRecorder()
        config = {
            "configurable": {"user_id": str(user_id), "conversation_id": str(turn.conversation_id)},
            "metadata": {"reply_id": str(turn.reply_id)},
            "callbacks": [recorder],
        }
        parts: list[str] = []
        started = time.perf_counter()
        stream = self.chain_for(model_name).stream(
            {"input": [human], "system_prompt": system_prompt}, config=config
        )
        try:
            for chunk in stream:
                usage = getattr(chunk, "usage_metadata", None)
                if usage:
                    outcome.usage = {k: int(v) for k, v in usage.items() if isinstance(v, int)}
                piece = chunk.text
                if not piece:
                    continue
                if outcome.first_token_s is None:
                    outcome.first_token_s = time.perf_counter() - started
                parts.append(piece)
                outcome.text = "".join(parts)
                yield piece
            outcome.status = "complete"
        except GeneratorExit:
            outcome.status = "interrupted"
            raise
        except Exception as exc:
            log.exception("model failed")
            outcome.status = "error"
            outcome.error = describe_model_error(exc)
        finally:
            stream.close()
            outcome.total_s = time.perf_counter() - started
            self._finish(
                turn=turn,
                user_id=user_id,
                model_name=model_name,
                strategy_name=strategy_name,
                sent=recorder.sent,
            )
        if outcome.status == "error":
            raise ModelError(outcome.error)

    def _finish(
        self,
        *,
        turn: Turn,
        user_id: uuid.UUID,
        model_name: str,
        strategy_name: str,
        sent: list[BaseMessage],
    ) -> None:
        outcome = turn.outcome
        meta: dict[str, Any] = {
            "model": model_name,
            "first_token_s": outcome.first_token_s,
            "total_s": outcome.total_s,
            "usage": outcome.usage,
            "strategy": strategy_name,
        }
        if outcome.error:
            meta["error"] = outcome.error
        with unit_of_work(self.sessions) as session:
            repository.finish_message(
                session=session, user_id=user_id, message_id=turn.human_id, status="complete"
            )
            repository.finish_message(
                session=session,
                user_id=user_id,
                message_id=turn.reply_id,
                status=outcome.status,
                content=outcome.text,
                token_count=count_text_tokens(outcome.text) if outcome.text else 0,
                meta=meta,
            )
            if sent:
                outcome.context = context_payload(sent, human_id=turn.human_id)
                repository.save_context_log(
                    session=session,
                    user_id=user_id,
                    conversation_id=turn.conversation_id,
                    message_id=turn.reply_id,
                    strategy=strategy_name,
                    payload=outcome.context,
                )

    # --- memory --------------------------------------------------------------------

    def update_memory(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> MemoryUpdate:
        """Let the conversation's strategy update its state (its summary) once the answer is
        stored. Pages call it after the stream ends, under a visible status. A summariser
        failure is reported, not raised: the answer is already safe, and the next turn
        retries from the same watermark."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            strategy = strategy_for(conversation.memory_strategy, conversation.memory_params)
            model_name = conversation.model
        if not strategy.stateful:
            return MemoryUpdate(status="unchanged")
        try:
            strategy.after_turn(
                sessions=self.sessions,
                user_id=user_id,
                conversation_id=conversation_id,
                model=self.model_factory(model_name),
            )
        except SummaryFailed as exc:
            return MemoryUpdate(status="failed", message=exc.user_message)
        return MemoryUpdate(status="updated")


@dataclass(frozen=True)
class MemoryUpdate:
    status: str  # unchanged (stateless strategy) | updated | failed
    message: str | None = None


def context_payload(sent: list[BaseMessage], *, human_id: uuid.UUID) -> dict[str, Any]:
    """The inspector's record of one answer: each block the model received, with tokens."""
    blocks = []
    for message in sent:
        if message.id == str(human_id):
            kind = "input"
        elif message.id and message.id.startswith("summary"):
            kind = "summary"
        elif message.type == "system" and not message.id:
            kind = "system"
        else:
            kind = "history"
        meta = message.response_metadata or {}
        blocks.append(
            {
                "kind": kind,
                "role": message.type,
                "content": message.text,
                "message_id": message.id,
                "position": meta.get("position"),
                "covers_position": meta.get("covers_position"),
                "tokens": count_message_tokens(message),
            }
        )
    return {
        "blocks": blocks,
        "total_tokens": sum(block["tokens"] for block in blocks),
        "approximate": tokens_are_approximate(),
    }


def describe_model_error(exc: BaseException) -> str:
    """A sentence for the user; the log has the traceback.

    langchain-openai raises classes that are both the openai error and langchain-core's
    provider-neutral Model*Error, so the neutral ones cover any endpoint."""
    if isinstance(exc, ChatError):
        return exc.user_message
    if isinstance(exc, lc_errors.ModelTimeoutError | openai.APITimeoutError):
        return "The model took too long to answer. Your message is saved; try again."
    if isinstance(exc, lc_errors.ModelAuthenticationError | openai.AuthenticationError):
        return "The model endpoint refused our API key. An operator must check OPENAI_API_KEY."
    if isinstance(exc, lc_errors.ModelRateLimitError | openai.RateLimitError):
        return "The model is busy (rate limited). Wait a moment, then retry."
    if isinstance(exc, lc_errors.ContextOverflowError):
        return "The conversation is too long for this model. Pick a bounded memory strategy."
    if isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return "The connection to the model was lost. Your message is saved; retry."
    if isinstance(exc, openai.APIStatusError):
        return f"The model endpoint answered with an error ({exc.status_code}). Retry."
    return "The model failed to answer. Your message is saved; retry."
