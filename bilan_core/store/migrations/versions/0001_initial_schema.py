"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_project_id"), ["project_id"], unique=False)

    op.create_table(
        "batch_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("item_metadata", sa.JSON(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("prompt_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "position", name="uq_batch_items_position"),
    )
    with op.batch_alter_table("batch_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_items_run_id"), ["run_id"], unique=False)

    op.create_table(
        "batch_runs",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "comparisons",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("team_session", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("variant_a", sa.JSON(), nullable=True),
        sa.Column("variant_b", sa.JSON(), nullable=True),
        sa.Column("label_a", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("label_b", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("prompt_id_a", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("prompt_id_b", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("a_shown_first", sa.Boolean(), nullable=False),
        sa.Column("winner", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.create_index("ix_comparisons_created", ["project_id", "created_ms"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("team_session", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "conversation_id", name="uq_conversations_key"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_user", ["project_id", "user_id", "updated_ms"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("prompt_text", sa.Text(), nullable=True),
        sa.Column("ai_response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "event_id", name="uq_events_event_id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_time", ["project_id", "timestamp_ms"], unique=False)
        batch_op.create_index(
            "ix_events_type_time", ["project_id", "event_type", "timestamp_ms"], unique=False
        )

    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("team_session", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("prompt_version", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("route", sa.JSON(), nullable=True),
        sa.Column("prompt_text", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("finish_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("error_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("total_tokens", sa.Integer(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "prompt_id", name="uq_turns_prompt"),
    )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_turns_conversation", ["project_id", "conversation_id", "created_ms"], unique=False
        )
        batch_op.create_index("ix_turns_created", ["project_id", "created_ms"], unique=False)
        batch_op.create_index("ix_turns_model_created", ["project_id", "model", "created_ms"], unique=False)
        batch_op.create_index(
            "ix_turns_daily",
            [
                "project_id",
                sa.text("(created_ms / 86400000)"),
                "model",
                "prompt_version",
                "status",
                "created_ms",
                "user_id",
                "team_session",
                "prompt_tokens",
                "completion_tokens",
                "latency_ms",
                "ttft_ms",
            ],
            unique=False,
        )
        for name, first, second in (
            ("ix_turns_model_latency", "model", "latency_ms"),
            ("ix_turns_model_ttft", "model", "ttft_ms"),
            ("ix_turns_latency", "latency_ms", "model"),
        ):
            batch_op.create_index(
                name,
                ["project_id", first, second, "created_ms", "user_id", "team_session", "prompt_version"],
                unique=False,
            )
        batch_op.create_index("ix_turns_prompt_version", ["project_id", "prompt_version"], unique=False)
        batch_op.create_index("ix_turns_team_session", ["project_id", "team_session"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("team_session", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("prompt_version", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "prompt_id", "user_id", name="uq_votes_one_per_user"),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index("ix_votes_created", ["project_id", "created_ms"], unique=False)
        batch_op.create_index("ix_votes_model_created", ["project_id", "model", "created_ms"], unique=False)
        batch_op.create_index(
            "ix_votes_daily",
            [
                "project_id",
                sa.text("(created_ms / 86400000)"),
                "model",
                "prompt_version",
                "value",
                "created_ms",
                "user_id",
                "team_session",
            ],
            unique=False,
        )
        batch_op.create_index(
            "ix_votes_user",
            ["project_id", "user_id", "created_ms", "value", "model", "prompt_version", "team_session"],
            unique=False,
        )
        batch_op.create_index("ix_votes_updated", ["project_id", "updated_ms"], unique=False)
        batch_op.create_index(
            "ix_votes_commented",
            ["project_id", "created_ms"],
            unique=False,
            sqlite_where=sa.text("comment IS NOT NULL"),
            postgresql_where=sa.text("comment IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_commented")
        batch_op.drop_index("ix_votes_updated")
        batch_op.drop_index("ix_votes_user")
        batch_op.drop_index("ix_votes_daily")
        batch_op.drop_index("ix_votes_model_created")
        batch_op.drop_index("ix_votes_created")

    op.drop_table("votes")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        for name in (
            "ix_turns_team_session",
            "ix_turns_prompt_version",
            "ix_turns_latency",
            "ix_turns_model_ttft",
            "ix_turns_model_latency",
            "ix_turns_daily",
        ):
            batch_op.drop_index(name)
        batch_op.drop_index("ix_turns_model_created")
        batch_op.drop_index("ix_turns_created")
        batch_op.drop_index("ix_turns_conversation")

    op.drop_table("turns")
    op.drop_table("projects")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_time")
        batch_op.drop_index("ix_events_time")

    op.drop_table("events")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_user")

    op.drop_table("conversations")
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_index("ix_comparisons_created")

    op.drop_table("comparisons")
    op.drop_table("batch_runs")
    with op.batch_alter_table("batch_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_items_run_id"))

    op.drop_table("batch_items")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_project_id"))

    op.drop_table("api_keys")
