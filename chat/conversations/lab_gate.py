"""How many Memory lab replays run: one per user at a time, a few per process.

Ten tabs replaying the largest file at once held the whole pool; a replay now waits for no
one: it is refused with a sentence when its user already runs one or the process runs its
limit (LAB_MAX_REPLAYS).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from chat.errors import InvalidInput
from chat.settings import Settings

__all__ = ["ReplayGate", "gate_for"]


class ReplayGate:
    """At most `limit` replays at once in this process, and one per owner (a user)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._running: set[str] = set()

    @contextmanager
    def slot(self, owner: str) -> Iterator[None]:
        with self._lock:
            if owner in self._running:
                raise InvalidInput("You already have a replay running. Wait for it to finish.")
            if len(self._running) >= self.limit:
                raise InvalidInput(
                    "The lab is busy with other replays right now. Try again in a minute."
                )
            self._running.add(owner)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(owner)


_gates: dict[int, ReplayGate] = {}
_gates_lock = threading.Lock()


def gate_for(settings: Settings) -> ReplayGate:
    """The process's gate for replays (one per configured limit)."""
    with _gates_lock:
        return _gates.setdefault(settings.lab_max_replays, ReplayGate(settings.lab_max_replays))
