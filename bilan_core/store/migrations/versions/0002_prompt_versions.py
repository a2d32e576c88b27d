"""prompt versions and labels; turns record their prompt

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "label", name="uq_prompt_labels_label"),
    )
    with op.batch_alter_table("prompt_labels", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_labels_version", ["project_id", "name", "version"], unique=False)

    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("params", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "version", name="uq_prompt_versions_number"),
    )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prompt_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("prompt_number", sa.Integer(), nullable=True))
        batch_op.create_index("ix_turns_prompt", ["project_id", "prompt_name", "prompt_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index("ix_turns_prompt")
        batch_op.drop_column("prompt_number")
        batch_op.drop_column("prompt_name")

    op.drop_table("prompt_versions")
    with op.batch_alter_table("prompt_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_labels_version")

    op.drop_table("prompt_labels")
