"""What a maintainer asks of a KB first (``kb status``): never writes, never creates a file.

Schema revision and whether ``kb upgrade`` is needed, the topics with their sizes, the last
refresh of each and how it ended, how many machine findings nobody has reviewed yet, and
the copies a schema upgrade left beside a SQLite file.

A KB written by an older version is still described (its revision and backups, and its
topics as far as its tables allow), since "does it need ``kb upgrade``?" is the question.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from kb.db import db_error, parse_url, sqlite_file
from kb.errors import StoreError
from kb.schema import head_revision, read_state, require_writable
from queries.db import open_read_only


@dataclass(frozen=True, slots=True)
class LastRun:
    """A topic's latest ``kb refresh`` run."""

    started_at: datetime | str
    status: str
    message: str | None


@dataclass(frozen=True, slots=True)
class TopicStatus:
    """One topic of the KB and its size."""

    id: str
    title: str
    articles: int
    curated: int
    """Curated findings (from the pack, including reviewed ones)."""
    unreviewed: int
    """Machine findings nobody has accepted, corrected or rejected yet."""
    last_run: LastRun | None


@dataclass(frozen=True, slots=True)
class KBStatus:
    """The answer of :func:`kb_status`."""

    where: str
    revision: str | None
    head: str
    state: str
    """``current``, ``behind`` (run ``kb upgrade``) or ``empty``."""
    topics: tuple[TopicStatus, ...]
    backups: tuple[Path, ...]

    @property
    def needs_upgrade(self) -> bool:
        return self.state == "behind"

    @property
    def unreviewed(self) -> int:
        return sum(t.unreviewed for t in self.topics)

    def lines(self) -> list[str]:
        """The status as lines for a terminal."""
        schema = {
            "current": f"schema {self.revision} (current)",
            "behind": f"schema {self.revision}, older than this version's {self.head}: run 'kb upgrade'",
            "empty": "no tables yet: 'kb build' makes a KB here",
        }[self.state]
        out = [f"KB: {self.where}", f"  {schema}"]
        if not self.topics and self.state != "empty":
            out.append("  no topics: 'kb build --topic NAME' loads one")
        for t in self.topics:
            out.append(
                f"topic {t.id}: {t.title} — {t.articles} articles, {t.curated} curated findings, "
                f"{t.unreviewed} unreviewed machine findings"
            )
            if t.last_run is None:
                out.append("  last refresh: never")
            else:
                run = t.last_run
                started = run.started_at if isinstance(run.started_at, str) else f"{run.started_at:%Y-%m-%d %H:%M}"
                said = f" ({run.message})" if run.message and run.status in ("partial", "failed") else ""
                out.append(f"  last refresh: {started} UTC, {run.status}{said}")
        out.append(f"unreviewed findings: {self.unreviewed}" + (" ('kb review --topic T')" if self.unreviewed else ""))
        if self.backups:
            out.append("backups: " + ", ".join(str(p) for p in self.backups))
        else:
            out.append("backups: none")
        return out


def kb_status(db: str | None = None) -> KBStatus:
    """Describe the KB at ``db`` (default: ``KB_DATABASE_URL`` / ``kb.sqlite``) without writing.

    Raises:
        KBError: there is no KB file there (nothing is created).
        NotAKnowledgeBase: the database holds another program's tables.
        NewerKnowledgeBase: a newer version wrote it.
        StoreError: the database cannot be read.
    """
    engine = open_read_only(db)
    try:
        state = read_state(engine)
        require_writable(state)  # refuses foreign and newer databases in one line
        try:
            with engine.connect() as connection:
                topics = _topics(connection) if state.status != "empty" else ()
        except SQLAlchemyError as exc:
            raise StoreError(db_error(exc, engine.url)) from exc
    finally:
        engine.dispose()
    return KBStatus(
        where=state.where,
        revision=state.revision,
        head=head_revision(),
        state=state.status,
        topics=topics,
        backups=_backups(db),
    )


def _topics(connection: Connection) -> tuple[TopicStatus, ...]:
    tables = set(inspect(connection).get_table_names())
    found: list[TopicStatus] = []
    for topic_id, title in connection.execute(text("SELECT id, title FROM topic ORDER BY id")):
        articles = connection.execute(
            text("SELECT COUNT(DISTINCT article_id) FROM article_source WHERE topic_id = :t"), {"t": topic_id}
        ).scalar_one()
        by_origin: dict[str, int] = dict(
            connection.execute(
                text("SELECT origin, COUNT(*) FROM finding WHERE topic_id = :t GROUP BY origin"), {"t": topic_id}
            ).all()
        )
        found.append(
            TopicStatus(
                id=topic_id,
                title=title,
                articles=int(articles),
                curated=int(by_origin.get("curated", 0)),
                unreviewed=int(by_origin.get("extracted", 0)),
                last_run=_last_run(connection, topic_id) if "refresh_run" in tables else None,
            )
        )
    return tuple(found)


def _last_run(connection: Connection, topic_id: str) -> LastRun | None:
    row = connection.execute(
        text(
            "SELECT started_at, status, message FROM refresh_run WHERE topic_id = :t "
            "ORDER BY started_at DESC, id DESC LIMIT 1"
        ),
        {"t": topic_id},
    ).first()
    if row is None:
        return None
    started = row.started_at
    if isinstance(started, str):  # SQLite returns text for raw SQL
        with contextlib.suppress(ValueError):
            started = datetime.fromisoformat(started)
    return LastRun(started_at=started, status=row.status, message=row.message)


def _backups(db: str | None) -> tuple[Path, ...]:
    path = sqlite_file(parse_url(db))
    if path is None or not path.parent.is_dir():
        return ()
    return tuple(sorted(path.parent.glob(f"{path.name}.before-*")))
