"""The query API: read-only questions to the knowledge base, answered as pandas DataFrames.

Every function takes an optional ``db`` (a URL, an engine, or None for ``KB_DATABASE_URL`` /
``kb.sqlite``). Terms are resolved through the vocabulary, so ids, names, synonyms, brand
names and abbreviations all work: ``treatments_for("calcinosis", context="SSc")``.

Counting rules (also on the site's methods page; computed in SQL by
:func:`kb.aggregate.aggregate_evidence`):

- *studies* are distinct articles; *patients* add up, per article, the largest number treated
  that the article reports, from primary studies only (reviews summarise other studies, so
  their patients would be counted twice);
- the pooled *response rate* is responders ÷ treated over primary studies that give both
  counts (per article, the finding with the most patients, and the fewer responders on a
  tie), with a Wilson 95 % interval;
- findings are tallied by direction side by side (supporting, mixed, null, harmful,
  unclear), never netted out; ``contradicted`` flags supporting findings alongside null or
  harmful ones;
- a class rolls up its members, the findings naming only the class and the combinations
  containing a member; a combination counts under itself and is listed under each component;
- findings of a retracted article are not counted; :func:`findings` still lists them, with
  ``retracted`` set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, TextClause, TextualSelect, bindparam
from sqlmodel.sql.sqltypes import UTCDateTime

from kb.aggregate import AGGREGATE_COLUMNS, Scope, aggregate_evidence, aggregate_groups
from kb.certainty import certainty_rank, rate_certainty
from kb.db import as_list
from kb.evidence import DESIGN_RANK, DIRECTION, DIRECTIONS, SECONDARY_DESIGNS, best_design, is_contradicted, pooled_rate
from queries.catalog import articles
from queries.db import DB, connect
from queries.terms import UNSPECIFIED, resolve_intervention, resolve_scope

__all__ = ["UNSPECIFIED", "aggregate", "compare", "findings", "new_since", "treatments_for"]

_FINDINGS_SQL = """
SELECT f.id AS finding_id, f.article_id, a.title, a.year, a.journal, a.pmid, a.doi, a.retracted, a.notices,
       f.intervention_id, i.name AS intervention, i.kind AS intervention_kind,
       i.class_id, ic.name AS class,
       f.condition_id, c.name AS condition, f.context_id, dc.name AS context,
       f.route, f.age_group, f.n_treated, f.n_responded, f.response, f.study_design, f.outcome,
       f.adverse_events, f.evidence, f.summary, f.origin, f.extractor, f.extractor_version, f.confidence{added}
FROM finding f
JOIN article a ON a.id = f.article_id
JOIN intervention i ON i.id = f.intervention_id
LEFT JOIN intervention_class ic ON ic.id = i.class_id
JOIN condition c ON c.id = f.condition_id
LEFT JOIN disease_context dc ON dc.id = f.context_id
WHERE {where}
"""
_ADDED_COLUMNS = ", f.created_at AS added, a.created_at AS article_added"

#: Columns of :func:`treatments_for` and :func:`compare` (after ``term`` in the latter).
TREATMENT_COLUMNS: list[str] = list(AGGREGATE_COLUMNS)


# -- findings --------------------------------------------------------------------------------


def findings(
    intervention: str | None = None,
    condition: str | None = None,
    context: str | None = None,
    design: str | None = None,
    since: int | str | date | None = None,
    *,
    min_confidence: float | None = None,
    db: DB = None,
) -> pd.DataFrame:
    """Findings with their sources, newest first.

    Args:
        intervention: a drug, procedure or class. A drug also brings the combinations that
            contain it, a class its members (column ``via`` says why a row is included).
        condition: condition name or synonym (``calcinosis``).
        context: disease context (``systemic sclerosis``, ``SSc``), or :data:`UNSPECIFIED`.
        design: one study design (``case_series``, ``rct``, …).
        since: keep findings from articles published in or after this year: a year (``2015``,
            ``"2015"``) or a date (``"2015-06-01"``, ``"2015/06/01"``, a ``datetime.date``),
            whose year counts.
        min_confidence: keep extracted findings whose confidence is at least this (between 0
            and 1; ``kb eval --folds`` shows the precision each threshold gave on held-out
            topics); curated findings are always kept.
        db: where to read (see module docs).

    Returns:
        One row per finding with article bibliography (title, year, journal, pmid, doi),
        ``retracted`` and ``notices`` (PubMed's errata, retraction and other notices about
        the article, as ``"ErratumIn pubmed:123"``), intervention, class, condition,
        context, counts, response and its ``direction``, design, evidence sentence or
        curated summary, origin and ``via``; ``unmapped`` is true when the intervention (or a
        component of it) is a treatment as written that no resource could normalise.

    Raises:
        VocabularyError: a term is not in the vocabulary.
        ValueError: ``design`` is not a known study design, or ``since`` is not a year or a date.
    """
    year = _year(since) if since is not None else None  # checked before the database is read
    engine = connect(db)
    via: dict[str, str] = {}
    ids: tuple[str, ...] | None = None
    if intervention is not None:
        via = resolve_intervention(engine, intervention).via
        ids = tuple(via)
    scope = resolve_scope(engine, condition, context, ids)
    clauses: list[str] = []
    params: dict[str, object] = {}
    if design is not None:
        if design not in DESIGN_RANK:
            raise ValueError(f"unknown study design {design!r}; use one of {', '.join(DESIGN_RANK)}")
        clauses.append("f.study_design = :design")
        params["design"] = design
    if year is not None:
        clauses.append("a.year >= :since")
        params["since"] = year
    if min_confidence is not None:
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, not {min_confidence!r}")
        clauses.append("(f.origin = 'curated' OR f.confidence >= :min_confidence)")
        params["min_confidence"] = float(min_confidence)
    return _read_findings(engine, scope, clauses, params, via=via)


def new_since(
    since: date | datetime | str, *, what: Literal["findings", "articles"] = "findings", db: DB = None
) -> pd.DataFrame:
    """What entered the KB at or after ``since``: findings (default) or articles.

    This is the "what is new since last month" question, by the time a record was first
    stored (not its publication year: see ``findings(since=…)`` for that). A finding whose
    content changes is a new finding (its content hash changes), so corrections show up too.

    Args:
        since: a date (midnight UTC), an aware or naive (read as UTC) datetime, or an ISO
            string (``2025-06-01``, ``2025-06-01T12:00``).
        what: ``findings``, with the columns of :func:`findings` plus ``added`` and
            ``article_added``; or ``articles``, with the columns of :func:`queries.articles`
            plus ``added``.
        db: where to read (see module docs).

    Returns:
        The new records, most recently added first.

    Raises:
        ValueError: ``since`` is not a date, or ``what`` is neither findings nor articles.
    """
    moment = _moment(since)
    if what == "articles":
        frame = articles(added_since=moment, db=db)
        return frame.sort_values(["added", "id"], ascending=[False, True]).reset_index(drop=True)
    if what != "findings":
        raise ValueError(f"what must be 'findings' or 'articles', not {what!r}")
    frame = _read_findings(connect(db), Scope(), [], {}, added_since=moment)
    return frame.sort_values(["added", "finding_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _read_findings(
    engine: Engine,
    scope: Scope,
    clauses: Sequence[str],
    params: Mapping[str, object],
    *,
    via: Mapping[str, str] | None = None,
    added_since: datetime | None = None,
) -> pd.DataFrame:
    """Findings in ``scope`` meeting ``clauses``; with ``added_since``, those stored since then,
    with the times they and their articles were stored (``added``, ``article_added``)."""
    sql = _FINDINGS_SQL.replace("{added}", "" if added_since is None else _ADDED_COLUMNS)
    if added_since is not None:
        clauses = [*clauses, "f.created_at >= :added_since"]
    statement = scope.statement(sql + "".join(f" AND {c}" for c in clauses))
    query: TextClause | TextualSelect = statement
    if added_since is not None:
        query = statement.bindparams(bindparam("added_since", added_since, type_=UTCDateTime())).columns(
            added=UTCDateTime(), article_added=UTCDateTime()
        )
    frame = pd.read_sql(query, engine, params=dict(params))
    frame["via"] = frame["intervention_id"].map(via).fillna("self") if via else "self"
    # A combination's id joins its components' ids, so an unmapped component shows in it.
    frame["unmapped"] = (frame["intervention_kind"] == "unmapped") | frame["intervention_id"].str.contains(
        "unmapped-", regex=False
    )
    frame["direction"] = frame["response"].map(DIRECTION)
    frame["design_rank"] = frame["study_design"].map(DESIGN_RANK)
    frame = frame.sort_values(
        ["year", "design_rank", "article_id", "intervention", "finding_id"],
        ascending=[False, True, True, True, True],
        na_position="last",
    )
    for column in ("n_treated", "n_responded", "year"):
        frame[column] = frame[column].astype("Int64")
    frame["retracted"] = frame["retracted"].astype(bool)
    frame["notices"] = frame["notices"].apply(as_list)
    return frame.drop(columns=["design_rank"]).reset_index(drop=True)


_SINCE_HELP = "give a year (2015 or '2015') or a date ('2015-06-01', '2015/06/01', a datetime.date)"


def _year(value: object) -> int:
    """The publication year ``findings(since=…)`` means.

    Raises:
        ValueError: ``value`` is neither a four-digit year nor a date.
    """
    if isinstance(value, (date, datetime)):
        return value.year
    if isinstance(value, int) and not isinstance(value, bool):
        if 1000 <= value <= 9999:
            return value
        raise ValueError(f"since={value!r} is not a year: {_SINCE_HELP}")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]{4}", text):
            return int(text)
        for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m", "%Y/%m"):
            try:
                return datetime.strptime(text, pattern).year
            except ValueError:
                continue
        raise ValueError(f"since={value!r} is not a year or a date: {_SINCE_HELP}")
    raise ValueError(f"since={value!r} ({type(value).__name__}) is not a year or a date: {_SINCE_HELP}")


def _moment(value: object) -> datetime:
    """The moment ``new_since`` counts from (aware, UTC when naive).

    Raises:
        ValueError: ``value`` is not a date, a datetime or an ISO date string.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD or an ISO date and time") from None
    if not isinstance(value, date):
        raise ValueError(
            f"new_since needs the date to count from: '2025-06-01', a datetime.date or a datetime; got {value!r}"
        )
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _check_condition(function: str, condition: object) -> None:
    if not isinstance(condition, str) or not condition.strip():
        raise ValueError(f"{function} needs a condition: a name, id or synonym such as 'calcinosis'; got {condition!r}")


# -- aggregation -----------------------------------------------------------------------------


def aggregate(frame: pd.DataFrame) -> dict[str, object]:
    """Aggregate any set of findings (rows of :func:`findings`) into the counts of one table row.

    The same counting rules as :func:`treatments_for`, for a selection the query API does
    not offer (say, children only: ``aggregate(frame[frame.age_group == "children"])``).

    Returns:
        studies, findings, patients, responders, evaluable, response_rate, ci_low, ci_high,
        supporting, mixed, null, harmful, unclear, best_design, primary_design, latest_year,
        contradicted, certainty, certainty_reasons. A count no finding reports is None, never
        0 (patients with no number treated; responders and evaluable with no responder count).
    """
    primary = frame[~frame["study_design"].isin(SECONDARY_DESIGNS)]
    patients: int | None = None
    responders: int | None = None
    evaluable: int | None = None
    for _, group in primary.groupby("article_id"):
        treated = group["n_treated"].dropna()
        if not treated.empty:
            patients = (patients or 0) + int(treated.max())
        both = group.dropna(subset=["n_treated", "n_responded"])
        if not both.empty:
            pick = both.sort_values(["n_treated", "n_responded"], ascending=[False, True]).iloc[0]
            if int(pick["n_treated"]):
                evaluable = (evaluable or 0) + int(pick["n_treated"])
                responders = (responders or 0) + int(pick["n_responded"])
    rate, ci_low, ci_high = pooled_rate(responders or 0, evaluable or 0)
    counted = frame["response"].map(DIRECTION).value_counts()
    tally = {d: int(counted.get(d, 0)) for d in DIRECTIONS}
    years = frame["year"].dropna()
    row: dict[str, object] = {
        "studies": int(frame["article_id"].nunique()),
        "findings": len(frame),
        "patients": patients,
        "responders": responders,
        "evaluable": evaluable,
        "response_rate": rate,
        "ci_low": ci_low,
        "ci_high": ci_high,
        **tally,
        "best_design": best_design(list(frame["study_design"])),
        "primary_design": best_design(list(primary["study_design"])),
        "latest_year": int(years.max()) if not years.empty else None,
        "contradicted": is_contradicted(tally),
    }
    if frame.empty:
        return row | {"certainty": None, "certainty_reasons": []}
    indirect = bool(frame["context_id"].isna().all()) if "context_id" in frame else False
    certainty, reasons = rate_certainty(row, indirect=indirect)
    return row | {"certainty": certainty, "certainty_reasons": reasons}


def treatments_for(
    condition: str,
    context: str | None = None,
    include_classes: bool = True,
    *,
    db: DB = None,
) -> pd.DataFrame:
    """Treatments reported for a condition, one row per intervention, ranked by evidence.

    Args:
        condition: condition name or synonym (``calcinosis``).
        context: disease context (``systemic sclerosis``), :data:`UNSPECIFIED`, or None for all.
        include_classes: add one ``level="class"`` row per intervention class, rolling up its
            members, the findings that name only the class, and combinations containing them.
        db: where to read (see module docs).

    Returns:
        Columns: level, intervention_id, intervention, kind, class, interventions (how many
        interventions the row covers: 1, or a class's count), studies, findings,
        patients, responders, evaluable, response_rate, ci_low, ci_high, supporting, mixed,
        null, harmful, unclear, best_design, latest_year, contradicted (supporting findings
        alongside null or harmful ones), combinations (ids of the combinations containing
        the intervention: listed here, counted in their own rows), primary_design (the
        strongest design among primary studies), certainty (high, moderate, low or very low,
        :mod:`kb.certainty`) and certainty_reasons. A count no study reports is NA, never 0:
        patients is NA when no primary study gives a number treated, responders and
        evaluable (and the rate) are NA when none gives both counts. Ranked: rows with
        patients first, then by certainty, strongest primary design, best design, patients
        and studies.

    Raises:
        ValueError: ``condition`` is not a name (None, say).
        VocabularyError: the condition or context is not in the vocabulary.
    """
    _check_condition("treatments_for", condition)
    engine = connect(db)
    rows = aggregate_evidence(engine, resolve_scope(engine, condition, context), include_classes=include_classes)
    return _treatment_table(rows)


def compare(*interventions: str, condition: str, context: str | None = None, db: DB = None) -> pd.DataFrame:
    """Interventions side by side for one condition (and context), in the order given.

    An intervention with no findings there still gets its row, with zero studies: the
    absence of evidence is part of the comparison. A class (``"bisphosphonates"``) is
    compared as its roll-up.

    Args:
        *interventions: drugs, procedures, combinations or classes, as names or synonyms.
        condition: condition name or synonym.
        context: disease context, :data:`UNSPECIFIED`, or None for all.
        db: where to read (see module docs).

    Returns:
        ``term`` (as given), then the columns of :func:`treatments_for`.

    Raises:
        ValueError: no intervention given, or two terms name the same intervention.
        VocabularyError: a term is not in the vocabulary.
    """
    if not interventions:
        raise ValueError("compare() needs at least one intervention")
    _check_condition("compare", condition)
    engine = connect(db)
    terms = [resolve_intervention(engine, term) for term in interventions]
    keys = [(t.level, t.id) for t in terms]
    repeated = sorted({f"{level} {id_}" for level, id_ in keys if keys.count((level, id_)) > 1})
    if repeated:
        raise ValueError(f"compare() got the same intervention twice: {', '.join(repeated)}")
    rows = aggregate_groups(engine, keys, resolve_scope(engine, condition, context))
    frame = pd.DataFrame(
        [{"term": given, **row} for given, row in zip(interventions, rows, strict=True)],
        columns=["term", *TREATMENT_COLUMNS],
    )
    return _typed(frame)


def _treatment_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    result = pd.DataFrame(rows, columns=TREATMENT_COLUMNS)
    if result.empty:
        return result
    # Rows with patients first (a review-only row never outranks a study with patients),
    # then by certainty, the strongest primary design, the best design, patients and studies.
    result["_has_patients"] = result["patients"].notna()
    result["_certainty"] = result["certainty"].map(certainty_rank)
    result["_primary"] = result["primary_design"].map(DESIGN_RANK).fillna(99)
    result["_rank"] = result["best_design"].map(DESIGN_RANK).fillna(99)
    result["_patients"] = result["patients"].fillna(-1)
    order = ["_has_patients", "_certainty", "_primary", "_rank", "_patients", "studies"]
    result = result.sort_values(
        [*order, "intervention", "level", "intervention_id"],
        ascending=[False, True, True, True, False, False, True, True, True],
        kind="stable",
    ).drop(columns=[c for c in order if c.startswith("_")])
    return _typed(result.reset_index(drop=True))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("patients", "responders", "evaluable", "latest_year"):
        frame[column] = frame[column].astype("Int64")
    frame["contradicted"] = frame["contradicted"].astype(bool)
    return frame
