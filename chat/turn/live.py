"""A turn in flight: the answer's text as it arrives, for any number of followers.

The generation worker (chat/turn/worker.py) appends text and settles the outcome; pages
and API clients follow with `stream()`, from the first word, so a reload or a second tab
shows the whole answer with no gap and no repeat. Stopping is a request: the worker ends
the stream at its next chunk, and the engine stores the text so far at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chat.errors import ModelError
from chat.turn.store import TurnRows, TurnSetup

# How long a follower waits for the next piece before checking again for a stop.
WAIT_S = 0.5


@dataclass
class TurnOutcome:
    status: str = "pending"  # complete | interrupted | error
    text: str = ""  # joined once, when the answer ends
    error: str | None = None
    first_token_s: float | None = None
    total_s: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] | None = None  # the context log payload, once stored
    memory_notice: str | None = None  # the summary could not be updated (after the answer)


class Turn:
    """One answer being generated. Thread-safe: the worker writes, followers read."""

    def __init__(self, *, user_id: uuid.UUID, rows: TurnRows, setup: TurnSetup) -> None:
        self.user_id = user_id
        self.rows = rows
        self.setup = setup
        self.outcome = TurnOutcome()
        self.needs_title = False  # set by the engine once the answer completes
        self._parts: list[str] = []
        self._changed = threading.Condition()
        self._answer_done = False
        self._stop = threading.Event()
        # Set when the answer ends or is stopped: what a follower holding back pieces waits
        # on, so that the pieces arriving meanwhile do not wake it (each wake-up costs CPU).
        self._over = threading.Event()
        self._settled = threading.Event()  # the answer is stored and after-answer work done

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

    # --- the worker's side ---------------------------------------------------------------

    def append(self, piece: str) -> bool:
        """Add a piece of the answer; refused (False) once a stop was asked, so the text
        stored when stopping is the text every follower saw."""
        with self._changed:
            if self._stop.is_set():
                return False
            self._parts.append(piece)
            self._changed.notify_all()
            return True

    def text_so_far(self) -> str:
        with self._changed:
            return "".join(self._parts)

    def end_answer(self) -> None:
        """No more text will come (the outcome is set)."""
        with self._changed:
            self._answer_done = True
            self._over.set()
            self._changed.notify_all()

    def settle(self) -> None:
        self._settled.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # --- the followers' side -------------------------------------------------------------

    @property
    def finished(self) -> bool:
        with self._changed:
            return self._answer_done

    def stream(self, *, every: float = 0.0) -> Iterator[str]:
        """The answer from its first word, as it arrives; ends when the answer ends (raises
        ModelError when it failed) or is stopped. `every`: at most one piece per `every`
        seconds, what arrived meanwhile joined (a page redraws the answer per piece; the
        first piece and the end are not held back). While holding back, the follower sleeps
        through the pieces arriving: only the end or a stop wakes it early."""
        sent = 0
        next_at = 0.0
        while True:
            if (wait := next_at - time.monotonic()) > 0:
                self._over.wait(wait)
            with self._changed:
                while not (self._answer_done or self._stop.is_set()):
                    if sent == len(self._parts):
                        self._changed.wait(WAIT_S)
                    else:
                        break
                pieces = self._parts[sent:]
                done = self._answer_done or self._stop.is_set()
            sent += len(pieces)
            if every and pieces:
                yield "".join(pieces)
                next_at = time.monotonic() + every
            else:
                yield from pieces
            if done and sent == len(self._parts):
                break
        if self.outcome.status == "error":
            raise ModelError(self.outcome.error)

    def stop(self) -> None:
        """Ask the worker to end this answer (TurnEngine.stop also stores it at once)."""
        with self._changed:
            self._stop.set()
            self._over.set()
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the answer is stored and the after-answer work (summary, title) is
        done. Returns False on timeout."""
        return self._settled.wait(timeout)
