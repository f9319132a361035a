"""The query API: read-only questions to the knowledge base, answered as pandas DataFrames.

Every function takes an optional ``db`` (a URL, an engine, or None for ``KB_DATABASE_URL`` /
``kb.sqlite``). Terms are resolved through the vocabulary, so ids, names, synonyms, brand
names and abbreviations all work: ``treatments_for("calcinosis", context="SSc")``.

Counting rules (also on the site's methods page):

- *studies* are distinct articles; *patients* add up, per article, the largest number treated
  that the article reports, from primary studies only (reviews summarise other studies, so
  their patients would be counted twice);
- the pooled *response rate* is responders ÷ treated over primary studies that give both
  counts (per article, the finding with the most patients, and the fewer responders on a
  tie), with a Wilson 95 % interval;
- findings are tallied by direction side by side (supporting, mixed, null, harmful,
  unclear), never netted out.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, text

from kb.errors import VocabularyError
from kb.evidence import DESIGN_RANK, DIRECTION, DIRECTIONS, SECONDARY_DESIGNS, best_design, wilson_interval
from kb.vocabulary import normalise_term
from queries.db import DB, as_list, connect

UNSPECIFIED = "unspecified"
"""Pass as ``context`` to select findings whose disease context is mixed or unspecified."""

_FINDINGS_SQL = """
SELECT f.id AS finding_id, f.article_id, a.title, a.year, a.journal, a.pmid, a.doi, a.retracted,
       f.intervention_id, i.name AS intervention, i.kind AS intervention_kind,
       i.class_id, ic.name AS class,
       f.condition_id, c.name AS condition, f.context_id, dc.name AS context,
       f.route, f.age_group, f.n_treated, f.n_responded, f.response, f.study_design, f.outcome,
       f.evidence, f.summary, f.origin, f.extractor, f.extractor_version, f.confidence
FROM finding f
JOIN article a ON a.id = f.article_id
JOIN intervention i ON i.id = f.intervention_id
LEFT JOIN intervention_class ic ON ic.id = i.class_id
JOIN condition c ON c.id = f.condition_id
LEFT JOIN disease_context dc ON dc.id = f.context_id
"""

_TREATMENT_COLUMNS = [
    "level",
    "intervention_id",
    "intervention",
    "kind",
    "class",
    "interventions",
    "studies",
    "findings",
    "patients",
    "responders",
    "evaluable",
    "response_rate",
    "ci_low",
    "ci_high",
    *DIRECTIONS,
    "best_design",
    "latest_year",
]


# -- resolution ------------------------------------------------------------------------------


def _resolve(engine: Engine, table: str, term: str, label: str) -> str:
    rows = pd.read_sql(text(f"SELECT id, name, synonyms FROM {table}"), engine)  # noqa: S608 (fixed table names)
    key = normalise_term(term)
    for row in rows.itertuples():
        names = [row.id, row.name, *(as_list(row.synonyms))]
        if key in {normalise_term(n) for n in names}:
            return str(row.id)
    known = ", ".join(sorted(rows["name"]))
    raise VocabularyError(f"unknown {label} {term!r}; known: {known}")


def _intervention_ids(engine: Engine, term: str) -> tuple[list[str], dict[str, str]]:
    """Intervention ids a term covers, with why each is included (self, member, combination)."""
    frame = pd.read_sql(text("SELECT id, kind, class_id FROM intervention"), engine)
    components = pd.read_sql(text("SELECT combination_id, component_id FROM intervention_component"), engine)
    try:
        found = _resolve(engine, "intervention", term, "intervention")
        row = frame.set_index("id").loc[found]
        class_id = row["class_id"] if row["kind"] == "class" else None
    except VocabularyError:
        try:
            class_id = _resolve(engine, "intervention_class", term, "intervention class")
        except VocabularyError:
            raise VocabularyError(f"unknown intervention or class {term!r}") from None
        found = None
    via: dict[str, str] = {}
    if class_id is not None:
        for member in frame.loc[frame["class_id"] == class_id, "id"]:
            via[member] = "class member"
    if found is not None:
        via[found] = "self"
    for combo in components.loc[components["component_id"].isin(list(via)), "combination_id"]:
        via.setdefault(combo, "combination")
    return list(via), via


# -- findings --------------------------------------------------------------------------------


def findings(
    intervention: str | None = None,
    condition: str | None = None,
    context: str | None = None,
    design: str | None = None,
    since: int | str | date | None = None,
    *,
    db: DB = None,
) -> pd.DataFrame:
    """Findings with their sources, newest first.

    Args:
        intervention: a drug, procedure or class. A drug also brings the combinations that
            contain it, a class its members (column ``via`` says why a row is included).
        condition: condition name or synonym (``calcinosis``).
        context: disease context (``systemic sclerosis``, ``SSc``), or :data:`UNSPECIFIED`.
        design: one study design (``case_series``, ``rct``, …).
        since: keep findings from articles published in or after this year (or date).
        db: where to read (see module docs).

    Returns:
        One row per finding with article bibliography (title, year, journal, pmid, doi),
        intervention, class, condition, context, counts, response, design, evidence sentence
        or curated summary, origin and ``via``.

    Raises:
        VocabularyError: a term is not in the vocabulary.
    """
    engine = connect(db)
    where: list[str] = []
    params: dict[str, object] = {}
    via: dict[str, str] = {}
    if intervention is not None:
        ids, via = _intervention_ids(engine, intervention)
        where.append(f"f.intervention_id IN ({_placeholders('i', ids, params)})")
    if condition is not None:
        params["condition"] = _resolve(engine, "condition", condition, "condition")
        where.append("f.condition_id = :condition")
    if context is not None:
        if normalise_term(context) == UNSPECIFIED:
            where.append("f.context_id IS NULL")
        else:
            params["context"] = _resolve(engine, "disease_context", context, "disease context")
            where.append("f.context_id = :context")
    if design is not None:
        if design not in DESIGN_RANK:
            raise ValueError(f"unknown study design {design!r}; use one of {', '.join(DESIGN_RANK)}")
        params["design"] = design
        where.append("f.study_design = :design")
    if since is not None:
        params["since"] = _year(since)
        where.append("a.year >= :since")
    sql = _FINDINGS_SQL + (" WHERE " + " AND ".join(where) if where else "")
    frame = pd.read_sql(text(sql), engine, params=params)
    frame["via"] = frame["intervention_id"].map(via).fillna("self") if via else "self"
    frame["direction"] = frame["response"].map(DIRECTION)
    frame["design_rank"] = frame["study_design"].map(DESIGN_RANK)
    frame = frame.sort_values(
        ["year", "design_rank", "article_id", "intervention"], ascending=[False, True, True, True], na_position="last"
    )
    for column in ("n_treated", "n_responded", "year"):
        frame[column] = frame[column].astype("Int64")
    frame["retracted"] = frame["retracted"].astype(bool)
    return frame.drop(columns=["design_rank"]).reset_index(drop=True)


def _placeholders(prefix: str, values: list[str], params: dict[str, object]) -> str:
    names = []
    for n, value in enumerate(values):
        params[f"{prefix}{n}"] = value
        names.append(f":{prefix}{n}")
    return ", ".join(names) or "NULL"


def _year(value: int | str | date) -> int:
    if isinstance(value, (date, datetime)):
        return value.year
    return int(str(value)[:4])


# -- aggregation -----------------------------------------------------------------------------


def aggregate(frame: pd.DataFrame) -> dict[str, object]:
    """Aggregate findings (rows of :func:`findings`) into the counts of one table row."""
    primary = frame[~frame["study_design"].isin(SECONDARY_DESIGNS)]
    patients = 0
    responders = evaluable = 0
    for _, group in primary.groupby("article_id"):
        treated = group["n_treated"].dropna()
        if not treated.empty:
            patients += int(treated.max())
        both = group.dropna(subset=["n_treated", "n_responded"])
        if not both.empty:
            pick = both.sort_values(["n_treated", "n_responded"], ascending=[False, True]).iloc[0]
            evaluable += int(pick["n_treated"])
            responders += int(pick["n_responded"])
    rate = ci_low = ci_high = None
    if evaluable:
        rate = responders / evaluable
        ci_low, ci_high = wilson_interval(responders, evaluable)
    tally = frame["response"].map(DIRECTION).value_counts()
    years = frame["year"].dropna()
    return {
        "studies": int(frame["article_id"].nunique()),
        "findings": len(frame),
        "patients": patients,
        "responders": responders,
        "evaluable": evaluable,
        "response_rate": rate,
        "ci_low": ci_low,
        "ci_high": ci_high,
        **{d: int(tally.get(d, 0)) for d in DIRECTIONS},
        "best_design": best_design(list(frame["study_design"])),
        "latest_year": int(years.max()) if not years.empty else None,
    }


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
        null, harmful, unclear, best_design, latest_year. Ranked by best design, then number
        of studies, then patients.

    Raises:
        VocabularyError: the condition or context is not in the vocabulary.
    """
    frame = findings(condition=condition, context=context, db=db)
    rows: list[dict[str, object]] = []
    for intervention_id, group in frame.groupby("intervention_id"):
        first = group.iloc[0]
        rows.append(
            {
                "level": "intervention",
                "intervention_id": intervention_id,
                "intervention": first["intervention"],
                "kind": first["intervention_kind"],
                "class": first["class"],
                "interventions": 1,
                **aggregate(group),
            }
        )
    if include_classes and not frame.empty:
        rows.extend(_class_rows(frame, connect(db)))
    result = pd.DataFrame(rows, columns=_TREATMENT_COLUMNS)
    if result.empty:
        return result
    result["_rank"] = result["best_design"].map(DESIGN_RANK)
    result = result.sort_values(
        ["_rank", "studies", "patients", "intervention"], ascending=[True, False, False, True]
    ).drop(columns="_rank")
    for column in ("patients", "responders", "evaluable", "latest_year"):
        result[column] = result[column].astype("Int64")
    return result.reset_index(drop=True)


def _class_rows(frame: pd.DataFrame, engine: Engine) -> list[dict[str, object]]:
    components = pd.read_sql(
        text(
            "SELECT ic.combination_id, i.class_id FROM intervention_component ic "
            "JOIN intervention i ON i.id = ic.component_id WHERE i.class_id IS NOT NULL"
        ),
        engine,
    )
    classes = pd.read_sql(text("SELECT id, name FROM intervention_class"), engine).set_index("id")["name"]
    rows = []
    for class_id in sorted(set(frame["class_id"].dropna()) | set(components["class_id"])):
        combos = set(components.loc[components["class_id"] == class_id, "combination_id"])
        members = frame[(frame["class_id"] == class_id) | frame["intervention_id"].isin(combos)]
        if members.empty:
            continue
        rows.append(
            {
                "level": "class",
                "intervention_id": class_id,
                "intervention": classes.get(class_id, class_id),
                "kind": "class",
                "class": classes.get(class_id, class_id),
                "interventions": int(members["intervention_id"].nunique()),
                **aggregate(members),
            }
        )
    return rows
