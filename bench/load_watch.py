"""What the service load watches while it runs: who holds a pooled connection (and how long
getting one took), errors LangChain only logs, and a sampler of the database's connections,
the pool and the model server's streams in flight. See bench/load_service.py."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

if TYPE_CHECKING:  # imported by the caller once the project root is on the path
    from tests.support.openai_server import FakeOpenAIServer

SAMPLE_EVERY = 0.02
BUSY_STREAMS = 10  # "many streams at once", for the checked-out count next to them


class PoolHolders:
    """Which threads hold a pooled connection right now, from the pool's own events; and how
    long getting one took (queueing and the pre-ping), timing the pool's connect()."""

    def __init__(self, engine: Engine) -> None:
        self.held: Counter[int] = Counter()
        self.checkouts = self.timeouts = 0
        self.hold_times: list[float] = []
        self.waits: list[float] = []
        self._lock = threading.Lock()
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine.pool, "checkin", self._checkin)
        connect = engine.pool.connect

        def timed_connect() -> Any:
            started = time.monotonic()
            try:
                return connect()
            except PoolTimeout:
                self.timeouts += 1
                raise
            finally:
                self.waits.append(time.monotonic() - started)

        engine.pool.connect = timed_connect  # type: ignore[method-assign]

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info["holder"] = threading.get_ident()
        record.info["since"] = time.monotonic()
        with self._lock:
            self.held[record.info["holder"]] += 1
            self.checkouts += 1

    def _checkin(self, _dbapi: Any, record: Any) -> None:
        holder = record.info.pop("holder", None)
        if holder is not None:
            with self._lock:
                self.held[holder] -= 1
                self.hold_times.append(time.monotonic() - record.info.pop("since"))

    def reset(self) -> None:
        with self._lock:
            self.checkouts, self.timeouts, self.hold_times, self.waits = 0, 0, [], []

    def holding(self) -> bool:
        return self.held.get(threading.get_ident(), 0) > 0


class SwallowedErrors(logging.Handler):
    """LangChain logs an exception raised inside a callback and carries on (the chain's own
    history save runs in one), so no caller sees it: counted here from that log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()
        logging.getLogger("langchain_core.callbacks.manager").addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Error in"):
            self.seen[message.split("(")[0].removeprefix("Error in ")] += 1


@dataclass
class Samples:
    peak_backends: int = 0
    peak_active_backends: int = 0
    peak_checked_out: int = 0
    peak_streams: int = 0
    checked_out_at_peak_streams: int = 0
    peak_checked_out_while_busy: int = 0
    busy_samples: int = 0
    count: int = 0


def sample(
    monitor: Engine, app: Engine, server: FakeOpenAIServer, stop: threading.Event
) -> Samples:
    """Every 20 ms: the app's backends (all, non-idle), the pool's checked-out count and the
    streams the model server is serving."""
    samples = Samples()
    query = text(
        "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'chat-app'"
    )
    with monitor.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while not stop.wait(SAMPLE_EVERY):
            backends, active = connection.execute(query).one()
            checked_out = app.pool.checkedout()  # type: ignore[attr-defined]
            streams = sum(
                1
                for r in server.requests
                if r["finished_at"] is None and (r["body"] or {}).get("stream")
            )
            samples.count += 1
            samples.peak_backends = max(samples.peak_backends, backends)
            samples.peak_active_backends = max(samples.peak_active_backends, active)
            samples.peak_checked_out = max(samples.peak_checked_out, checked_out)
            if streams > samples.peak_streams:
                samples.peak_streams, samples.checked_out_at_peak_streams = streams, checked_out
            if streams >= BUSY_STREAMS:
                samples.busy_samples += 1
                samples.peak_checked_out_while_busy = max(
                    samples.peak_checked_out_while_busy, checked_out
                )
    return samples
