"""Listings of what the knowledge base holds: topics, conditions, interventions, articles.

These feed the site's index and record pages and are equally useful from a notebook.
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import TextClause, TextualSelect, bindparam, inspect, text
from sqlmodel.sql.sqltypes import UTCDateTime

from kb.db import as_list
from kb.errors import KBError
from queries.db import DB, connect


def topic(topic_id: str | None = None, *, db: DB = None) -> dict[str, object]:
    """The topic's title, question, description and main condition (the first topic if None).

    Raises:
        KBError: the KB holds no such topic.
    """
    frame = pd.read_sql(text("SELECT * FROM topic ORDER BY id"), connect(db))
    if topic_id is not None:
        frame = frame[frame["id"] == topic_id]
    if frame.empty:
        raise KBError(f"the KB holds no topic {topic_id or ''}; run 'kb build --topic NAME'".replace("  ", " "))
    return dict(frame.iloc[0])


def condition_contexts(*, db: DB = None) -> pd.DataFrame:
    """Every condition page to publish: each condition alone (context None) and with each of
    its disease contexts, with the number of findings in each."""
    engine = connect(db)
    pairs = pd.read_sql(
        text(
            """
            SELECT c.id AS condition_id, c.name AS condition, c.mesh AS condition_mesh,
                   NULL AS context_id, NULL AS context, NULL AS context_mesh
            FROM condition c
            UNION ALL
            SELECT c.id, c.name, c.mesh, d.id, d.name, d.mesh
            FROM condition_context cc
            JOIN condition c ON c.id = cc.condition_id
            JOIN disease_context d ON d.id = cc.context_id
            UNION
            SELECT DISTINCT c.id, c.name, c.mesh, d.id, d.name, d.mesh
            FROM finding f JOIN condition c ON c.id = f.condition_id
            JOIN disease_context d ON d.id = f.context_id
            """
        ),
        engine,
    )
    # Other names and abbreviations, shown on the pages so that search finds them.
    names = {
        (kind, r.id): as_list(r.synonyms)
        for kind, table in (("condition", "condition"), ("context", "disease_context"))
        for r in pd.read_sql(text(f"SELECT id, synonyms FROM {table}"), engine).itertuples()  # noqa: S608 (constants)
    }
    pairs["condition_synonyms"] = [names.get(("condition", c), []) for c in pairs["condition_id"]]
    pairs["context_synonyms"] = [names.get(("context", c), []) if c else [] for c in pairs["context_id"]]
    counts = pd.read_sql(
        text("SELECT condition_id, context_id, COUNT(*) AS n FROM finding GROUP BY condition_id, context_id"),
        engine,
    )
    total = counts.groupby("condition_id")["n"].sum()
    by_pair = {(r.condition_id, r.context_id): int(r.n) for r in counts.itertuples() if r.context_id is not None}
    unspecified = {r.condition_id: int(r.n) for r in counts.itertuples() if r.context_id is None}
    pairs["findings"] = [
        int(total.get(r.condition_id, 0)) if r.context_id is None else by_pair.get((r.condition_id, r.context_id), 0)
        for r in pairs.itertuples()
    ]
    pairs["unspecified_findings"] = [
        unspecified.get(r.condition_id, 0) if r.context_id is None else 0 for r in pairs.itertuples()
    ]
    pairs = pairs.drop_duplicates(subset=["condition_id", "context_id"])
    return pairs.sort_values(["condition", "context"], na_position="first").reset_index(drop=True)


def interventions(*, db: DB = None) -> pd.DataFrame:
    """Every intervention with its class, codes, synonyms, components and number of findings."""
    engine = connect(db)
    frame = pd.read_sql(
        text(
            """
            SELECT i.id, i.name, i.kind, i.class_id, ic.name AS class, i.atc, i.mesh, i.synonyms, i.description,
                   (SELECT COUNT(*) FROM finding f WHERE f.intervention_id = i.id) AS findings
            FROM intervention i LEFT JOIN intervention_class ic ON ic.id = i.class_id
            ORDER BY i.name
            """
        ),
        engine,
    )
    components = pd.read_sql(
        text(
            "SELECT combination_id, component_id, position FROM intervention_component "
            "ORDER BY combination_id, position"
        ),
        engine,
    )
    frame["components"] = frame["id"].map(components.groupby("combination_id")["component_id"].apply(list))
    frame["in_combinations"] = frame["id"].map(components.groupby("component_id")["combination_id"].apply(list))
    for column in ("components", "in_combinations"):
        frame[column] = frame[column].apply(lambda v: v if isinstance(v, list) else [])
    frame["synonyms"] = frame["synonyms"].apply(as_list)
    return frame


def intervention_classes(*, db: DB = None) -> pd.DataFrame:
    """Every intervention class with its codes and member interventions."""
    engine = connect(db)
    frame = pd.read_sql(text("SELECT * FROM intervention_class ORDER BY name"), engine)
    members = pd.read_sql(text("SELECT id, class_id FROM intervention WHERE class_id IS NOT NULL"), engine)
    frame["members"] = frame["id"].map(members.groupby("class_id")["id"].apply(sorted))
    frame["members"] = frame["members"].apply(lambda v: v if isinstance(v, list) else [])
    frame["synonyms"] = frame["synonyms"].apply(as_list)
    return frame


def articles(*, added_since: datetime | None = None, db: DB = None) -> pd.DataFrame:
    """Every article with its bibliography and number of findings, newest first.

    ``language`` is PubMed's (every PubMed record has one); an article known only from a
    curated record has none, and its ``authors`` may be the first author alone.

    Args:
        added_since: only the articles first stored at or after this aware datetime, with
            the time in an extra ``added`` column (see :func:`queries.new_since`).
        db: where to read (see :mod:`queries.api`).
    """
    sql = """
        SELECT a.id, a.pmid, a.doi, a.pmcid, a.title, a.journal, a.year, a.authors, a.url, a.language,
               a.publication_types, a.retracted, a.notices, a.abstract IS NOT NULL AS has_abstract,
               (SELECT COUNT(*) FROM finding f WHERE f.article_id = a.id) AS findings{added}
        FROM article a {where} ORDER BY a.year DESC, a.id
    """
    query: TextClause | TextualSelect
    if added_since is None:
        query = text(sql.format(added="", where=""))
    else:
        query = (
            text(sql.format(added=", a.created_at AS added", where="WHERE a.created_at >= :since"))
            .bindparams(bindparam("since", added_since, type_=UTCDateTime()))
            .columns(added=UTCDateTime())
        )
    frame = pd.read_sql(query, connect(db))
    for column in ("authors", "publication_types", "notices"):
        frame[column] = frame[column].apply(as_list)
    frame["year"] = frame["year"].astype("Int64")
    frame["retracted"] = frame["retracted"].astype(bool)
    frame["has_abstract"] = frame["has_abstract"].astype(bool)
    return frame.reset_index(drop=True)


def article_sources(*, db: DB = None) -> pd.DataFrame:
    """How each article entered the KB (seed, query, references, cited_by, curated, file)."""
    return pd.read_sql(text("SELECT * FROM article_source ORDER BY article_id, topic_id, kind, detail"), connect(db))


def citations(*, db: DB = None) -> pd.DataFrame:
    """Citation links (citing_id → cited_id, with how each is known)."""
    return pd.read_sql(text("SELECT * FROM citation ORDER BY citing_id, cited_id, source"), connect(db))


def counts(*, db: DB = None) -> dict[str, int]:
    """How many articles, findings (curated and extracted), interventions and citations the KB holds."""
    engine = connect(db)
    row = pd.read_sql(
        text(
            """
            SELECT (SELECT COUNT(*) FROM article) AS articles,
                   (SELECT COUNT(*) FROM finding) AS findings,
                   (SELECT COUNT(*) FROM finding WHERE origin = 'curated') AS curated_findings,
                   (SELECT COUNT(*) FROM finding WHERE origin = 'extracted') AS extracted_findings,
                   (SELECT COUNT(DISTINCT intervention_id) FROM finding) AS interventions_with_findings,
                   (SELECT COUNT(*) FROM intervention) AS interventions,
                   (SELECT COUNT(*) FROM citation) AS citations
            """
        ),
        engine,
    ).iloc[0]
    return {k: int(v) for k, v in row.items()}


#: Columns of :func:`refresh_runs`, as ``kb refresh`` records them in table ``refresh_run``.
REFRESH_RUN_COLUMNS: tuple[str, ...] = (
    "id",
    "topic_id",
    "started_at",
    "finished_at",
    "status",
    "windows",
    "requests",
    "articles_new",
    "articles_updated",
    "articles_deleted",
    "articles_retracted",
    "findings_added",
    "findings_changed",
    "findings_removed",
    "message",
)


def refresh_runs(*, db: DB = None) -> pd.DataFrame:
    """Every ``kb refresh`` run, newest first: when, how it ended, and what it changed.

    A KB built only from a topic pack has no runs (or no ``refresh_run`` table yet): the
    frame is then empty, with the same columns.

    Args:
        db: where to read (see :mod:`queries.api`).

    Returns:
        Columns id, topic_id, started_at and finished_at (aware UTC datetimes), status
        (running, success, nothing_new, partial, failed), windows (the list of searched date
        windows, each a dict with query, mindate, maxdate, status and found), requests, the
        counts articles_new, articles_updated, articles_deleted, articles_retracted,
        findings_added, findings_changed, findings_removed, and message.
    """
    engine = connect(db)
    if not inspect(engine).has_table("refresh_run"):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REFRESH_RUN_COLUMNS})
    query = text(f"SELECT {', '.join(REFRESH_RUN_COLUMNS)} FROM refresh_run ORDER BY started_at DESC, id DESC").columns(  # noqa: S608
        started_at=UTCDateTime(), finished_at=UTCDateTime()
    )
    frame = pd.read_sql(query, engine)
    frame["windows"] = frame["windows"].apply(_windows)
    counts = [c for c in REFRESH_RUN_COLUMNS if c == "requests" or c.startswith(("articles_", "findings_"))]
    for column in counts:
        frame[column] = frame[column].astype("Int64")
    return frame.reset_index(drop=True)


def _windows(value: object) -> list[dict[str, object]]:
    """The ``windows`` column as a list, whether the driver returns JSON text or parsed JSON."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return list(value) if isinstance(value, list) else []


def unmapped_interventions(*, topic: str | None = None, db: DB = None) -> pd.DataFrame:
    """Treatments no resource could normalise (kept as written), with how often findings use them.

    Args:
        topic: only findings of this topic (its id).
        db: where to read (see :mod:`queries.api`).

    Returns:
        Columns id, name (as written), findings and articles, most used first. A combination
        with an unmapped component is listed too (its id holds the component's).
    """
    where = "(i.kind = 'unmapped' OR i.id LIKE '%unmapped-%')" + (" AND f.topic_id = :topic" if topic else "")
    query = text(
        "SELECT i.id, i.name, COUNT(f.id) AS findings, COUNT(DISTINCT f.article_id) AS articles "  # noqa: S608
        f"FROM intervention i JOIN finding f ON f.intervention_id = i.id WHERE {where} "
        "GROUP BY i.id, i.name ORDER BY findings DESC, i.id"
    )
    return pd.read_sql(query, connect(db), params={"topic": topic} if topic else {})
