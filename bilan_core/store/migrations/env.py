"""Alembic environment: migrations run on the connection that ``bilan_core.store.engine.migrate`` hands in."""

from alembic import context
from sqlmodel import SQLModel

# Each module of tables registers them on SQLModel.metadata.
import bilan_core.store.data_versions
import bilan_core.store.dataset_models
import bilan_core.store.models
import bilan_core.store.prompts
import bilan_core.store.review_tables
import bilan_core.store.rollup_tables  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
