"""Alembic environment: the engine comes from `store.db.alembic_config`, never a global."""

from alembic import context
from sqlmodel import SQLModel

import socialdesk.store.models  # noqa: F401  (registers the tables for autogenerate)
from socialdesk.store.db import lock_for_migrations

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    lock_for_migrations(connection)  # replicas starting at once: one migrates, the others then find it done
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
