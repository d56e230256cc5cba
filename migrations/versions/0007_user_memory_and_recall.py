"""User memory across conversations, its switches, and message embeddings for recall.

- user_memories: facts about a user, each with the conversation (and message) it came
  from, editable by its owner; index (user_id, created_at) for the Memory page and the
  context block.
- users.user_memory / conversations.user_memory: the user's switch, and the switch for one
  conversation (both on by default). The instance-wide switch is an app setting.
- message_embeddings: one vector per message for recall's similarity search, stored as
  real[] so the table needs no extension; pgvector compares them when the server has it
  (it is created here when the server offers it and the role may create it). Recall reads
  one conversation's rows (index on conversation_id), so no ANN index is needed.

- users.role may be "lab": the memory lab's scratch users (disabled, deleted after each
  replay), which replays now commit in short transactions instead of holding one open.

The full-text side of recall uses the GIN index on messages.search_vector (0003).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_memories",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column(
            "conversation_id", UUID(as_uuid=True),
            sa.ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True,
        ),
        sa.Column(
            "message_id", UUID(as_uuid=True), sa.ForeignKey("messages.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("origin", sa.String(16), nullable=False, server_default="extracted"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )  # fmt: skip
    op.create_index("user_memories_user_time", "user_memories", ["user_id", "created_at"])
    op.add_column(
        "users", sa.Column("user_memory", sa.Boolean, nullable=False, server_default="true")
    )
    op.add_column(
        "conversations",
        sa.Column("user_memory", sa.Boolean, nullable=False, server_default="true"),
    )
    op.create_table(
        "message_embeddings",
        sa.Column(
            "message_id", UUID(as_uuid=True), sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "conversation_id", UUID(as_uuid=True),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("embedding", sa.ARRAY(sa.REAL), nullable=False),
    )  # fmt: skip
    op.create_index(
        "message_embeddings_conversation", "message_embeddings", ["conversation_id", "model"]
    )
    op.drop_constraint("users_role_check", "users", type_="check")
    op.create_check_constraint("users_role_check", "users", "role in ('user', 'admin', 'lab')")
    # pgvector when the server has it and this role may create it; otherwise recall says
    # so and uses full-text search alone (a subtransaction: a refusal aborts nothing).
    op.execute(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN "
        "CREATE EXTENSION IF NOT EXISTS vector; END IF; "
        "EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pgvector not created: %', SQLERRM; "
        "END $$"
    )


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'lab'")
    op.drop_constraint("users_role_check", "users", type_="check")
    op.create_check_constraint("users_role_check", "users", "role in ('user', 'admin')")
    op.drop_table("message_embeddings")
    op.drop_column("conversations", "user_memory")
    op.drop_column("users", "user_memory")
    op.drop_index("user_memories_user_time", table_name="user_memories")
    op.drop_table("user_memories")
