"""Alembic environment for lem's run store: always online, on the connection lem passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    connection.execute(text("SELECT pg_advisory_xact_lock(734101)"))
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
context.run_migrations()
