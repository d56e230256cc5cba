"""The turn engine: one user message in, one answer generated in the background, nothing lost.

A turn, top to bottom:
1. `send` validates the text and stores the question with an empty answer, both pending
   (chat/turn/store.py), then starts a generation in the process-wide worker and returns
   its handle (chat/turn/live.py) at once.
2. The worker streams `RunnableWithMessageHistory(prompt | model)` keyed on
   (user_id, conversation_id) (chat/turn/chain.py); the history factory reads the
   conversation's memory view (chat/turn/history.py). Each piece of text goes to the
   handle; the stored answer is updated a few times a second, with no connection held
   while waiting for the model.
3. The engine has the last word on the answer: complete, interrupted (stop, or its process
   died) or error, with the text produced so far and the context log of what the model
   received. RunnableWithMessageHistory alone saves only on success and would lose the
   question when the model fails; here it was stored first.
4. After the answer: the memory strategy's update (a summary), and a title for a new
   conversation. Never before the first token.
Pages and the API follow the handle; a reload or another tab attaches to it, and a page
served by another process follows the stored answer instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import ChatError, DatabaseUnavailable, ModelError, NotFound, SummaryFailed
from chat.llm.factory import OFFLINE
from chat.llm.titles import name_conversation, title_for
from chat.memory.strategies import ViewRequest, strategy_for
from chat.memory.user_memory import after_answer
from chat.settings import Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.storage.liveness import STALE_TURN_AFTER, Liveness
from chat.turn import store
from chat.turn.chain import build_chain
from chat.turn.history import history_factory
from chat.turn.live import Turn, TurnOutcome
from chat.turn.model_errors import describe_model_error
from chat.turn.retrying import RetryPolicy, retrying_stream
from chat.validation import storable, validate_message

log = logging.getLogger(__name__)

# The stored answer is updated at most this often while it streams: what a crash loses, how
# soon a stop asked through another process takes effect, and how often a page served by
# another process (the proxy keeps a browser on one, so only after a failover) sees the
# answer grow. Each save rewrites the text so far, so a long answer's saves cost more the
# more often they come.
SAVE_EVERY_S = 1.0
# A page served by another process polls the stored answer this often.
POLL_EVERY_S = 0.25
# Pauses before storing a finished answer again when the database did not take it.
FINISH_RETRY_PAUSES = (0.2, 1.0)

__all__ = ["MemoryUpdate", "Turn", "TurnEngine", "TurnOutcome"]


class ContextRecorder(BaseCallbackHandler):
    """Keeps exactly what the chat model was sent, for the context inspector."""

    def __init__(self) -> None:
        self.sent: list[BaseMessage] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.sent = list(messages[0]) if messages else []


@dataclass(frozen=True)
class MemoryUpdate:
    status: str  # unchanged (stateless strategy) | updated | failed
    message: str | None = None


class TurnEngine:
    """Everything a chat page or the API does with turns, as plain functions of
    (user, conversation, text)."""

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
        self.get_history = history_factory(sessions)
        self._models: dict[str, BaseChatModel] = {}
        self._chains: dict[str, Any] = {}
        self._live: dict[uuid.UUID, Turn] = {}  # answers generating in this process
        self._workers: list[threading.Thread] = []  # and their threads, after-work included
        self._live_guard = threading.Lock()

    @property
    def instance_id(self) -> int | None:
        """This process's id for the answers it starts (chat/storage/liveness.py), read per
        turn: it changes if the lock had to be taken anew after a database restart."""
        return self.liveness.instance_id if self.liveness is not None else None

    def model_for(self, model_name: str) -> BaseChatModel:
        """The chat model called `model_name`, built once per process: its clients (and
        their connections) serve every turn, the after-answer work included."""
        if model_name not in self._models:
            self._models[model_name] = self.model_factory(model_name)
        return self._models[model_name]

    def chain_for(self, model_name: str, temperature: float | None = None) -> Any:
        key = f"{model_name}@{temperature}"
        if key not in self._chains:
            model: Any = self.model_for(model_name)
            if temperature is not None:
                # Bound as a call argument: ChatOpenAI sends it with the request; the
                # offline model ignores it.
                model = model.bind(temperature=temperature)
            self._chains[key] = build_chain(model=model, history_factory=self.get_history)
        return self._chains[key]

    # --- conversations -------------------------------------------------------------

    def new_conversation(self, *, user_id: uuid.UUID, title: str = "New chat") -> uuid.UUID:
        with unit_of_work(self.sessions) as session:
            return store.create_conversation(session, self.settings, user_id=user_id, title=title)

    # --- starting turns --------------------------------------------------------------

    def send(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID | None, text: str) -> Turn:
        """Store the question and an empty answer, start generating, return the handle.

        Raises InvalidInput, LimitReached or AnswerInProgress (nothing stored), NotFound
        (not the user's conversation) or DatabaseUnavailable before anything is generated.
        """
        text = validate_message(text, max_chars=self.settings.max_message_chars)
        setup, rows = store.open_turn(
            self.sessions,
            self.settings,
            user_id=user_id,
            conversation_id=conversation_id,
            question=text,
            new_title=title_for(text),
            instance_id=self.instance_id,
        )
        return self._start(Turn(user_id=user_id, rows=rows, setup=setup))

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
            statuses=store.SETTLED,
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
            statuses=store.SETTLED,
            refusal="Only your last message can be edited, once its answer has finished.",
        )

    def _restart(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, **how: Any) -> Turn:
        setup, rows = store.reopen_turn(
            self.sessions,
            self.settings,
            user_id=user_id,
            conversation_id=conversation_id,
            instance_id=self.instance_id,
            **how,
        )
        return self._start(Turn(user_id=user_id, rows=rows, setup=setup))

    def _start(self, turn: Turn) -> Turn:
        worker = threading.Thread(
            target=self._generate, args=(turn,), name=f"answer-{turn.reply_id}", daemon=True
        )
        with self._live_guard:
            self._live[turn.reply_id] = turn
            self._workers = [thread for thread in self._workers if thread.is_alive()]
            self._workers.append(worker)
        worker.start()
        return turn

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for every generation of this process to end, after-answer work included
        (at shutdown, and in tests). Returns False if some did not end in time."""
        deadline = time.monotonic() + timeout
        with self._live_guard:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(worker.is_alive() for worker in workers)

    # --- following and stopping ------------------------------------------------------

    def live_turn(self, *, user_id: uuid.UUID, reply_id: uuid.UUID) -> Turn | None:
        """The handle of an answer this process is generating for this user, if any."""
        with self._live_guard:
            turn = self._live.get(reply_id)
        return turn if turn is not None and turn.user_id == user_id else None

    def follow(
        self, *, user_id: uuid.UUID, reply_id: uuid.UUID, every: float = 0.0
    ) -> Iterator[str]:
        """The answer's text from its first word until it ends: from this process's handle
        when it generates it (at most one piece per `every` seconds), else from the stored
        answer (another process generates it; read every POLL_EVERY_S)."""
        turn = self.live_turn(user_id=user_id, reply_id=reply_id)
        if turn is not None:
            return turn.stream(every=every)
        return self._follow_stored(user_id=user_id, reply_id=reply_id)

    def _follow_stored(self, *, user_id: uuid.UUID, reply_id: uuid.UUID) -> Iterator[str]:
        shown = 0
        polls = 0
        while True:
            with unit_of_work(self.sessions) as session:
                message = repository.get_message(
                    session=session, user_id=user_id, message_id=reply_id
                )
                if message.status == "pending" and polls % 8 == 7:
                    # its process may have died meanwhile
                    repository.settle_stale_turns(
                        session=session,
                        user_id=user_id,
                        conversation_id=message.conversation_id,
                        older_than=STALE_TURN_AFTER,
                    )
                text, status = message.content, message.status
            if len(text) < shown:  # restarted (retried) meanwhile: this answer is over
                return
            if len(text) > shown:
                yield text[shown:]
                shown = len(text)
            if status != "pending":
                return
            polls += 1
            time.sleep(POLL_EVERY_S)

    def stop(self, *, user_id: uuid.UUID, reply_id: uuid.UUID) -> None:
        """Stop an answer from any tab: it is stored at once as interrupted with the text
        produced so far. An answer another process generates is flagged; that process
        stops it when it next saves the text."""
        turn = self.live_turn(user_id=user_id, reply_id=reply_id)
        if turn is None:
            store.request_stop(self.sessions, user_id=user_id, reply_id=reply_id)
            return
        turn.stop()
        with contextlib.suppress(NotFound):  # it ended meanwhile: nothing to stop
            store.finish_turn(
                self.sessions,
                user_id=user_id,
                rows=turn.rows,
                status="interrupted",
                text=turn.text_so_far(),
                meta={"stopped": True},
                sent=[],
                only_if_pending=True,
            )

    # --- generating (the worker thread) ----------------------------------------------

    def _generate(self, turn: Turn) -> None:
        try:
            try:
                sent = self._stream_answer(turn)
                self._finish(turn, sent=sent)
            finally:
                turn.end_answer()
            if turn.outcome.status == "complete":
                self._after_answer(turn)
        finally:
            turn.settle()
            with self._live_guard:
                if self._live.get(turn.reply_id) is turn:
                    del self._live[turn.reply_id]

    def _stream_answer(self, turn: Turn) -> list[BaseMessage]:
        """Run the chain, feeding the handle and saving the text as it grows. Returns what
        the model was sent; the outcome says how it ended."""
        outcome, setup, rows = turn.outcome, turn.setup, turn.rows
        recorder = ContextRecorder()
        config = {
            "configurable": {
                "user_id": str(turn.user_id),
                "conversation_id": str(rows.conversation_id),
                "reply_id": str(rows.reply_id),
                "turn": ViewRequest(
                    user_id=turn.user_id,
                    conversation_id=rows.conversation_id,
                    system_prompt=setup.system_prompt,
                    question=rows.question,
                ),
            },
        }
        chain = self.chain_for(setup.model_name, setup.temperature)
        human = HumanMessage(rows.question, id=str(rows.human_id))
        started = time.perf_counter()
        saved_at = started
        stream = retrying_stream(
            lambda: chain.stream(
                {"input": [human], "system_prompt": setup.system_prompt},
                config={**config, "callbacks": [recorder]},
            ),
            RetryPolicy(retries=self.settings.model_max_retries),
        )
        produced = False
        try:
            for chunk in stream:
                if turn.stop_requested:
                    break
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
                if not turn.append(piece):
                    break  # stopped
                produced = True
                if time.perf_counter() - saved_at >= SAVE_EVERY_S:
                    saved_at = time.perf_counter()
                    self._save_progress(turn)
            outcome.status = "interrupted" if turn.stop_requested else "complete"
        except Exception as exc:
            log.exception("model failed")
            outcome.status = "error"
            outcome.error = describe_model_error(exc, partial=produced)
        finally:
            stream.close()
            outcome.total_s = time.perf_counter() - started
            outcome.text = turn.text_so_far()
        return recorder.sent

    def _save_progress(self, turn: Turn) -> None:
        """The text so far, stored; a stop asked from another process takes effect here.
        A database that does not take it costs nothing but this save."""
        try:
            if store.save_progress(
                self.sessions, user_id=turn.user_id, rows=turn.rows, text=turn.text_so_far()
            ):
                turn.stop()
        except DatabaseUnavailable:
            log.warning("saving answer %s in progress failed", turn.reply_id)

    def _finish(self, turn: Turn, *, sent: list[BaseMessage]) -> None:
        """The last word on the answer, tried again after short pauses when the database
        does not take it: the user has read this answer."""
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
        # Only a Stop interrupts a worker's answer. Say so, as stop() does: whichever of the
        # two writes is stored last, the answer reads as stopped.
        if outcome.status == "interrupted":
            meta["stopped"] = True
        for pause in (*FINISH_RETRY_PAUSES, None):
            try:
                outcome.context = store.finish_turn(
                    self.sessions,
                    user_id=turn.user_id,
                    rows=turn.rows,
                    status=outcome.status,
                    text=outcome.text,
                    meta=meta,
                    sent=sent,
                )
                return
            except DatabaseUnavailable:
                if pause is None:
                    log.exception("storing answer %s failed", turn.reply_id)
                    return
                log.warning("storing answer %s failed; retrying", turn.reply_id)
                time.sleep(pause)
            except NotFound:  # the conversation was deleted meanwhile
                return

    def _after_answer(self, turn: Turn) -> None:
        """The memory strategy's update, then a title for a new conversation."""
        try:
            update = self.update_memory(user_id=turn.user_id, conversation_id=turn.conversation_id)
            turn.outcome.memory_notice = update.message
        except ChatError as exc:
            turn.outcome.memory_notice = exc.user_message
        turn.needs_title = (
            turn.setup.first_exchange
            and not self.settings.offline
            and turn.setup.model_name != OFFLINE
        )
        try:
            self.name_conversation(turn)
        except ChatError:
            log.warning("conversation %s keeps its first title", turn.conversation_id)

    # --- after the answer ------------------------------------------------------------

    def name_conversation(self, turn: Turn) -> str | None:
        """After a new conversation's first answer: the model's title for it (stored), or
        None when there is nothing to do (offline: the heuristic title is final)."""
        if not turn.needs_title:
            return None
        turn.needs_title = False
        try:
            return name_conversation(
                sessions=self.sessions,
                model=self.model_for(turn.setup.model_name),
                user_id=turn.user_id,
                conversation_id=turn.conversation_id,
                current_title=turn.setup.title,
                question=turn.question,
                answer=turn.outcome.text,
            )
        except ChatError:
            raise
        except Exception as exc:
            log.exception("naming conversation %s failed", turn.conversation_id)
            raise ModelError(describe_model_error(exc)) from exc

    def update_memory(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> MemoryUpdate:
        """Let the conversation's strategy update its state (its summary) once the answer is
        stored (the worker calls it after each answer). A summariser failure is reported,
        not raised: the answer is already safe, and the next turn retries from the same
        watermark. Then, whatever the strategy, the user's memory learns from the question
        just answered (chat/memory/user_memory.py after_answer)."""
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
                    model=self.model_for(model_name),
                )
            except SummaryFailed as exc:
                update = MemoryUpdate(status="failed", message=exc.user_message)
            else:
                update = MemoryUpdate(status="updated")
        after_answer(  # user memory, recall's embeddings: report their failures, never raise
            sessions=self.sessions,
            user_id=user_id,
            conversation_id=conversation_id,
            model=self.model_for(model_name),
        )
        return update
