"""Database connections and schema migrations.

``KB_DATABASE_URL`` selects the database: a SQLite file by default (``sqlite:///kb.sqlite``
in the working directory), or PostgreSQL when a KB is shared
(``postgresql+psycopg://user@host/db``; a bare ``postgresql://`` URL gets the psycopg driver).
No engine is created at import time.

The schema is owned by Alembic (``kb/migrations``); :mod:`kb.schema` says which revision a
database is at and upgrades it (one process at a time, with a backup of a SQLite KB first).

SQLite URLs are built from paths with :func:`sqlite_url` (SQLAlchemy's ``URL.create``), never
by pasting strings: a ``#``, ``?``, ``%`` or space in a path must not change which file opens.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, StatementError

from kb.errors import StoreError

DEFAULT_DATABASE_URL = "sqlite:///kb.sqlite"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The database URL to use: ``url``, else ``KB_DATABASE_URL``, else the default SQLite file."""
    chosen = url or os.environ.get("KB_DATABASE_URL") or DEFAULT_DATABASE_URL
    if chosen.startswith("postgresql://") or chosen.startswith("postgres://"):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    return chosen


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of the SQLite file at ``path``, whatever characters the path holds."""
    return URL.create("sqlite", database=os.fspath(path)).render_as_string(hide_password=False)


def sqlite_file(url: str | URL) -> Path | None:
    """The file behind a SQLite URL (plain or ``file:`` URI form); None for memory or a server."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database
    if database.startswith("file:"):  # the URI form: percent-encoded, with its own query
        database = unquote(database.removeprefix("file:").split("?", 1)[0].removeprefix("//"))
    return Path(database)


def describe(url: str | URL) -> str:
    """How to name a database in a message: a SQLite file's path, else the URL without password."""
    parsed = make_url(url) if isinstance(url, str) else url
    path = sqlite_file(parsed)
    return str(path) if path is not None else parsed.render_as_string(hide_password=True)


def db_error(exc: BaseException, url: str | URL) -> str:
    """One line saying what went wrong with the database at ``url``: no SQL, no parameters.

    SQLAlchemy's own message carries the statement and its parameters (user data, possibly
    long); the driver's first line says what happened, and is what a user can act on.
    """
    where = describe(url)
    original = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    lowered = reason.lower()
    if "file is not a database" in lowered or "malformed" in lowered:
        return f"{where} is not a readable SQLite database ({reason}): restore it from a backup or point --db elsewhere"
    if "readonly database" in lowered or "read-only" in lowered:
        return f"permission denied: {where} (it is read-only)"
    if "unable to open database file" in lowered:
        path = sqlite_file(url)
        if path is not None and (path.exists() and not os.access(path, os.R_OK)):
            return f"permission denied: {path}"
        if path is not None and not os.access(_existing_parent(path), os.W_OK | os.X_OK):
            return f"permission denied: {_existing_parent(path)}"
        return f"cannot open {where} ({reason})"
    if "database is locked" in lowered:
        return f"{where} is locked by another process; try again when it has finished"
    if isinstance(original, sqlite3.Error) or sqlite_file(url) is not None:
        return f"database error at {where}: {reason}"
    if "connect" in lowered or "server" in lowered or "timeout" in lowered:
        return f"cannot connect to {where}: {reason}. Check KB_DATABASE_URL and that the database server is running"
    return f"database error at {where}: {reason}"


def require_writable_file(path: Path) -> None:
    """Refuse, in one line, a SQLite file (or the folder a new one goes in) this process cannot write.

    SQLite writes a journal beside the file, so the folder must be writable too.

    Raises:
        StoreError: ``permission denied: PATH``.
    """
    blocked = blocked_folder(path)
    if blocked is not None:
        raise StoreError(f"permission denied: {blocked}")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"permission denied: {path}")
    folder = path.parent if path.parent.exists() else _existing_parent(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"permission denied: {folder}")


def blocked_folder(path: Path) -> Path | None:
    """The first folder on the way to ``path`` this process may not enter, if any."""
    for folder in reversed(path.absolute().parents):
        if folder.exists() and not os.access(folder, os.X_OK):
            return folder
        if not folder.exists():
            return None
    return None


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")


def create_kb_engine(url: str | None = None) -> Engine:
    """Create an engine for the KB database.

    SQLite connections enforce foreign keys and wait up to 30 s for a lock instead of failing;
    the folder of a new SQLite file is created.

    Raises:
        StoreError: the URL is malformed or names a driver that is not installed.
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = sqlite_file(parsed)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except PermissionError as exc:
                    raise StoreError(f"permission denied: {_existing_parent(path)}") from exc
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
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


def parse_url(url: str | None = None) -> URL:
    """The database URL to use (see :func:`database_url`), parsed.

    Raises:
        StoreError: the URL is malformed.
    """
    resolved = database_url(url)
    try:
        return make_url(resolved)
    except ArgumentError as exc:
        raise StoreError(f"KB_DATABASE_URL {resolved!r} is not a database URL: {exc}") from exc


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


def as_list(value: object) -> list[str]:
    """A JSON list column as a Python list (drivers return either a list or its JSON text)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value:
        return list(json.loads(value))
    return []
