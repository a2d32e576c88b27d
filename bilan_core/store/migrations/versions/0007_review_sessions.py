"""team review sessions: sessions, their items, raters, and assignments with ratings

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "review_sessions",
        _text("id", 64),
        sa.Column("project_id", sa.Integer(), nullable=False),
        _text("name", 200),
        _text("status", 20),
        sa.Column("pairwise", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("raters_per_item", sa.Integer(), nullable=True),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("source", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        _text("created_by", 200),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_sessions_created", "review_sessions", ["project_id", "created_ms"])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("session_id", 64),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("prompt_id", 200),
        _text("prompt_id_b", 200, nullable=True),
        _text("variant", 200, nullable=True),
        _text("variant_b", 200, nullable=True),
        sa.Column("dataset_position", sa.Integer(), nullable=True),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "position", name="uq_review_items_position"),
    )
    op.create_index("ix_review_items_load", "review_items", ["session_id", "load", "position"])
    op.create_index("ix_review_items_prompt", "review_items", ["prompt_id"])
    op.create_index("ix_review_items_prompt_b", "review_items", ["prompt_id_b"])
    op.create_table(
        "review_raters",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("session_id", 64),
        _text("rater", 200),
        sa.Column("joined_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "rater", name="uq_review_raters"),
    )
    op.create_table(
        "review_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("session_id", 64),
        sa.Column("item_id", sa.Integer(), nullable=False),
        _text("rater", 200),
        sa.Column("seq", sa.Integer(), nullable=False),
        _text("state", 20),
        sa.Column("handed_ms", sa.BigInteger(), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=True),
        _text("winner", 20, nullable=True),
        sa.Column("scores", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        _text("comparison_id", 64, nullable=True),
        sa.Column("rated_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "rater", name="uq_review_assignments_once"),
        sa.UniqueConstraint("session_id", "rater", "seq", name="uq_review_assignments_seq"),
    )
    op.create_index("ix_review_assignments_state", "review_assignments", ["session_id", "state", "handed_ms"])


def downgrade() -> None:
    for table in ("review_assignments", "review_raters", "review_items", "review_sessions"):
        op.drop_table(table)
