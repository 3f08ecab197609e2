"""Alembic's environment for the access database: always run from :meth:`Database.upgrade`, on its connection and
inside its transaction (so that one process migrates at a time and a failed migration changes nothing)."""

from alembic import context

from pipeline.access.db._tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
