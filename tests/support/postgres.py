"""A real PostgreSQL for the test session.

TEST_DATABASE_URL when given (CI points it at the local server); otherwise an embedded
server (pgserver) started under a temporary directory. Either way the session works in a
fresh database of its own, migrated with the app's own migrations, dropped at the end.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL


def _driver(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def server_url() -> Iterator[str]:
    """The URL of a server we may create databases on."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield _driver(configured)
        return
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must set TEST_DATABASE_URL (the local PostgreSQL server).")
    import pgserver

    with tempfile.TemporaryDirectory(prefix="chat-test-pg-") as directory:
        server = pgserver.get_server(directory, cleanup_mode="stop")
        try:
            yield _driver(server.get_uri())
        finally:
            server.cleanup()


@contextmanager
def fresh_database(base_url: str, prefix: str = "chat_test") -> Iterator[URL]:
    """CREATE a uniquely named database on the server, yield its URL, DROP it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
