"""the per-user roll-ups keyed user and team session first, so a view of one user seeks to its rows

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
LABELS = ("user_id", "team_session", "model", "prompt_version", "prompt_name")
OLD_TURN_LABELS = ("model", "user_id", "team_session", "prompt_version", "prompt_name")
OLD_VOTE_LABELS = ("model", "prompt_version", "user_id", "team_session", "prompt_name")
TABLES = (
    ("turn_rollups", "day", OLD_TURN_LABELS),
    ("turn_rollups_hourly", "hour", OLD_TURN_LABELS),
    ("vote_rollups", "day", OLD_VOTE_LABELS),
    ("vote_rollups_hourly", "hour", OLD_VOTE_LABELS),
)


def _big(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _sums(table: str) -> list[sa.Column]:
    if table.startswith("turn"):
        return [
            *(_big(name) for name in ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")),
            sa.Column("latency_hist", sa.LargeBinary(), nullable=True),
            sa.Column("ttft_hist", sa.LargeBinary(), nullable=True),
        ]
    return [
        *(_big(name) for name in ("up", "down", "comments")),
        sa.Column("up_weight", sa.Float(), nullable=False),
        sa.Column("down_weight", sa.Float(), nullable=False),
    ]


def _create(table: str, bucket: str, labels: tuple[str, ...]) -> None:
    op.create_table(
        table,
        *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False) for name in LABELS),
        _big("prompt_number"),
        *_sums(table),
        _big("project_id"),
        _big(bucket),
        sa.PrimaryKeyConstraint("project_id", bucket, *labels, "prompt_number"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    for table, bucket, _ in TABLES:
        op.drop_table(table)
        _create(table, bucket, LABELS)
    # Filled from the stored rows by 0012, once every level has its final keys.


def downgrade() -> None:
    # The roll-ups are derived data: the earlier shape comes back empty, for that version's
    # ``rebuild-rollups`` to fill.
    for table, bucket, labels in TABLES:
        op.drop_table(table)
        _create(table, bucket, labels)
