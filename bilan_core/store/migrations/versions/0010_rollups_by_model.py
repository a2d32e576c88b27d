"""roll-ups summed over users and team sessions (daily and hourly), for the views that filter by neither

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
LABELS = ("model", "prompt_version", "prompt_name")
TURN_COUNTERS = ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
TABLES = (
    ("turn_rollups_by_model", "day"),
    ("turn_rollups_by_model_hourly", "hour"),
    ("vote_rollups_by_model", "day"),
    ("vote_rollups_by_model_hourly", "hour"),
)


def _big(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _sums(table: str) -> list[sa.Column]:
    if table.startswith("turn"):
        return [
            *(_big(name) for name in TURN_COUNTERS),
            sa.Column("latency_hist", sa.LargeBinary(), nullable=True),
            sa.Column("ttft_hist", sa.LargeBinary(), nullable=True),
        ]
    return [
        *(_big(name) for name in ("up", "down", "comments")),
        sa.Column("up_weight", sa.Float(), nullable=False),
        sa.Column("down_weight", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    for table, bucket in TABLES:
        op.create_table(
            table,
            *(
                sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False)
                for name in LABELS
            ),
            _big("prompt_number"),
            *_sums(table),
            _big("project_id"),
            _big(bucket),
            sa.PrimaryKeyConstraint("project_id", bucket, *LABELS, "prompt_number"),
            sqlite_with_rowid=False,
        )
    # Filled from the stored rows by 0012, once every level has its final keys.


def downgrade() -> None:
    for table, _ in reversed(TABLES):
        op.drop_table(table)
