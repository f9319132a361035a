"""The site's downloads: the exports of :mod:`queries.export` and, for a SQLite KB, the KB itself.

Written at build time into the site's generated sources, so the files are served beside the
pages and the downloads page can state their sizes. Everything is deterministic: the exports
are sorted and carry no timestamp, and the SQLite file is a ``VACUUM INTO`` copy (compact,
and the same bytes for the same KB).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from kb.db import sqlite_file
from queries.db import DB, connect
from queries.export import write_exports

__all__ = ["DOWNLOAD_DESCRIPTIONS", "SITE_FORMATS", "Download", "write_downloads"]

#: The export formats offered on the site. GEXF, node-link and Cytoscape JSON hold the same graph
#: as GraphML and each costs seconds on a large KB: they stay available from ``kb export``.
SITE_FORMATS: tuple[str, ...] = ("csv", "json", "graphml", "ris", "bibtex")

#: What each downloadable file holds, by file name, in the order the downloads page lists them.
DOWNLOAD_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "findings.csv": ("CSV", "Every finding with its article, intervention, condition, counts and evidence."),
    "articles.csv": ("CSV", "Every article with its bibliographic data and number of findings."),
    "aggregates.csv": ("CSV", "Evidence per intervention or class, condition and disease context."),
    "kb.json": ("JSON", "The three tables above in one JSON document."),
    "kb.graphml": ("GraphML", "The evidence graph (articles, findings, vocabulary), for Gephi, Cytoscape or networkx."),
    "articles.ris": ("RIS", "The articles behind the findings, for Zotero, EndNote or Mendeley."),
    "articles.bib": ("BibTeX", "The same articles, for LaTeX."),
    "kb.sqlite": ("SQLite", "The whole knowledge base (see the data dictionary)."),
}


@dataclass(frozen=True, slots=True)
class Download:
    """One file offered on the downloads page.

    Attributes:
        name: the file name (under ``downloads/``).
        format: what kind of file it is (CSV, JSON, GraphML, …).
        size: its size in bytes.
        description: what it holds.
    """

    name: str
    format: str
    size: int
    description: str


def write_downloads(out_dir: Path, *, db: DB = None) -> list[Download]:
    """Write every export (and a copy of a SQLite KB) into ``out_dir``; describe what was written.

    Files in ``out_dir`` that this build did not write are removed, so a KB that moved from
    SQLite to PostgreSQL does not leave an old copy behind.

    Args:
        out_dir: the folder to write into (created if needed).
        db: where to read (see :mod:`queries.api`).

    Returns:
        The files, in the order of :data:`DOWNLOAD_DESCRIPTIONS`.
    """
    engine = connect(db)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {path.name: path for path in write_exports(out_dir, SITE_FORMATS, db=engine)}
    copy = _copy_sqlite(engine, out_dir / "kb.sqlite")
    if copy is not None:
        written[copy.name] = copy
    for stale in sorted(out_dir.iterdir()):
        if stale.name not in written and stale.is_file():
            stale.unlink()
    return [
        Download(name, kind, written[name].stat().st_size, description)
        for name, (kind, description) in DOWNLOAD_DESCRIPTIONS.items()
        if name in written
    ]


def _copy_sqlite(engine: Engine, target: Path) -> Path | None:
    """A compact copy of a SQLite KB at ``target``; None for any other database."""
    source = sqlite_file(engine.url)
    if source is None:
        return None
    target.unlink(missing_ok=True)
    connection = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        connection.execute("VACUUM INTO ?", (str(target),))
    finally:
        connection.close()
    return target
