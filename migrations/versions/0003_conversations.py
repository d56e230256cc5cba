"""Conversations and chat experience: per-conversation temperature, full-text search
vectors over titles and message text, and an index for the pinned-first sidebar list.

The search vectors are generated columns, so every writer (the chat history, the turn
service, a rename) keeps them right without remembering to; GIN indexes make the search a
bitmap scan inside one user's rows.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("temperature", sa.Float, nullable=True))
    op.execute(
        "ALTER TABLE conversations ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', coalesce(title, ''))) STORED"
    )
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', coalesce(content, ''))) STORED"
    )
    op.execute(
        "CREATE INDEX conversations_search ON conversations USING gin (search_vector)"
    )
    op.execute("CREATE INDEX messages_search ON messages USING gin (search_vector)")
    # The sidebar order: pinned first, then most recently updated; the id breaks ties so
    # keyset paging ("load more") is stable.
    op.execute(
        "CREATE INDEX conversations_user_pinned_updated ON conversations "
        "(user_id, pinned DESC, updated_at DESC, id DESC)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS conversations_user_pinned_updated")
    op.execute("DROP INDEX IF EXISTS messages_search")
    op.execute("DROP INDEX IF EXISTS conversations_search")
    op.drop_column("messages", "search_vector")
    op.drop_column("conversations", "search_vector")
    op.drop_column("conversations", "temperature")
