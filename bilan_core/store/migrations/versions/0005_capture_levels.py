"""capture levels: a turn's level and text lengths, a project's maximum level

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capture", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column("prompt_chars", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("response_chars", sa.Integer(), nullable=True))
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "max_capture",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                server_default="full",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("max_capture")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("response_chars")
        batch_op.drop_column("prompt_chars")
        batch_op.drop_column("capture")
