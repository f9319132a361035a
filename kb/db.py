"""Database connections and schema migrations.

``KB_DATABASE_URL`` selects the database: a SQLite file by default (``sqlite:///kb.sqlite``
in the working directory), or PostgreSQL when a KB is shared
(``postgresql+psycopg://user@host/db``; a bare ``postgresql://`` URL gets the psycopg driver).
No engine is created at import time.

The schema is owned by Alembic (``kb/migrations``): :func:`migrate` upgrades a database to
the newest revision, so a user's KB survives upgrades of this package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from kb.errors import StoreError

DEFAULT_DATABASE_URL = "sqlite:///kb.sqlite"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The database URL to use: ``url``, else ``KB_DATABASE_URL``, else the default SQLite file."""
    chosen = url or os.environ.get("KB_DATABASE_URL") or DEFAULT_DATABASE_URL
    if chosen.startswith("postgresql://") or chosen.startswith("postgres://"):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    return chosen


def create_kb_engine(url: str | None = None) -> Engine:
    """Create an engine for the KB database.

    SQLite connections enforce foreign keys and wait up to 30 s for a lock instead of failing;
    the folder of a new SQLite file is created.

    Raises:
        StoreError: the URL is malformed or names a driver that is not installed.
    """
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as exc:
        raise StoreError(f"KB_DATABASE_URL {resolved!r} is not a database URL: {exc}") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(resolved, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StoreError(
            f"KB_DATABASE_URL {parsed.render_as_string(hide_password=True)!r} names an unsupported database "
            f"({parsed.drivername}); use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    except ImportError as exc:
        raise StoreError(
            f"the database driver for {parsed.drivername!r} is not installed ({exc.name}); "
            "install the project with its 'postgres' extra: pip install -e '.[postgres]'"
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (and ``engine``, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest schema revision.

    Raises:
        StoreError: the database cannot be reached or the migration fails.
    """
    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(
            f"cannot open or migrate the KB at {engine.url.render_as_string(hide_password=True)}: {exc.orig}. "
            "Check KB_DATABASE_URL and that the database server is running."
        ) from exc


def as_list(value: object) -> list[str]:
    """A JSON list column as a Python list (drivers return either a list or its JSON text)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value:
        return list(json.loads(value))
    return []
