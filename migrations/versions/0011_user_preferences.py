"""User preferences (the Account page): theme, answer details, default model and persona.

A table of its own rather than columns on users: the users row is what signing in and every
session check read, preferences are what pages read; a user without a row has every default,
so existing users need no backfill and "delete my data" is one DELETE; the key is user_id,
so reading them is one primary-key lookup.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_preferences",
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("theme", sa.String(8), nullable=False, server_default="system"),
        sa.Column(
            "show_answer_details", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        # Empty: the app's default model, and its default system prompt.
        sa.Column("default_model", sa.String(200), nullable=False, server_default=""),
        sa.Column("default_persona", sa.Text, nullable=False, server_default=""),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "theme in ('system', 'light', 'dark')", name="user_preferences_theme_check"
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("user_preferences")
