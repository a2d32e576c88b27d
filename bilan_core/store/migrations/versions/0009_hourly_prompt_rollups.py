"""roll-ups keyed by stored prompt too, an hourly level beside the daily one; votes carry their stored prompt

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
TURN_LABELS = ("model", "user_id", "team_session", "prompt_version", "prompt_name")
VOTE_LABELS = ("model", "prompt_version", "user_id", "team_session", "prompt_name")


def _label(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=nullable)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _turn_rollups(name: str, bucket: str) -> None:
    op.create_table(
        name,
        *(_label(label) for label in TURN_LABELS),
        _count("prompt_number"),
        *(
            _count(counter)
            for counter in ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
        ),
        sa.Column("latency_hist", sa.LargeBinary(), nullable=True),
        sa.Column("ttft_hist", sa.LargeBinary(), nullable=True),
        _count("project_id"),
        _count(bucket),
        sa.PrimaryKeyConstraint("project_id", bucket, *TURN_LABELS, "prompt_number"),
        sqlite_with_rowid=False,
    )


def _vote_rollups(name: str, bucket: str) -> None:
    op.create_table(
        name,
        *(_label(label) for label in VOTE_LABELS),
        _count("prompt_number"),
        *(_count(counter) for counter in ("up", "down", "comments")),
        sa.Column("up_weight", sa.Float(), nullable=False),
        sa.Column("down_weight", sa.Float(), nullable=False),
        _count("project_id"),
        _count(bucket),
        sa.PrimaryKeyConstraint("project_id", bucket, *VOTE_LABELS, "prompt_number"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(_label("prompt_name", nullable=True))
        batch_op.add_column(sa.Column("prompt_number", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE votes SET
            prompt_name = (SELECT t.prompt_name FROM turns t
                           WHERE t.project_id = votes.project_id AND t.prompt_id = votes.prompt_id),
            prompt_number = (SELECT t.prompt_number FROM turns t
                             WHERE t.project_id = votes.project_id AND t.prompt_id = votes.prompt_id)
        WHERE EXISTS (SELECT 1 FROM turns t WHERE t.project_id = votes.project_id
                      AND t.prompt_id = votes.prompt_id AND t.prompt_name IS NOT NULL)
        """
    )
    op.drop_table("vote_rollups")
    op.drop_table("turn_rollups")
    for suffix, bucket in (("", "day"), ("_hourly", "hour")):
        _turn_rollups(f"turn_rollups{suffix}", bucket)
        _vote_rollups(f"vote_rollups{suffix}", bucket)
    # Filled from the stored rows by 0012, once every level has its final keys.


def downgrade() -> None:
    # The roll-ups are derived data: the earlier shape comes back empty, for that version's
    # ``rebuild-rollups`` to fill.
    for name in ("vote_rollups_hourly", "turn_rollups_hourly", "vote_rollups", "turn_rollups"):
        op.drop_table(name)
    op.create_table(
        "turn_rollups",
        _count("project_id"),
        _count("day"),
        *(_label(label) for label in TURN_LABELS[:4]),
        *(
            _count(counter)
            for counter in ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
        ),
        sa.Column("latency_hist", sa.LargeBinary(), nullable=True),
        sa.Column("ttft_hist", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("project_id", "day", *TURN_LABELS[:4]),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vote_rollups",
        _count("project_id"),
        _count("day"),
        *(_label(label) for label in VOTE_LABELS[:4]),
        *(_count(counter) for counter in ("up", "down", "comments")),
        sa.Column("up_weight", sa.Float(), nullable=False),
        sa.Column("down_weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "day", *VOTE_LABELS[:4]),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("prompt_number")
        batch_op.drop_column("prompt_name")
