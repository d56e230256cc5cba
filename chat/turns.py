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
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
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
from chat.liveness import STALE_TURN_AFTER, Liveness
from chat.memory import strategy_for
from chat.offline_model import title_for
from chat.profile import Profile, personalised_prompt
from chat.retrying import RetryPolicy, retrying_stream
from chat.settings import Settings
from chat.titles import name_conversation
from chat.tokens import count_message_tokens, count_text_tokens, tokens_are_approximate
from chat.validation import validate_message

log = logging.getLogger(__name__)


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
    _chunks: Generator[str, None, None]
    outcome: TurnOutcome
    strategy_name: str = ""
    # Set when this was the first exchange and a model should name the conversation
    # (ChatService.name_conversation, called once the answer has streamed).
    needs_title: bool = False
    user_id: uuid.UUID | None = None
    setup: TurnSetup | None = None
    question: str = ""

    _abandon: Callable[[], None] | None = None

    def stream(self) -> Generator[str, None, None]:
        return self._chunks

    def close(self) -> None:
        """End the turn now, whatever state the stream is in. A started stream settles
        itself as interrupted when closed; one that never started (the user pressed stop
        before the first token) runs no code at all, so it is settled here."""
        self._chunks.close()
        if self.outcome.status == "pending" and self._abandon is not None:
            self.outcome.status = "interrupted"
            self._abandon()


def _no_chunks() -> Generator[str, None, None]:
    yield from ()


@dataclass
class TurnSetup:
    """What a turn runs with, read once in the unit of work that stores the question."""

    model_name: str
    temperature: float | None
    system_prompt: str
    strategy_name: str
    title: str
    name_after: str | None = None  # the current title, when this is the first exchange


SETTLED = ("complete", "interrupted", "error")


class ChatService:
    """Everything a chat page does, as plain functions of (user, conversation, text)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        model_factory: Callable[[str], BaseChatModel],
        liveness: Liveness | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.model_factory = model_factory
        # Pending answers name this process, so others can tell when it has died.
        self.instance_id = liveness.instance_id if liveness is not None else None
        self.get_history = history_factory(sessions)
        self._chains: dict[str, Any] = {}

    def chain_for(self, model_name: str, temperature: float | None = None) -> Any:
        key = f"{model_name}@{temperature}"
        if key not in self._chains:
            model: Any = self.model_factory(model_name)
            if temperature is not None:
                # Bound as a call argument: ChatOpenAI sends it with the request; the
                # offline model ignores it.
                model = model.bind(temperature=temperature)
            self._chains[key] = build_chain(model=model, history_factory=self.get_history)
        return self._chains[key]

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
            setup = self._setup(session, user_id=user_id, conversation_id=conversation_id)
            human_row, _ = repository.append_pending_turn(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                human_id=human_id,
                reply_id=reply_id,
                question=text,
                question_tokens=count_text_tokens(text),
                reply_meta={"model": setup.model_name, "instance": self.instance_id},
            )
            if human_row.position == 1:
                setup.name_after = setup.title
        return self._start(
            user_id=user_id,
            conversation_id=conversation_id,
            human=HumanMessage(text, id=str(human_id)),
            reply_id=reply_id,
            setup=setup,
        )

    def retry(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, reply_id: uuid.UUID) -> Turn:
        """Answer the last question again, reusing both rows: a retry never duplicates."""
        return self._restart(
            user_id=user_id,
            conversation_id=conversation_id,
            reply_id=reply_id,
            statuses=("error", "interrupted"),
            refusal="Only the last answer can be retried, once it has stopped.",
        )

    def regenerate(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, reply_id: uuid.UUID
    ) -> Turn:
        """A new answer to the last question in place of the last answer (same rows: the
        old answer is gone from the history the next turn reads)."""
        return self._restart(
            user_id=user_id,
            conversation_id=conversation_id,
            reply_id=reply_id,
            statuses=SETTLED,
            refusal="Only the last answer can be regenerated, once it has finished.",
        )

    def edit_last(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, human_id: uuid.UUID, text: str
    ) -> Turn:
        """Replace the last question's text and answer it again, in the same two rows."""
        text = validate_message(text, max_chars=self.settings.max_message_chars)
        return self._restart(
            user_id=user_id,
            conversation_id=conversation_id,
            human_id=human_id,
            new_text=text,
            statuses=SETTLED,
            refusal="Only your last message can be edited, once its answer has finished.",
        )

    def _restart(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        statuses: tuple[str, ...],
        refusal: str,
        reply_id: uuid.UUID | None = None,
        human_id: uuid.UUID | None = None,
        new_text: str | None = None,
    ) -> Turn:
        """Reset the last exchange (question, answer) to pending and run it again.

        The conversation row is locked, so two tabs cannot restart the same exchange twice;
        the rows keep their ids and positions, so nothing is duplicated or orphaned."""
        with unit_of_work(self.sessions) as session:
            repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id, lock=True
            )
            last_two = repository.recent_messages(
                session=session, user_id=user_id, conversation_id=conversation_id, limit=2
            )
            if (
                len(last_two) != 2
                or last_two[0].role != "human"
                or last_two[1].role != "ai"
                or last_two[1].status not in statuses
                or (reply_id is not None and last_two[1].id != reply_id)
                or (human_id is not None and last_two[0].id != human_id)
            ):
                raise InvalidInput(refusal)
            human_row, reply_row = last_two
            text = human_row.content if new_text is None else new_text
            repository.finish_message(
                session=session,
                user_id=user_id,
                message_id=human_row.id,
                status="pending",
                content=text,
                token_count=count_text_tokens(text),
            )
            repository.finish_message(
                session=session,
                user_id=user_id,
                message_id=reply_row.id,
                status="pending",
                content="",
                token_count=0,
                meta={"instance": self.instance_id},
            )
            setup = self._setup(session, user_id=user_id, conversation_id=conversation_id)
            human = HumanMessage(text, id=str(human_row.id))
            answer_id = reply_row.id
        return self._start(
            user_id=user_id,
            conversation_id=conversation_id,
            human=human,
            reply_id=answer_id,
            setup=setup,
        )

    def _setup(
        self, session: Session, *, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> TurnSetup:
        """What this turn runs with: the conversation's settings and the user's profile."""
        conversation = repository.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        user = repository.get_user(session=session, user_id=user_id)
        # Only a profile the user filled in on the account page personalises the prompt.
        profile = Profile.of(user.display_name, user.profile) if user and user.profile else None
        return TurnSetup(
            model_name=conversation.model,
            temperature=conversation.temperature,
            system_prompt=personalised_prompt(
                conversation.system_prompt or self.settings.default_system_prompt, profile
            ),
            strategy_name=conversation.memory_strategy,
            title=conversation.title,
        )

    def _start(
        self,
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        human: HumanMessage,
        reply_id: uuid.UUID,
        setup: TurnSetup,
    ) -> Turn:
        outcome = TurnOutcome()
        assert human.id is not None
        turn = Turn(
            conversation_id=conversation_id,
            human_id=uuid.UUID(human.id),
            reply_id=reply_id,
            _chunks=_no_chunks(),
            outcome=outcome,
            strategy_name=setup.strategy_name,
        )
        turn._chunks = self._run(turn=turn, user_id=user_id, human=human, setup=setup)
        turn._abandon = lambda: self._finish(
            turn=turn,
            user_id=user_id,
            model_name=setup.model_name,
            strategy_name=setup.strategy_name,
            sent=[],
        )
        turn.user_id, turn.setup, turn.question = user_id, setup, human.text
        return turn

    def name_conversation(self, turn: Turn) -> str | None:
        """After a new conversation's first answer: the model's title for it (stored), or
        None when there is nothing to do (offline: the heuristic title is final).
        Call it once the answer has streamed; it never runs before."""
        if not turn.needs_title or turn.setup is None or turn.user_id is None:
            return None
        turn.needs_title = False
        try:
            return name_conversation(
                sessions=self.sessions,
                model=self.model_factory(turn.setup.model_name),
                user_id=turn.user_id,
                conversation_id=turn.conversation_id,
                current_title=turn.setup.name_after or turn.setup.title,
                question=turn.question,
                answer=turn.outcome.text,
            )
        except ChatError:
            raise
        except Exception as exc:
            log.exception("naming conversation %s failed", turn.conversation_id)
            raise ModelError(describe_model_error(exc)) from exc

    def _run(
        self, *, turn: Turn, user_id: uuid.UUID, human: HumanMessage, setup: TurnSetup
    ) -> Generator[str, None, None]:
        outcome = turn.outcome
        recorder = ContextRecorder()
        config = {
            "configurable": {"user_id": str(user_id), "conversation_id": str(turn.conversation_id)},
            "metadata": {"reply_id": str(turn.reply_id)},
            "callbacks": [recorder],
        }
        parts: list[str] = []
        started = time.perf_counter()
        chain = self.chain_for(setup.model_name, setup.temperature)
        stream = retrying_stream(
            lambda watch: chain.stream(
                {"input": [human], "system_prompt": setup.system_prompt},
                config={**config, "callbacks": [recorder, *watch]},
            ),
            RetryPolicy(retries=self.settings.model_max_retries),
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
            outcome.error = describe_model_error(exc, partial=bool(parts))
        finally:
            stream.close()
            outcome.total_s = time.perf_counter() - started
            self._finish(
                turn=turn,
                user_id=user_id,
                model_name=setup.model_name,
                strategy_name=setup.strategy_name,
                sent=recorder.sent,
            )
            turn.needs_title = (
                setup.name_after is not None
                and outcome.status == "complete"
                and not self.settings.offline
                and setup.model_name != "offline"
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


def describe_model_error(exc: BaseException, *, partial: bool = False) -> str:
    """A sentence for the user; the log has the traceback. `partial`: some of the answer
    had already been shown (and is kept).

    langchain-openai raises classes that are both the openai error and langchain-core's
    provider-neutral Model*Error, so the neutral ones cover any endpoint."""
    if isinstance(exc, ChatError):
        return exc.user_message
    if partial and isinstance(exc, lc_errors.ModelTimeoutError | openai.APITimeoutError):
        return "The model stopped sending its answer. What arrived is kept; retry for a full one."
    if partial and isinstance(exc, lc_errors.ModelConnectionError | openai.APIConnectionError):
        return (
            "The connection to the model was lost during the answer. What arrived is kept; "
            "retry for a full one."
        )
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
