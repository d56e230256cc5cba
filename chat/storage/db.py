"""Engine, embedded PostgreSQL, migrations and the unit-of-work helper.

One pooled engine per process (pre-ping, so a restarted database costs one retry, not an
error page). Without DATABASE_URL the app starts an embedded PostgreSQL (pgserver) in the
data directory: the same engine and SQL on a laptop as in production.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from chat.errors import DatabaseBusy, DatabaseUnavailable
from chat.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica.
MIGRATION_LOCK_ID = 7_214_530_118


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under data_dir and return its URL."""
    import pgserver  # imported lazily: only needed when no DATABASE_URL is configured

    pgdata = data_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def stop_embedded_database(data_dir: Path, *, timeout_s: float = 30.0) -> bool:
    """Stop the embedded PostgreSQL under data_dir, if it runs (scripts/app calls this when
    the app stops: the server is started detached, so it would outlive the app). A fast
    shutdown: sessions are ended, committed data is safe. Returns whether one was stopped."""
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise DatabaseUnavailable(f"The embedded PostgreSQL (pid {pid}) did not stop in time.")


def database_url(settings: Settings) -> str:
    return settings.database_url or embedded_database_url(settings.data_dir)


def make_engine(url: str, settings: Settings) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"connect_timeout": 5, "application_name": "chat-app"},
    )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to head, once even when several replicas start together.

    The advisory lock serialises concurrent starters; the second one finds the schema at
    head and does nothing.
    """
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        try:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def released_on_failure(engines: list[Engine]) -> Iterator[None]:
    """Starting up: a database that cannot be reached raises DatabaseUnavailable, and the
    engines made so far (appended to `engines` as they are made) keep no connections."""
    try:
        yield
    except (OperationalError, DatabaseUnavailable) as exc:
        for engine in engines:
            engine.dispose()
        if isinstance(exc, OperationalError):
            raise DatabaseUnavailable() from exc
        raise


@contextlib.contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on error.

    Database outages become DatabaseUnavailable, which the pages turn into a plain sentence;
    a pool that stayed exhausted for `db_pool_timeout` seconds becomes DatabaseBusy.
    """
    with _database_errors(), sessions() as session, session.begin():
        yield session


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    try:
        yield
    except PoolTimeout as exc:
        log.warning("database pool exhausted: %s", exc)
        raise DatabaseBusy() from exc
    except OperationalError as exc:
        log.exception("database unavailable")
        raise DatabaseUnavailable() from exc
