"""Alembic environment for the knowledge base.

Migrations run on the connection that :func:`kb.schema.upgrade` passes in
(``config.attributes["connection"]``), inside the transaction it opened (on SQLite with
foreign keys off, ``PRAGMA foreign_key_check`` before its commit), or on ``sqlalchemy.url``
when Alembic's own command line is used. SQLite needs batch mode to alter tables.
"""

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import kb.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
