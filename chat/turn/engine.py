"""The turn service: one user message in, one streamed answer out, nothing lost.

RunnableWithMessageHistory alone saves only on success, so a failing model would lose the
question. Here the question and an empty answer placeholder are stored *before* the model is
called, and whatever happens (success, stop, error, crash) this service has the last word on
the answer's text and status (the chain's own save skips the rows of turns in flight, which
are this service's to write). No database connection is held while the model streams: every
step is its own short unit of work (chat/turn/store.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import ChatError, DatabaseUnavailable, ModelError, SummaryFailed
from chat.llm.titles import name_conversation, title_for
from chat.memory.strategies import strategy_for
from chat.memory.user_memory import after_answer
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.liveness import Liveness
from chat.turn.chain import build_chain
from chat.turn.history import HandedViews, history_factory
from chat.turn.model_errors import describe_model_error
from chat.turn.retrying import RetryPolicy, retrying_stream
from chat.turn.store import (
    SETTLED,
    TurnRows,
    TurnSetup,
    create_conversation,
    finish_turn,
    open_turn,
    reopen_turn,
)
from chat.validation import storable, validate_message

log = logging.getLogger(__name__)

# Pauses before storing a finished answer again when the database did not take it.
FINISH_RETRY_PAUSES = (0.2, 1.0)


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

    user_id: uuid.UUID
    rows: TurnRows
    setup: TurnSetup
    _chunks: Generator[str, None, None]
    outcome: TurnOutcome = field(default_factory=TurnOutcome)
    # Set when this was the first exchange and a model should name the conversation
    # (TurnEngine.name_conversation, called once the answer has streamed).
    needs_title: bool = False
    _abandon: Callable[[], None] | None = None

    @property
    def conversation_id(self) -> uuid.UUID:
        return self.rows.conversation_id

    @property
    def human_id(self) -> uuid.UUID:
        return self.rows.human_id

    @property
    def reply_id(self) -> uuid.UUID:
        return self.rows.reply_id

    @property
    def question(self) -> str:
        return self.rows.question

    @property
    def strategy_name(self) -> str:
        return self.setup.strategy_name

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


class TurnEngine:
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
        self.liveness = liveness
        # The question and answer rows of turns streaming in this process: the turn service
        # stored them before the model ran and writes them last (finish_turn), so the
        # chain's own save skips them (one transaction fewer per turn).
        self.rows_in_flight: set[uuid.UUID] = set()
        # Each turn's view of the history, read with its question, for its history factory.
        self.handed_views = HandedViews()
        self.get_history = history_factory(
            sessions, written_elsewhere=self.rows_in_flight, handed=self.handed_views
        )
        self._chains: dict[str, Any] = {}

    @property
    def instance_id(self) -> int | None:
        """This process's id for the answers it starts (chat/storage/liveness.py), read per turn:
        it changes if the lock had to be taken anew after a database restart."""
        return self.liveness.instance_id if self.liveness is not None else None

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
        with unit_of_work(self.sessions) as session:
            return create_conversation(session, self.settings, user_id=user_id, title=title)

    # --- turns ---------------------------------------------------------------------

    def send(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID | None, text: str) -> Turn:
        """Store the question and a placeholder answer, then return the streaming turn.

        Raises InvalidInput or LimitReached (nothing stored), NotFound (not the user's
        conversation) or DatabaseUnavailable before anything streams.
        """
        text = validate_message(text, max_chars=self.settings.max_message_chars)
        setup, rows = open_turn(
            self.sessions,
            self.settings,
            user_id=user_id,
            conversation_id=conversation_id,
            question=text,
            new_title=title_for(text),
            instance_id=self.instance_id,
        )
        return self._start(user_id=user_id, rows=rows, setup=setup)

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
        """Reset the last exchange to pending (same rows) and run it again."""
        setup, rows = reopen_turn(
            self.sessions,
            self.settings,
            user_id=user_id,
            conversation_id=conversation_id,
            statuses=statuses,
            refusal=refusal,
            reply_id=reply_id,
            human_id=human_id,
            new_text=new_text,
            instance_id=self.instance_id,
        )
        return self._start(user_id=user_id, rows=rows, setup=setup)

    def _start(self, *, user_id: uuid.UUID, rows: TurnRows, setup: TurnSetup) -> Turn:
        turn = Turn(user_id=user_id, rows=rows, setup=setup, _chunks=_no_chunks())
        turn._chunks = self._run(turn)
        turn._abandon = lambda: self._finish(turn, sent=[])
        return turn

    def name_conversation(self, turn: Turn) -> str | None:
        """After a new conversation's first answer: the model's title for it (stored), or
        None when there is nothing to do (offline: the heuristic title is final).
        Call it once the answer has streamed; it never runs before."""
        if not turn.needs_title:
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

    def _run(self, turn: Turn) -> Generator[str, None, None]:
        outcome, setup = turn.outcome, turn.setup
        human = HumanMessage(turn.question, id=str(turn.human_id))
        self.claim(user_id=turn.user_id, rows=turn.rows, setup=setup)  # until _finish
        recorder = ContextRecorder()
        config = {
            "configurable": {
                "user_id": str(turn.user_id),
                "conversation_id": str(turn.conversation_id),
            },
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
                # What a model sends is shown and stored as it is, except what PostgreSQL
                # cannot store (NUL, unpaired surrogates), which is marked as unreadable.
                piece = storable(chunk.text)
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
            self._finish(turn, sent=recorder.sent)
            turn.needs_title = (
                setup.name_after is not None
                and outcome.status == "complete"
                and not self.settings.offline
                and setup.model_name != "offline"
            )
        if outcome.status == "error":
            raise ModelError(outcome.error)

    def _finish(self, turn: Turn, *, sent: list[BaseMessage]) -> None:
        outcome = turn.outcome
        meta: dict[str, Any] = {
            "model": turn.setup.model_name,
            "first_token_s": outcome.first_token_s,
            "total_s": outcome.total_s,
            "usage": outcome.usage,
            "strategy": turn.setup.strategy_name,
        }
        if outcome.error:
            meta["error"] = outcome.error
        try:
            outcome.context = self._store_answer(turn, meta=meta, sent=sent)
        finally:
            self.release(user_id=turn.user_id, rows=turn.rows)

    def claim(self, *, user_id: uuid.UUID, rows: TurnRows, setup: TurnSetup) -> None:
        """From here until release(): the turn's two rows are this service's to write (the
        chain's save skips them), and the view read with its question waits for its
        history (a retried request reads anew)."""
        self.rows_in_flight.update((rows.human_id, rows.reply_id))
        if setup.memory is not None and setup.view is not None:
            self.handed_views.hand(
                user_id=user_id,
                conversation_id=rows.conversation_id,
                strategy=setup.memory,
                view=setup.view,
            )
            setup.view = None  # the history has it now

    def release(self, *, user_id: uuid.UUID, rows: TurnRows) -> None:
        """The turn's last word is written (or given up): nothing of it is held any more."""
        self.rows_in_flight.difference_update((rows.human_id, rows.reply_id))
        self.handed_views.take(user_id=user_id, conversation_id=rows.conversation_id)

    def _store_answer(
        self, turn: Turn, *, meta: dict[str, Any], sent: list[BaseMessage]
    ) -> dict[str, Any] | None:
        """finish_turn, tried again after short pauses when the database does not take it:
        the user has read this answer, so a busy pool or a restarting database is worth a
        moment's wait before giving up on storing it."""
        for pause in FINISH_RETRY_PAUSES:
            try:
                return self._finish_turn(turn, meta=meta, sent=sent)
            except DatabaseUnavailable:
                log.warning("storing answer %s failed; retrying", turn.reply_id)
                time.sleep(pause)
        return self._finish_turn(turn, meta=meta, sent=sent)

    def _finish_turn(
        self, turn: Turn, *, meta: dict[str, Any], sent: list[BaseMessage]
    ) -> dict[str, Any] | None:
        return finish_turn(
            self.sessions,
            user_id=turn.user_id,
            rows=turn.rows,
            status=turn.outcome.status,
            text=turn.outcome.text,
            meta=meta,
            sent=sent,
        )

    # --- memory --------------------------------------------------------------------

    def update_memory(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> MemoryUpdate:
        """Let the conversation's strategy update its state (its summary) once the answer is
        stored. Pages call it after the stream ends, under a visible status. A summariser
        failure is reported, not raised: the answer is already safe, and the next turn
        retries from the same watermark. Then, whatever the strategy, the user's memory learns
        from the question just answered (chat/memory/user_memory.py after_answer)."""
        with unit_of_work(self.sessions) as session:
            conversation = repository.get_conversation(
                session=session, user_id=user_id, conversation_id=conversation_id
            )
            strategy = strategy_for(conversation.memory_strategy, conversation.memory_params)
            model_name = conversation.model
        if not strategy.stateful:
            update = MemoryUpdate(status="unchanged")
        else:
            try:
                strategy.after_turn(
                    sessions=self.sessions,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    model=self.model_factory(model_name),
                )
            except SummaryFailed as exc:
                update = MemoryUpdate(status="failed", message=exc.user_message)
            else:
                update = MemoryUpdate(status="updated")
        after_answer(  # user memory, recall's embeddings: report their failures, never raise
            sessions=self.sessions,
            user_id=user_id,
            conversation_id=conversation_id,
            model=self.model_factory(model_name),
        )
        return update


@dataclass(frozen=True)
class MemoryUpdate:
    status: str  # unchanged (stateless strategy) | updated | failed
    message: str | None = None
