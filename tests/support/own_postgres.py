"""An embedded PostgreSQL that a test owns, so it may stop and restart it.

Fault tests take the database away on purpose. They never touch the shared server other
sessions use (TEST_DATABASE_URL): each starts its own pgserver under a temporary directory
and drives it with pgserver's own pg_ctl binary.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from tests.support.postgres import _driver


class OwnPostgres:
    """A running pgserver instance with stop/start/restart. Listens on a unix socket only."""

    def __init__(self, directory: Path) -> None:
        import pgserver

        self.server = pgserver.get_server(str(directory / "pgdata"), cleanup_mode="stop")
        info = self.server.get_postmaster_info()
        if info.socket_dir is None:
            raise RuntimeError("pgserver did not report its socket directory")
        self.socket_dir = Path(info.socket_dir)
        self.url: URL = make_url(_driver(self.server.get_uri()))

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when an operator stops the server."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start again with the same socket (the URL stays valid)."""
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
            "-l", str(self.server.log), "start",
        )  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Whether a postmaster holds the data directory (pg_ctl keeps postmaster.pid)."""
        return (Path(self.server.pgdata) / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def fresh_database(self, name: str) -> URL:
        """An empty database on this server (the app's migrations build its schema)."""
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.set(database=name)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="chat-faults-pg-"))
    database: OwnPostgres | None = None
    try:
        database = OwnPostgres(directory)
        yield database
    finally:
        if database is not None:
            if database.running:
                database._pg_ctl("-w", "-m", "immediate", "stop")
            # Stopped here: pgserver's own clean-up would chase the first postmaster's pid.
            database.server.cleanup_mode = None
            database.server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
