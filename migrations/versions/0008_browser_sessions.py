"""Server-side sessions (one row per signed-in browser) and folded usernames.

The remember-me cookie names its row, so any one session can be ended (by its user or an
admin) and the Sessions page can show where each one is. The row also holds the one-time
code a browser exchanges for its HttpOnly cookie right after signing in.

users.username_fold is the name as look-alikes compare (chat/auth/usernames.py), computed
here for existing users; registration refuses a name whose fold is taken.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from chat.auth.usernames import fold

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("username_fold", sa.String(64)))
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, username FROM users")).all()
    for user_id, username in users:
        connection.execute(
            sa.text("UPDATE users SET username_fold = :fold WHERE id = :id"),
            {"fold": fold(username), "id": user_id},
        )
    op.create_index("users_username_fold", "users", ["username_fold"])
    op.create_table(
        "browser_sessions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "user_id",
            UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("device", sa.String(200), nullable=False, server_default=""),
        sa.Column("address", sa.String(128), nullable=False, server_default=""),
        sa.Column("code_hash", sa.String(64)),
        sa.Column("code_expires_at", sa.DateTime(timezone=True)),
    )
    op.create_index("browser_sessions_user", "browser_sessions", ["user_id", "created_at"])
    op.create_index(
        "browser_sessions_code",
        "browser_sessions",
        ["code_hash"],
        unique=True,
        postgresql_where=sa.text("code_hash IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("browser_sessions")
    op.drop_index("users_username_fold", table_name="users")
    op.drop_column("users", "username_fold")
