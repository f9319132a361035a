"""Read-only connections for the query API.

Queries never write. A SQLite KB is opened read-only (``mode=ro``), so even a bug here cannot
change it; PostgreSQL sessions are set ``default_transaction_read_only``. Nor do they migrate:
a database that is not a KB at this version's schema is refused with a line that says why
(and names ``kb upgrade`` when that is the fix).
"""

from __future__ import annotations

import functools
import os

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from kb.db import blocked_folder, database_url, parse_url, sqlite_file
from kb.errors import KBError, StoreError
from kb.schema import read_state, require_current

_MMAP_BYTES = 1 << 30

DB = str | Engine | None
"""Where to read: a database URL, an engine, or None for ``KB_DATABASE_URL`` / ``kb.sqlite``."""


def connect(db: DB = None) -> Engine:
    """A read-only engine for ``db`` (cached per URL, once the database proved to be a current KB).

    An engine passed in is used as it is, unchecked.

    Raises:
        KBError: the SQLite file does not exist (build the KB first with ``kb build``).
        NotAKnowledgeBase: the database is empty or holds another program's tables.
        UpgradeRequired: an older version wrote the KB: run ``kb upgrade``.
        NewerKnowledgeBase: a newer version wrote it.
        StoreError: the database cannot be read (corrupt, permission denied, server down).
    """
    if isinstance(db, Engine):
        return db
    return _engine(database_url(db))


@functools.cache
def _engine(url: str) -> Engine:
    engine = open_read_only(url)
    try:
        require_current(read_state(engine))
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_read_only(db: str | None = None) -> Engine:
    """A read-only engine for the database at ``db`` (default: ``KB_DATABASE_URL`` / ``kb.sqlite``),
    whatever schema it holds; never creates a file. :func:`connect` also checks the schema.

    Raises:
        KBError: the SQLite file does not exist, or the URL names an in-memory database.
        StoreError: permission denied.
    """
    parsed = parse_url(db)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path is None:
            raise KBError("the query API needs a KB file or server, not an in-memory SQLite database")
        blocked = blocked_folder(path)
        if blocked is not None:
            raise StoreError(f"permission denied: {blocked}")
        if not path.is_file():
            raise KBError(
                f"no knowledge base at {path.resolve()}: run 'kb build' (or 'make demo') first, "
                "or point KB_DATABASE_URL at an existing KB"
            )
        if not os.access(path, os.R_OK):
            raise StoreError(f"permission denied: {path}")
        # A file: URI, percent-encoded by as_uri(), and put together by URL.create: a '#',
        # '?', '%' or space in the path cannot make SQLite open another (new, empty) file.
        read_only = URL.create("sqlite", database=path.resolve().as_uri(), query={"mode": "ro", "uri": "true"})
        engine = create_engine(read_only)
        event.listen(engine, "connect", _sqlite_memory_map)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
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
