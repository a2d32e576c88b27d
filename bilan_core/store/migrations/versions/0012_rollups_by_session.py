"""the roll-ups summed over users keep team sessions apart, so a view of one session reads them

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
LABELS = ("team_session", "model", "prompt_version", "prompt_name")
OLD_LABELS = ("model", "prompt_version", "prompt_name")
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
        *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False) for name in labels),
        _big("prompt_number"),
        *_sums(table),
        _big("project_id"),
        _big(bucket),
        sa.PrimaryKeyConstraint("project_id", bucket, *labels, "prompt_number"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    for table, bucket in TABLES:
        op.drop_table(table)
        _create(table, bucket, LABELS)
    _fill_from_existing_rows()


def _fill_from_existing_rows() -> None:
    from bilan_core.store.rollup_rebuild import rebuild_rollups

    connection = op.get_bind()
    projects = connection.execute(
        sa.text("SELECT DISTINCT project_id FROM turns UNION SELECT DISTINCT project_id FROM votes")
    ).scalars()
    for project_id in sorted(projects):
        rebuild_rollups(connection, project_id)


def downgrade() -> None:
    # The roll-ups are derived data: the earlier shape comes back empty, for that version's
    # ``rebuild-rollups`` to fill.
    for table, bucket in TABLES:
        op.drop_table(table)
        _create(table, bucket, OLD_LABELS)
