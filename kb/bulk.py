"""The store's bulk path: many PubMed records per transaction, for ``kb ingest``.

Part of the store (the only code that writes SQL, with :mod:`kb.store`): it writes articles,
their provenance and their reference lists in large batches, with ``executemany`` on SQLite
and ``COPY`` (through psycopg) into a temporary table on PostgreSQL, and keeps the ledger
of applied files. It keeps the store's rules:

- an article is an upsert by id, and an empty value never erases a stored one (as
  :meth:`kb.store.Store.save_articles`); an unchanged record is not written at all, so a
  rerun changes nothing, not even a timestamp;
- provenance and citation rows are inserted unless present (the first sighting is kept);
- a transaction that changed any row moves the KB's revision (through
  :meth:`kb.store.Store.session`).

Rows arrive as plain tuples (:data:`ARTICLE_COLUMNS`), built by the caller without any model
validation: that validation was most of the time a record took to store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlmodel import col

from kb.models import AppliedFile, Article, ArticleSource, Citation, MissingRecord
from kb.store import Changes, Store

#: The article columns a bulk row holds, in order (lists are Python lists).
ARTICLE_COLUMNS: tuple[str, ...] = (
    "id",
    "pmid",
    "doi",
    "pmcid",
    "title",
    "journal",
    "year",
    "authors",
    "abstract",
    "language",
    "publication_types",
    "mesh_terms",
    "url",
    "retracted",
    "notices",
)
_JSON = frozenset({"authors", "publication_types", "mesh_terms", "notices"})
_INSERT_COLUMNS = (*ARTICLE_COLUMNS, "created_at", "updated_at")
_SOURCE_COLUMNS = ("article_id", "topic_id", "kind", "detail", "depth", "first_seen", "rule")
_CITATION_COLUMNS = ("citing_id", "cited_id", "source")
_SELECT_BATCH = 500


@dataclass(slots=True)
class BulkRows:
    """One batch for :func:`save_bulk`.

    ``sources`` are (article id, topic id, file name, rule): provenance of kind ``file``;
    ``citations`` are (citing id, cited id) from the records' reference lists.
    """

    articles: list[tuple[Any, ...]] = field(default_factory=list)
    sources: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    citations: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class BulkChanges:
    """What :func:`save_bulk` changed."""

    articles: Changes = field(default_factory=Changes)
    sources: int = 0
    citations: int = 0

    def __iadd__(self, other: BulkChanges) -> BulkChanges:
        self.articles += other.articles
        self.sources += other.sources
        self.citations += other.citations
        return self


def save_bulk(store: Store, rows: BulkRows, *, fill_only: bool = False) -> BulkChanges:
    """Store one batch of records in one transaction.

    Args:
        store: the KB.
        rows: the batch.
        fill_only: only fill fields that are empty in stored rows (a file older than what
            the KB holds must not bring back an older version of a record).

    Raises:
        StoreError: the database rejected a write.
    """
    changes = BulkChanges()
    now = datetime.now(UTC)
    with store.session() as session:
        conn = session.connection()
        postgres = conn.dialect.name == "postgresql"
        new, changed, changes.articles = _split(conn, rows.articles, fill_only)
        if new:
            records = [(*r, now, now) for r in new]
            if postgres:
                _copy_insert(conn, "article", _INSERT_COLUMNS, records)
            else:
                _insert_new(conn, Article, _INSERT_COLUMNS, records)
        if changed:
            statement = (
                update(Article)
                .where(col(Article.id) == bindparam("b_id"))
                .values({c: bindparam(f"b_{c}") for c in (*ARTICLE_COLUMNS[1:], "updated_at")})
            )
            names = [f"b_{c}" for c in (*ARTICLE_COLUMNS, "updated_at")]
            conn.execute(statement, [dict(zip(names, (*r, now), strict=True)) for r in changed])
        sources = [(a, t, "file", d, 0, now, rule) for a, t, d, rule in dict.fromkeys(rows.sources)]
        citations = [(a, b, "reference_list") for a, b in dict.fromkeys(rows.citations)]
        if postgres:
            changes.sources = _copy_insert(conn, "article_source", _SOURCE_COLUMNS, sources)
            changes.citations = _copy_insert(conn, "citation", _CITATION_COLUMNS, citations)
        else:
            changes.sources = _insert_new(conn, ArticleSource, _SOURCE_COLUMNS, sources)
            changes.citations = _insert_new(conn, Citation, _CITATION_COLUMNS, citations)
        if new or changed or changes.sources or changes.citations:
            session.info["kb_changed"] = True  # moves the revision (see Store.session)
    return changes


def has_missing(store: Store) -> bool:
    """Whether the KB records any missing identifier (else there is nothing to clear)."""
    with store.engine.connect() as connection:
        return connection.execute(select(col(MissingRecord.id)).limit(1)).first() is not None


def applied_files(store: Store) -> list[AppliedFile]:
    """Every file the KB has applied, by series, number and name."""
    with store.session() as session:
        found = list(session.execute(select(AppliedFile)).scalars())
    return sorted(found, key=lambda f: (f.series, f.number or 0, f.name, f.topic_id))


def save_applied_file(store: Store, row: AppliedFile) -> None:
    """Record (or, after ``--force``, re-record) that a file was applied for a topic."""
    with store.session() as session:
        old = session.get(AppliedFile, (row.name, row.topic_id))
        if old is not None:
            session.delete(old)
            session.flush()
        session.add(row)


# -- helpers -------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _split(
    conn: Connection, rows: list[tuple[Any, ...]], fill_only: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Changes]:
    """The rows to insert, the merged rows to update, and the counts; repeats in ``rows`` merge."""
    changes = Changes()
    table = Article.__table__  # type: ignore[attr-defined]
    columns = [table.c[c] for c in ARTICLE_COLUMNS]
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        latest[row[0]] = row
    stored: dict[str, tuple[Any, ...]] = {}
    ids = list(latest)
    for batch in _chunks(ids, _SELECT_BATCH):
        for found in conn.execute(select(*columns).where(table.c.id.in_(batch))):
            stored[found[0]] = tuple(found)
    new: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    for article_id, row in latest.items():
        old = stored.get(article_id)
        if old is None:
            new.append(row)
            changes.added += 1
            continue
        merged = tuple(
            o if _empty(n) or (fill_only and not _empty(o)) else n for n, o in zip(row, _decoded(old), strict=True)
        )
        if merged != _decoded(old):
            changed.append(merged)
            changes.updated += 1
        else:
            changes.unchanged += 1
    return new, changed, changes


def _decoded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row with its JSON lists as lists (some drivers return their text) and bools as bools."""
    out = []
    for name, value in zip(ARTICLE_COLUMNS, row, strict=True):
        if name in _JSON and isinstance(value, str):
            value = json.loads(value)
        elif name == "retracted":
            value = bool(value)
        out.append(value)
    return tuple(out)


def _insert_new(conn: Connection, model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    """SQLite: insert the rows not already present (by primary key); how many were new.

    One ``executemany`` through the driver, each value converted by its column type's own
    bind processor (JSON text, datetimes as SQLAlchemy stores them): building SQLAlchemy's
    parameters row by row cost more than the inserts.
    """
    if not rows:
        return 0
    table = model.__table__
    processors = [table.c[c].type._cached_bind_processor(conn.dialect) for c in columns]
    if any(processors):
        rows = _processed(rows, processors)
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
    result = conn.exec_driver_sql(sql, rows)
    return max(result.rowcount or 0, 0)


def _processed(rows: list[tuple[Any, ...]], processors: list[Any]) -> list[tuple[Any, ...]]:
    """The rows with each value converted by its column's processor, column by column.

    A column whose rows all hold the same object (the batch's timestamp) is converted once.
    """
    columns = list(zip(*rows, strict=True))
    for i, processor in enumerate(processors):
        if processor is None:
            continue
        values = columns[i]
        first = values[0]
        if all(v is first for v in values):
            columns[i] = (processor(first),) * len(values)
        else:
            columns[i] = tuple(map(processor, values))
    return list(zip(*columns, strict=True))


def _copy_insert(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the rows into a temporary table, then insert those not present; how many were new."""
    if not rows:
        return 0
    raw = conn.connection.driver_connection
    names = ", ".join(columns)
    json_at = [i for i, c in enumerate(columns) if c in _JSON]
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS kb_bulk_{table} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY kb_bulk_{table} ({names}) FROM STDIN") as copy:
            for row in rows:
                if json_at:
                    row = tuple(json.dumps(v) if i in json_at else v for i, v in enumerate(row))
                copy.write_row(row)
        # Table and column names are this module's constants, never input.
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM kb_bulk_{table} ON CONFLICT DO NOTHING")  # noqa: S608
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE kb_bulk_{table}")
    return max(inserted or 0, 0)
