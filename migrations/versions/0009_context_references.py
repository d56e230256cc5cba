"""Context logs by reference: every summary keeps its versions.

A context log now names what the model received (message ids, the summary's strategy and
version, token counts) instead of copying its text, so its size no longer grows with the
conversation. The inspector rebuilds the text from those references; a summary's text at
the time is in summary_versions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "summaries", sa.Column("version", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "summary_versions",
        sa.Column("conversation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("covers_position", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "strategy", "version"),
    )


def downgrade() -> None:
    op.drop_table("summary_versions")
    op.drop_column("summaries", "version")
