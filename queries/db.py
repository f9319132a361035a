"""Read-only connections for the query API.

Queries never write. A SQLite KB is opened read-only (``mode=ro``), so even a bug here cannot
change it; PostgreSQL sessions are set ``default_transaction_read_only``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from kb.db import database_url
from kb.errors import KBError

_MMAP_BYTES = 1 << 30

DB = str | Engine | None
"""Where to read: a database URL, an engine, or None for ``KB_DATABASE_URL`` / ``kb.sqlite``."""


def connect(db: DB = None) -> Engine:
    """A read-only engine for ``db`` (cached per URL).

    Raises:
        KBError: the SQLite file does not exist (build the KB first with ``kb build``).
    """
    if isinstance(db, Engine):
        return db
    return _engine(database_url(db))


@functools.cache
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            raise KBError("the query API needs a KB file or server, not an in-memory SQLite database")
        if not Path(path).is_file():
            raise KBError(
                f"no knowledge base at {Path(path).resolve()}: run 'kb build' (or 'make demo') first, "
                "or point KB_DATABASE_URL at an existing KB"
            )
        uri = f"file:{Path(path).resolve()}?mode=ro"
        engine = create_engine("sqlite:///" + uri + "&uri=true")
        event.listen(engine, "connect", _sqlite_memory_map)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "connect", _read_only_postgres)
    return engine


def _sqlite_memory_map(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Reading pages through a memory map instead of read() calls makes the aggregation's
    # index lookups markedly faster on a large KB; safe, as these connections never write.
    dbapi_connection.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")


def _read_only_postgres(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.autocommit = autocommit
