"""The SQL statements an action runs, as the database receives them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

# The thread a page's script runs on (in AppTest as in the server).
PAGE_THREAD = "ScriptRunner.scriptThread"


@contextmanager
def recorded_statements(engine: Engine, *, thread: str | None = None) -> Iterator[list[str]]:
    """Every statement `engine` runs inside the block, in order: from any thread, or from
    the one named `thread` only. The savepoints that stand for transactions inside a test's
    own transaction are left out."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        if thread is not None and threading.current_thread().name != thread:
            return
        if not args[2].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
