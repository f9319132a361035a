"""The KB's schema: which revision a database is at, and upgrading it.

Alembic (``kb/migrations``) writes the schema; this module decides when it may, and makes an
upgrade safe:

- :func:`read_state` says what a database is: empty, a KB at this version's revision, a KB
  written by an older or a newer version, or something that is not a KB at all. It never
  writes.
- :func:`require_current` is the read-only path's check (``import queries``, ``kb runs``): it
  refuses anything but a current KB, naming ``kb upgrade`` when one would help.
- :func:`upgrade` creates or upgrades the schema, one process at a time (a PostgreSQL advisory
  lock; on SQLite a ``BEGIN IMMEDIATE`` transaction), waiting a bounded time for another
  process doing the same. A SQLite KB is copied first (``VACUUM INTO PATH.before-REV``). On
  SQLite the migration runs with foreign keys off (so a table can be rebuilt while other
  tables refer to it) and ``PRAGMA foreign_key_check`` runs before the commit; the whole
  upgrade is one transaction, so a failed one leaves the file as it was.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from kb.db import alembic_config, db_error, describe, sqlite_file, sqlite_url
from kb.errors import KBBusy, NewerKnowledgeBase, NotAKnowledgeBase, StoreError, UpgradeRequired

#: How long schema work waits for another process doing the same before giving up (seconds).
SCHEMA_WAIT = 120.0

#: Tables every revision of the KB has: a database without them is not a KB.
_KB_TABLES = frozenset({"article", "finding", "topic"})

#: The PostgreSQL advisory lock that serialises schema work (the bytes of "kbschema").
_ADVISORY_KEY = int.from_bytes(b"kbschema", "big")

Status = Literal["empty", "current", "behind", "ahead", "foreign"]


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of the package knows."""
    head = _script().get_current_head()
    assert head is not None
    return head


def known_revisions() -> tuple[str, ...]:
    """Every schema revision this version knows, oldest first."""
    return tuple(reversed([r.revision for r in _script().walk_revisions()]))


@dataclass(frozen=True, slots=True)
class SchemaState:
    """What a database holds, as far as the KB's schema goes."""

    where: str
    """The database, as messages name it (a SQLite file's path, or the URL without password)."""
    hint: str
    """The ``--db`` value that names it in a command to suggest."""
    revision: str | None
    """The revision in ``alembic_version`` (None: no such table, or no row)."""
    tables: frozenset[str]
    """The tables the database holds."""

    @property
    def status(self) -> Status:
        """``empty`` (no tables), ``current``, ``behind`` (older), ``ahead`` (newer) or ``foreign``."""
        if not self.tables:
            return "empty"
        if self.revision is None or not _KB_TABLES.issubset(self.tables):
            return "foreign"
        if self.revision == head_revision():
            return "current"
        return "behind" if self.revision in known_revisions() else "ahead"


@dataclass(frozen=True, slots=True)
class Upgrade:
    """A schema upgrade that was applied."""

    where: str
    from_revision: str | None
    """None when the schema was created from nothing."""
    to_revision: str
    backup: Path | None
    """The copy of the SQLite file taken first (None for a new KB or PostgreSQL)."""

    def line(self) -> str:
        """One line for a terminal."""
        if self.from_revision is None:
            return f"created the KB schema (revision {self.to_revision}) at {self.where}"
        kept = f"; the previous file is kept at {self.backup}" if self.backup else ""
        return f"upgraded the KB at {self.where} from schema {self.from_revision} to {self.to_revision}{kept}"


def read_state(engine: Engine | Connection) -> SchemaState:
    """Which schema revision the database holds. Never writes.

    Raises:
        StoreError: the database cannot be reached or read (one line; no SQL).
    """
    url = engine.engine.url if isinstance(engine, Connection) else engine.url
    try:
        if isinstance(engine, Connection):
            return _read_state(engine)
        with engine.connect() as connection:
            return _read_state(connection)
    except SQLAlchemyError as exc:
        raise StoreError(db_error(exc, url)) from exc


def _read_state(connection: Connection) -> SchemaState:
    url = connection.engine.url
    tables = frozenset(inspect(connection).get_table_names())
    revision = None
    if "alembic_version" in tables:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    path = sqlite_file(url)
    hint = sqlite_url(path) if path is not None else url.render_as_string(hide_password=True)
    return SchemaState(describe(url), hint, revision, tables)


def require_current(state: SchemaState) -> None:
    """Refuse anything but a KB at this version's schema (the read-only path never migrates).

    Raises:
        NotAKnowledgeBase: the database is empty or holds another program's tables.
        UpgradeRequired: an older version wrote it; ``kb upgrade`` brings it up to date.
        NewerKnowledgeBase: a newer version wrote it.
    """
    status = state.status
    if status == "behind":
        raise UpgradeRequired(
            f"the KB at {state.where} was written by an older version of kb (schema {state.revision}; this "
            f"version reads {head_revision()}): run 'kb upgrade --db {state.hint}' first (it keeps a copy of "
            "a SQLite file)"
        )
    require_writable(state)
    if status == "empty":
        raise NotAKnowledgeBase(
            f"{state.where} is not a knowledge base (it holds no tables): build one with "
            f"'kb build --db {state.hint}', or point KB_DATABASE_URL at an existing KB"
        )


def require_writable(state: SchemaState) -> None:
    """Refuse a database this version must not write to (its schema is unknown to us).

    Raises:
        NotAKnowledgeBase: the database holds tables that are not a KB's.
        NewerKnowledgeBase: a newer version of kb wrote it.
    """
    status = state.status
    if status == "foreign":
        shown = ", ".join(sorted(state.tables)[:5]) + (", …" if len(state.tables) > 5 else "")
        raise NotAKnowledgeBase(
            f"{state.where} is not a knowledge base (it holds other tables: {shown}); "
            "nothing was changed. Point --db or KB_DATABASE_URL at a KB, or at a new file"
        )
    if status == "ahead":
        raise NewerKnowledgeBase(
            f"the KB at {state.where} was written by a newer version of kb (schema {state.revision}; this "
            f"version knows up to {head_revision()}): nothing was changed. Upgrade this package "
            "(pip install -U …) or use the version that wrote it"
        )


def upgrade(engine: Engine, *, backup: bool = True, wait: float | None = None) -> Upgrade | None:
    """Create or upgrade the schema to this version's revision; None if it already was.

    One process at a time: a second one waits (at most ``wait`` seconds) for the first, then
    finds nothing left to do.

    Args:
        engine: the KB's engine (a SQLite file or PostgreSQL).
        backup: copy a SQLite KB to ``PATH.before-REV`` before upgrading it.
        wait: seconds to wait for another process creating or upgrading the schema
            (default: ``KB_SCHEMA_WAIT`` from the environment, else :data:`SCHEMA_WAIT`).

    Raises:
        NotAKnowledgeBase: the database holds another program's tables.
        NewerKnowledgeBase: a newer version of kb wrote it.
        KBBusy: another process held the schema for longer than ``wait``.
        StoreError: the database cannot be reached, or the upgrade failed (and changed nothing).
    """
    state = read_state(engine)
    require_writable(state)
    if state.status == "current":
        return None
    wait = wait_seconds() if wait is None else wait
    path = sqlite_file(engine.url)
    if path is not None:
        return _upgrade_sqlite(engine, path, backup=backup, wait=wait)
    return _upgrade_server(engine, wait=wait)


def _migrate(connection: Connection) -> None:
    config = alembic_config(connection.engine)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _upgrade_sqlite(engine: Engine, path: Path, *, backup: bool, wait: float) -> Upgrade | None:
    before = read_state(engine)
    copy = backup_sqlite(path, before.revision) if backup and before.status == "behind" else None
    migration = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": wait})
    event.listen(migration, "connect", _sqlite_migration_connection)
    event.listen(migration, "begin", _sqlite_begin_immediate)
    try:
        with migration.begin() as connection:
            state = _read_state(connection)  # again, now that no other process can write
            require_writable(state)
            if state.status == "current":
                result = None  # another process did it meanwhile
            elif state.revision != before.revision:
                raise StoreError(
                    f"the schema of {state.where} changed while this process was copying it (from {before.revision} "
                    f"to {state.revision}); nothing was changed. Run the command again"
                )
            else:
                _drop_leftovers(connection, state)
                _migrate(connection)
                _check_foreign_keys(connection, state)
                result = Upgrade(state.where, state.revision, head_revision(), copy)
    except OperationalError as exc:
        _discard(copy)
        if "locked" in str(exc.orig):
            raise KBBusy(
                f"another process has held {before.where} for over {wait:.0f} s while this one waited to "
                "create or upgrade its schema; nothing was changed. Try again when it has finished"
            ) from exc
        raise StoreError(f"could not upgrade {before.where}: {db_error(exc, engine.url)}; nothing was changed") from exc
    except SQLAlchemyError as exc:
        _discard(copy)
        raise StoreError(f"could not upgrade {before.where}: {db_error(exc, engine.url)}; nothing was changed") from exc
    except BaseException:
        _discard(copy)
        raise
    finally:
        migration.dispose()
    if result is None:
        _discard(copy)  # another process upgraded it meanwhile: this copy is of the upgraded file
    return result


def _drop_leftovers(connection: Connection, state: SchemaState) -> None:
    """Drop the copies a failed batch migration of an earlier release left behind.

    That release ran SQLite migrations without a transaction around their DDL: a failed
    table rebuild left an empty ``_alembic_tmp_<table>`` (its copy of the rows was rolled
    back; the original table is intact), and every later attempt failed on it.
    """
    for table in sorted(state.tables):
        original = table.removeprefix("_alembic_tmp_")
        if table.startswith("_alembic_tmp_") and original in state.tables:
            connection.exec_driver_sql(f'DROP TABLE "{table}"')


def _sqlite_migration_connection(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver must not open or commit transactions on its own (it would commit DDL one
    # statement at a time); BEGIN comes from _sqlite_begin_immediate. Foreign keys can only be
    # switched outside a transaction, so here: off for this connection, which is thrown away
    # after the migration (NullPool), so nothing else ever runs with them off.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _sqlite_begin_immediate(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once: a second process waits here (busy timeout),
    # not half-way through the migration.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _check_foreign_keys(connection: Connection, state: SchemaState) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        tables = sorted({f"{row[0]} → {row[2]}" for row in violations})
        raise StoreError(
            f"could not upgrade {state.where}: {len(violations)} row(s) would refer to rows that do not exist "
            f"({', '.join(tables)}); nothing was changed"
        )


def backup_sqlite(path: Path, revision: str | None) -> Path:
    """Copy a SQLite KB to ``PATH.before-REV`` (a new name if that exists); return the copy's path.

    Raises:
        StoreError: the copy could not be written.
    """
    target = path.with_name(f"{path.name}.before-{revision}")
    if target.exists():
        target = path.with_name(f"{target.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}")
    try:
        connection = sqlite3.connect(path)
        try:
            connection.execute("VACUUM INTO ?", (str(target),))
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"could not copy {path} to {target} before upgrading it: {db_error(exc, sqlite_url(path))}"
        ) from exc
    return target


def _discard(copy: Path | None) -> None:
    if copy is not None:
        copy.unlink(missing_ok=True)


def _upgrade_server(engine: Engine, *, wait: float) -> Upgrade | None:
    where = describe(engine.url)
    try:
        with engine.begin() as connection:
            _advisory_lock(connection, wait, where)
            state = _read_state(connection)  # again, now that we hold the lock
            require_writable(state)
            if state.status == "current":
                return None
            # A table another session is reading waits for it; bounded like the lock.
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'")
            _migrate(connection)
            return Upgrade(state.where, state.revision, head_revision(), None)
    except OperationalError as exc:
        if "lock timeout" in str(exc.orig):
            raise KBBusy(
                f"the upgrade of {where} waited over {wait:.0f} s for other sessions to let go of its tables; "
                "nothing was changed. Try again when they have finished"
            ) from exc
        raise StoreError(f"could not create or upgrade the KB schema: {db_error(exc, engine.url)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"could not create or upgrade the KB schema at {where}: {db_error(exc, engine.url)}") from exc


def _advisory_lock(connection: Connection, wait: float, where: str) -> None:
    """Take the schema lock for this transaction, polling so the wait is bounded and says why."""
    deadline = time.monotonic() + wait
    while not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY}).scalar():
        if time.monotonic() > deadline:
            raise KBBusy(
                f"another process has been creating or upgrading the schema of {where} for over {wait:.0f} s; "
                "nothing was changed. Try again when it has finished"
            )
        time.sleep(0.1)


def wait_seconds() -> float:
    """How long schema work waits for another process: ``KB_SCHEMA_WAIT`` seconds, else :data:`SCHEMA_WAIT`."""
    value = os.environ.get("KB_SCHEMA_WAIT")
    try:
        return float(value) if value else SCHEMA_WAIT
    except ValueError:
        return SCHEMA_WAIT
