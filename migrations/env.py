"""Alembic environment: runs on the connection the app hands in (see chat.storage.db.migrate)."""

from __future__ import annotations

from alembic import context

from chat.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `python -m chat migrate` (chat.storage.db.migrate).")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
