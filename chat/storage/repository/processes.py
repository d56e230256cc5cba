"""App-process liveness (chat/storage/liveness.py): advisory locks that say a process is alive.

Part of chat.storage.repository (see its docstring).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    column,
    exists,
    func,
    literal,
    select,
    table,
)

# --- process liveness (chat/storage/liveness.py) -------------------------------------------------

# The advisory-lock namespace of app processes (the first key of the two-key form); each
# process locks (PROCESS_LOCK_NAMESPACE, its instance id) for as long as it lives.
PROCESS_LOCK_NAMESPACE = 721_453_012
_pg_locks = table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("pid"),
    column("granted"),
)
_pg_database = table("pg_database", column("oid"), column("datname"))


def process_alive(instance_id: Any) -> Any:
    """SQL: some session of this database holds the lock of process `instance_id`."""
    this_database = (
        select(_pg_database.c.oid)
        .where(_pg_database.c.datname == func.current_database())
        .scalar_subquery()
    )
    return exists().where(
        _pg_locks.c.locktype == "advisory",
        _pg_locks.c.database == this_database,
        _pg_locks.c.classid == PROCESS_LOCK_NAMESPACE,
        _pg_locks.c.objid == instance_id,
        _pg_locks.c.objsubid == 2,  # the two-key form
        _pg_locks.c.granted,
    )


def take_process_lock(*, connection: Connection, instance_id: int) -> bool:
    """Lock this process's id for the life of `connection`; False when another holds it."""
    taken = connection.scalar(
        select(func.pg_try_advisory_lock(PROCESS_LOCK_NAMESPACE, instance_id))
    )
    return bool(taken)


def release_process_lock(*, connection: Connection, instance_id: int) -> None:
    """Free the lock now (closing the connection frees it too, once the server notices)."""
    connection.execute(select(func.pg_advisory_unlock(PROCESS_LOCK_NAMESPACE, instance_id)))


def process_lock_held(*, connection: Connection, instance_id: int) -> bool:
    """Whether `connection` itself holds the lock (false after a database restart)."""
    held = connection.scalar(
        select(
            process_alive(literal(instance_id, BigInteger)).where(
                _pg_locks.c.pid == func.pg_backend_pid()
            )
        )
    )
    return bool(held)
