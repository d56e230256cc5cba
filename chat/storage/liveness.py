"""Which app processes are alive, so a dead one's unfinished answers are settled at once.

A turn stores its question and an empty answer before the model runs. If the process dies
mid-stream (SIGKILL, out of memory, a replaced container) nobody finishes that answer, and
the other processes must tell "pending: a live replica is still streaming it" from
"pending: its process is gone".

Chosen: every app process holds a session-level PostgreSQL advisory lock keyed by a random
instance id, on one dedicated connection outside the pool; a pending answer records that
id in its meta (`instance`). PostgreSQL releases a session lock as soon as the holding
connection ends, and a killed process's sockets are closed by the kernel, so "is that lock
still held?" (pg_locks) answers "is that process alive?" at once, with no writes and no
schema. The alternative, a heartbeat row per process, needs periodic writes from every
replica, a migration, and a grace period of several beats before a death is recognised (too
short and a busy live process looks dead).

Limits, hence the fallback: a connection cut without being closed (a network partition)
keeps its lock until the server's TCP keepalive notices, and a pooler in transaction mode
cannot carry session locks. So anything pending longer than STALE_TURN_AFTER is settled
whatever the lock says. When the lock connection drops (a database restart), a keeper
thread takes the lock again within `check_every` seconds; in between another process may
mark one of our streams interrupted, and the turn service corrects that when the answer
ends, since it has the last word on an answer's status.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from datetime import timedelta

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from chat.storage import repository

log = logging.getLogger(__name__)

# A turn still pending after this long is settled even if its process looks alive.
STALE_TURN_AFTER = timedelta(minutes=10)
CHECK_EVERY_S = 10.0


class Liveness:
    """This process's lock. `instance_id` goes into every pending answer it starts."""

    def __init__(self, url: URL | str, *, check_every: float = CHECK_EVERY_S) -> None:
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # the lock outlives transactions; hold none open
            connect_args={"connect_timeout": 5, "application_name": "chat-app-liveness"},
        )
        self.check_every = check_every
        self.instance_id = 0
        self._connection: Connection | None = None
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None

    def start(self) -> Liveness:
        """Take the lock (raises the driver's OperationalError when the database is down)
        and keep it taken in the background."""
        with self._guard:
            self._acquire()
        self._keeper = threading.Thread(target=self._keep, name="chat-liveness", daemon=True)
        self._keeper.start()
        return self

    def _acquire(self) -> None:
        """Connect and take a lock nobody holds. The id is kept across reconnections, so
        answers started before a database restart still point at this live process."""
        connection = self._engine.connect()
        try:
            while True:
                if self.instance_id and repository.take_process_lock(
                    connection=connection, instance_id=self.instance_id
                ):
                    break
                self.instance_id = secrets.randbelow(2**31 - 2) + 1  # new, or taken by another
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def holds_lock(self) -> bool:
        """Whether the lock is held right now (asks the server)."""
        with self._guard:
            if self._connection is None:
                return False
            try:
                return repository.process_lock_held(
                    connection=self._connection, instance_id=self.instance_id
                )
            except SQLAlchemyError:
                self._drop()
                return False

    def _keep(self) -> None:
        """Check the lock every `check_every` seconds; reconnect once per check when it is
        gone (a database down for a while costs one connection attempt per period)."""
        while not self._stopping.wait(self.check_every):
            if self.holds_lock():
                continue
            with self._guard:
                if self._stopping.is_set():
                    return
                try:
                    self._acquire()
                    log.info("liveness lock taken again (instance %s)", self.instance_id)
                except SQLAlchemyError:
                    log.warning("liveness lock lost; the database is not reachable, retrying")

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """Release the lock (this process's pending answers then count as abandoned). It is
        released explicitly: a closed connection's lock goes only when its server process
        has finished exiting, a moment later."""
        self._stopping.set()
        with self._guard:
            if self._connection is not None:
                with contextlib.suppress(SQLAlchemyError):
                    repository.release_process_lock(
                        connection=self._connection, instance_id=self.instance_id
                    )
            self._drop()
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        self._engine.dispose()
