"""analytics roll-ups (turn_rollups, vote_rollups), filled from the stored turns and votes by 0012

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
PERCENTILE_INDEXES = {
    "ix_turns_model_latency": ("model", "latency_ms"),
    "ix_turns_model_ttft": ("model", "ttft_ms"),
    "ix_turns_latency": ("latency_ms", "model"),
}


def _label(name: str) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False)


def _key() -> list[sa.Column]:
    return [
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "turn_rollups",
        *_key(),
        _label("model"),
        _label("user_id"),
        _label("team_session"),
        _label("prompt_version"),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
        ),
        sa.Column("latency_hist", sa.LargeBinary(), nullable=True),
        sa.Column("ttft_hist", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("project_id", "day", "model", "user_id", "team_session", "prompt_version"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vote_rollups",
        *_key(),
        _label("model"),
        _label("prompt_version"),
        _label("user_id"),
        _label("team_session"),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("up", "down", "comments")),
        sa.Column("up_weight", sa.Float(), nullable=False),
        sa.Column("down_weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "day", "model", "prompt_version", "user_id", "team_session"),
        sqlite_with_rowid=False,
    )
    # Filled from the stored rows by 0012, once every level has its final keys.
    # The analytics read the roll-ups now: the indexes that served latency walks and per-user scans go.
    with op.batch_alter_table("turns", schema=None) as batch_op:
        for name in PERCENTILE_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_user")
        batch_op.create_index("ix_votes_user", ["project_id", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_user")
        batch_op.create_index(
            "ix_votes_user",
            ["project_id", "user_id", "created_ms", "value", "model", "prompt_version", "team_session"],
            unique=False,
        )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        for name, (first, second) in PERCENTILE_INDEXES.items():
            columns = ["project_id", first, second, "created_ms", "user_id", "team_session", "prompt_version"]
            batch_op.create_index(name, columns, unique=False)
    op.drop_table("vote_rollups")
    op.drop_table("turn_rollups")
