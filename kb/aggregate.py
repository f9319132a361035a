"""Evidence aggregates, computed in SQL per (intervention or class, condition, disease context).

The database does the counting in one statement, so a KB of hundreds of thousands of
findings answers in milliseconds and only the aggregate rows cross the wire. The graph's
``treats`` edges, the query API's treatment tables and the exports all come from
:func:`aggregate_evidence`. Counting rules (also on the site's methods page):

- *studies* are distinct articles; *findings* count every finding;
- *patients* add up, per article, the largest number treated the article reports, from
  primary studies only (reviews summarise other studies: their patients would count twice);
- the pooled *response rate* is responders ÷ treated over primary studies that give both
  counts (per article, the finding with the most patients and, on a tie, the fewer
  responders), with a Wilson 95 % interval;
- findings are tallied by direction side by side (supporting, mixed, null, harmful,
  unclear), never netted out; ``contradicted`` flags supporting findings alongside null or
  harmful ones (:func:`kb.evidence.is_contradicted`);
- a *class* rolls up its members, the findings that name only the class (an intervention of
  kind ``class``) and the combinations containing a member; a *combination* is counted under
  itself and listed (``combinations``) under each of its components, never added to them;
- findings of a retracted article are not counted (they stay listed, flagged).
- a count no study reports is None (NA), never 0: *patients* is None when no primary study
  gives a number treated, *responders* and *evaluable* are None when none gives both counts
  (so no rate is pooled); ``primary_design`` is the strongest design among primary studies
  (``best_design`` may be a review, which contributes no patients);
- ``certainty`` is a GRADE-inspired level with its ``certainty_reasons``
  (:func:`kb.certainty.rate_certainty`), None for a row without findings.

The counts per condition and context are also kept precomputed in ``evidence_summary``
(:func:`summary_statements`, filled by :meth:`kb.store.Store.refresh_summary` after a build
or refresh). The table records the KB revision it was computed at and is read only while
that is still the current revision, so an answer is never stale: a changed KB is counted
live until the summary is refreshed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, inspect, text

from kb.certainty import rate_certainty
from kb.evidence import DESIGN_RANK, DIRECTION, DIRECTIONS, SECONDARY_DESIGNS, is_contradicted, pooled_rate
from kb.models import ALL_CONTEXTS, NO_CONTEXT

#: Columns of an aggregate row, in order (``condition_id`` and ``context_id`` follow
#: ``class`` when rows are grouped by context).
AGGREGATE_COLUMNS: tuple[str, ...] = (
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
    "primary_design",
    "latest_year",
    "contradicted",
    "certainty",
    "certainty_reasons",
    "combinations",
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which findings an aggregate or a graph covers; the default covers every finding.

    Attributes:
        condition_id: only findings about this condition.
        context_id: only findings in this disease context.
        unspecified_context: only findings whose context is mixed or unspecified (NULL).
        intervention_ids: only findings about these interventions.
    """

    condition_id: str | None = None
    context_id: str | None = None
    unspecified_context: bool = False
    intervention_ids: tuple[str, ...] | None = None

    def statement(self, sql: str) -> TextClause:
        """``sql`` with its ``{where}`` placeholder replaced by this scope's conditions on ``f``."""
        clauses = ["1 = 1"]
        params: dict[str, Any] = {}
        if self.condition_id is not None:
            clauses.append("f.condition_id = :scope_condition")
            params["scope_condition"] = self.condition_id
        if self.unspecified_context:
            clauses.append("f.context_id IS NULL")
        elif self.context_id is not None:
            clauses.append("f.context_id = :scope_context")
            params["scope_context"] = self.context_id
        if self.intervention_ids is not None:
            clauses.append("f.intervention_id IN :scope_ids")
            params["scope_ids"] = list(self.intervention_ids)
        statement = text(sql.replace("{where}", " AND ".join(clauses)))
        if self.intervention_ids is not None:
            statement = statement.bindparams(bindparam("scope_ids", expanding=True))
        return statement.bindparams(**params)


# What a class row counts: its members (the class-level intervention included) and the
# combinations containing a member. Vocabulary-sized; _Vocabulary reads it whole too.
_CLASS_MEMBERS_SQL = """
SELECT id AS intervention_id, class_id FROM intervention WHERE class_id IS NOT NULL
UNION
SELECT ic.combination_id, i.class_id
FROM intervention_component ic JOIN intervention i ON i.id = ic.component_id
WHERE i.class_id IS NOT NULL
"""

_CONTEXT_KEYS = ("condition_id", "context_id")

#: Which articles' findings are counted, over the article alias ``a``: not retracted ones.
#: Findings of a retracted article stay listed (``queries.findings``, flagged) but no
#: aggregate counts them.
COUNTED_ARTICLE_SQL = "a.retracted = FALSE"

# Per article, the pooled rate takes the finding with the most patients and, on a tie, the
# fewer responders. Both choices are packed into one integer so that MAX() makes them:
# n_treated * _PACK + (_PACK - 1 - n_responded), with n_responded < _PACK.
_PACK = 1_000_000_000


#: A finding's rank in the evidence hierarchy (:data:`kb.evidence.DESIGN_RANK`) in SQL, over
#: the finding alias ``f``; 99 for a design outside the hierarchy.
DESIGN_RANK_SQL = (
    "CASE f.study_design " + " ".join(f"WHEN '{d}' THEN {r}" for d, r in DESIGN_RANK.items()) + " ELSE 99 END"
)
_DESIGN_BY_RANK = {rank: design for design, rank in DESIGN_RANK.items()}


def design_of_rank(rank: int | None) -> str | None:
    """The study design of a rank computed with :data:`DESIGN_RANK_SQL` (None if outside the hierarchy)."""
    return None if rank is None else _DESIGN_BY_RANK.get(int(rank))


def _in(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _aggregate_sql(group_by: Sequence[str], include_classes: bool) -> str:
    """The aggregate statement, grouped by ``group_by`` (finding columns) besides the intervention or class."""
    keys = "".join(f", f.{column}" for column in group_by)
    pkeys = keys.replace("f.", "p.")
    outer = keys.replace("f.", "")
    directions = {d: [r for r, direction in DIRECTION.items() if direction == d] for d in DIRECTIONS}
    tally = ",\n".join(
        f"SUM(CASE WHEN f.response IN ({_in(responses)}) THEN 1 ELSE 0 END) AS dir_{d}"
        for d, responses in directions.items()
    )
    primary = f"f.study_design NOT IN ({_in(SECONDARY_DESIGNS)})"
    sums = ", ".join(f"SUM(p.dir_{d}) AS dir_{d}" for d in DIRECTIONS)
    classes = f"""
        UNION ALL
        SELECT 'class', m.class_id, p.article_id{pkeys}, SUM(p.findings), {sums},
               MIN(p.design_rank), MIN(p.primary_rank), MAX(p.patients), MAX(p.pick), MAX(p.year)
        FROM per_pair p JOIN ({_CLASS_MEMBERS_SQL}) m ON m.intervention_id = p.intervention_id
        GROUP BY m.class_id, p.article_id{pkeys}"""  # noqa: S608 (constants only, as below)
    # Every value spliced in below is a constant of this module or of kb.evidence.
    return f"""
    WITH per_pair AS (
        SELECT f.intervention_id, f.article_id{keys},
               COUNT(*) AS findings,
               {tally},
               MIN({DESIGN_RANK_SQL}) AS design_rank,
               MIN(CASE WHEN {primary} THEN {DESIGN_RANK_SQL} END) AS primary_rank,
               MAX(CASE WHEN {primary} THEN f.n_treated END) AS patients,
               MAX(CASE WHEN {primary} AND f.n_responded IS NOT NULL
                   THEN CAST(f.n_treated AS BIGINT) * {_PACK} + ({_PACK - 1} - f.n_responded) END) AS pick,
               MAX(a.year) AS year
        FROM finding f JOIN article a ON a.id = f.article_id
        WHERE {{where}} AND {COUNTED_ARTICLE_SQL}
        GROUP BY f.intervention_id, f.article_id{keys}
    ),
    per_group AS (
        SELECT 'intervention' AS level, p.intervention_id AS group_id, p.article_id{pkeys}, p.findings,
               {", ".join(f"p.dir_{d}" for d in DIRECTIONS)}, p.design_rank, p.primary_rank, p.patients, p.pick, p.year
        FROM per_pair p{classes if include_classes else ""}
    )
    SELECT level, group_id{outer}, COUNT(*) AS studies, SUM(findings) AS findings,
           {", ".join(f"SUM(dir_{d}) AS dir_{d}" for d in DIRECTIONS)},
           MIN(design_rank) AS design_rank, MIN(primary_rank) AS primary_rank, SUM(patients) AS patients,
           SUM(pick / {_PACK}) AS evaluable, SUM({_PACK - 1} - pick % {_PACK}) AS responders,
           MAX(year) AS latest_year
    FROM per_group
    GROUP BY level, group_id{outer}
    """  # noqa: S608


# -- the precomputed summary (kb.models.EvidenceSummary) ---------------------------------------

#: The count columns of ``evidence_summary``, named as the aggregate statement names them.
SUMMARY_COUNTS: tuple[str, ...] = (
    "studies",
    "findings",
    *(f"dir_{d}" for d in DIRECTIONS),
    "design_rank",
    "primary_rank",
    "patients",
    "evaluable",
    "responders",
    "latest_year",
)


def summary_statements() -> list[TextClause]:
    """The statements that fill an empty ``evidence_summary`` from the findings.

    One per grouping: per (intervention or class, condition, context), and per (intervention
    or class, condition) over all contexts (``context_key`` :data:`kb.models.ALL_CONTEXTS`).
    """
    columns = ", ".join(SUMMARY_COUNTS)
    head = f"INSERT INTO evidence_summary (level, group_id, condition_id, context_key, {columns})"
    per_context = f"""{head}
        SELECT level, group_id, condition_id, COALESCE(context_id, '{NO_CONTEXT}'), {columns}
        FROM ({_aggregate_sql(_CONTEXT_KEYS, True)}) agg"""  # noqa: S608 (constants only)
    per_condition = f"""{head}
        SELECT level, group_id, condition_id, '{ALL_CONTEXTS}', {columns}
        FROM ({_aggregate_sql(("condition_id",), True)}) agg"""  # noqa: S608 (constants only)
    return [Scope().statement(per_context), Scope().statement(per_condition)]


def _summary_rows(
    connection: Connection, scope: Scope, by_context: bool, include_classes: bool
) -> list[dict[str, Any]] | None:
    """The raw aggregate rows for ``scope`` from ``evidence_summary``, or None if it cannot answer.

    It answers a scope of one condition (and context), or every context at once, and only
    while it was computed at the KB's current revision: a KB changed since, an old schema or
    a summary never computed all fall back to computing live.
    """
    if scope.intervention_ids is not None or (scope.condition_id is None and not by_context):
        return None
    if not inspect(connection).has_table("kb_state"):
        return None
    state = connection.execute(text("SELECT revision, summary_revision FROM kb_state WHERE id = 1")).first()
    if state is None or state.summary_revision != state.revision:
        return None
    clauses: list[str] = []
    params: dict[str, str | None] = {}
    if scope.condition_id is not None:
        clauses.append("condition_id = :condition")
        params["condition"] = scope.condition_id
    if scope.unspecified_context or scope.context_id is not None:
        clauses.append("context_key = :context")
        params["context"] = NO_CONTEXT if scope.unspecified_context else scope.context_id
    else:
        clauses.append("context_key <> :context" if by_context else "context_key = :context")
        params["context"] = ALL_CONTEXTS
    if not include_classes:
        clauses.append("level = 'intervention'")
    keys = f", condition_id, NULLIF(context_key, '{NO_CONTEXT}') AS context_id" if by_context else ""
    columns, where = ", ".join(SUMMARY_COUNTS), " AND ".join(clauses)
    sql = f"SELECT level, group_id{keys}, {columns} FROM evidence_summary WHERE {where}"  # noqa: S608 (constants only)
    return [dict(r) for r in connection.execute(text(sql), params).mappings()]


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Names and memberships needed to label aggregate rows (vocabulary-sized)."""

    interventions: dict[str, tuple[str, str, str | None]]  # id -> (name, kind, class_id)
    classes: dict[str, str]  # id -> name
    members: dict[str, list[str]]  # class id -> intervention ids counted under it
    combinations: dict[str, list[str]]  # component id -> combinations containing it

    @classmethod
    def read(cls, connection: Connection) -> _Vocabulary:
        interventions = {
            r.id: (r.name, r.kind, r.class_id)
            for r in connection.execute(text("SELECT id, name, kind, class_id FROM intervention"))
        }
        classes = {r.id: r.name for r in connection.execute(text("SELECT id, name FROM intervention_class"))}
        members: dict[str, list[str]] = defaultdict(list)
        for r in connection.execute(text(_CLASS_MEMBERS_SQL + " ORDER BY 1")):
            members[r.class_id].append(r.intervention_id)
        combinations: dict[str, list[str]] = defaultdict(list)
        for r in connection.execute(text("SELECT combination_id, component_id FROM intervention_component")):
            combinations[r.component_id].append(r.combination_id)
        return cls(interventions, classes, dict(members), dict(combinations))


def aggregate_evidence(
    engine: Engine, scope: Scope | None = None, *, by_context: bool = False, include_classes: bool = True
) -> list[dict[str, Any]]:
    """Aggregate the findings in ``scope`` per intervention (and class), per context if asked.

    Args:
        engine: the KB.
        scope: which findings to count (all by default).
        by_context: one row per (intervention or class, condition, context) instead of one
            per intervention or class; rows then carry ``condition_id`` and ``context_id``
            (None for an unspecified context).
        include_classes: add ``level="class"`` rows rolling up each class (only the classes
            whose members ``scope.intervention_ids`` all includes, when it is set).

    Returns:
        One dict per row with the keys of :data:`AGGREGATE_COLUMNS`: ``interventions`` is how
        many interventions with findings the row covers (1, or a class's count);
        ``combinations`` lists the combinations with findings that contain the intervention
        (listed, not counted) or, on a class row, that the class counts. Rows are sorted
        by condition, context, level and id.
    """
    scope = scope or Scope()
    with engine.connect() as connection:
        vocabulary = _Vocabulary.read(connection)
        raw = _summary_rows(connection, scope, by_context, include_classes)
        if raw is None:
            statement = scope.statement(_aggregate_sql(_CONTEXT_KEYS if by_context else (), include_classes))
            raw = [dict(r) for r in connection.execute(statement).mappings()]
    if scope.intervention_ids is not None:
        # A class roll-up over part of its members would understate the class: leave it out.
        covered = set(scope.intervention_ids)
        raw = [r for r in raw if r["level"] != "class" or set(vocabulary.members.get(r["group_id"], ())) <= covered]
    present = {(r["group_id"], _context_key(r, by_context)) for r in raw if r["level"] == "intervention"}
    rows = [_row(r, vocabulary, present, by_context, scope.unspecified_context) for r in raw]
    return sorted(rows, key=lambda r: (*_sort_context(r, by_context), r["level"], r["intervention_id"]))


def aggregate_groups(
    engine: Engine, groups: Sequence[tuple[str, str]], scope: Scope | None = None
) -> list[dict[str, Any]]:
    """One aggregate row per ``(level, id)`` of ``groups``, in that order, over ``scope``.

    ``level`` is ``intervention`` or ``class``. A group without findings in scope still gets
    its row, with zero studies and no rate or design: the absence of evidence is an answer.
    """
    with engine.connect() as connection:
        vocabulary = _Vocabulary.read(connection)
    covered: set[str] = set()
    for level, group_id in groups:
        members = vocabulary.members.get(group_id, []) if level == "class" else [group_id]
        covered |= {*members, *(c for m in members for c in vocabulary.combinations.get(m, []))}
    found = aggregate_evidence(engine, replace(scope or Scope(), intervention_ids=tuple(sorted(covered))))
    rows = {(r["level"], r["intervention_id"]): r for r in found}
    empty = {"studies": 0, "findings": 0, "design_rank": None, "primary_rank": None, "latest_year": None}
    empty |= {key: None for key in ("patients", "responders", "evaluable", *(f"dir_{d}" for d in DIRECTIONS))}
    return [
        rows.get(group) or _row(empty | {"level": group[0], "group_id": group[1]}, vocabulary, set(), False)
        for group in groups
    ]


def _context_key(row: dict[str, Any], by_context: bool) -> tuple[str | None, ...]:
    return (row["condition_id"], row["context_id"]) if by_context else ()


def _sort_context(row: dict[str, Any], by_context: bool) -> tuple[str, ...]:
    return (row["condition_id"], row["context_id"] or "") if by_context else ()


def _row(
    raw: dict[str, Any],
    vocabulary: _Vocabulary,
    present: set[tuple[str, tuple[str | None, ...]]],
    by_context: bool,
    indirect: bool = False,
) -> dict[str, Any]:
    group_id, key = raw["group_id"], _context_key(raw, by_context)
    if raw["level"] == "class":
        name = vocabulary.classes.get(group_id, group_id)
        kind, class_name = "class", name
        covered = [m for m in vocabulary.members.get(group_id, []) if (m, key) in present]
        combinations = sorted(m for m in covered if vocabulary.interventions[m][1] == "combination")
        interventions = len(covered)
    else:
        name, kind, class_id = vocabulary.interventions.get(group_id, (group_id, "drug", None))
        class_name = vocabulary.classes.get(class_id) if class_id else None
        combinations = sorted(c for c in vocabulary.combinations.get(group_id, []) if (c, key) in present)
        interventions = 1 if raw["findings"] else 0
    tally = {d: int(raw[f"dir_{d}"] or 0) for d in DIRECTIONS}
    # Not reported is None, never 0: a row whose studies give no responder count has no
    # responders and no evaluable patients, and one whose studies give no count treated has
    # no patients (kb.evidence.pooled_rate has no rate for it either).
    evaluable = int(raw["evaluable"]) if raw["evaluable"] else None
    responders = int(raw["responders"]) if evaluable is not None and raw["responders"] is not None else None
    rate, low, high = pooled_rate(responders or 0, evaluable or 0)
    patients = int(raw["patients"]) if raw["patients"] is not None else None
    row: dict[str, Any] = {
        "level": raw["level"],
        "intervention_id": group_id,
        "intervention": name,
        "kind": kind,
        "class": class_name,
    }
    if by_context:
        row |= {"condition_id": raw["condition_id"], "context_id": raw["context_id"]}
    row |= {
        "interventions": interventions,
        "studies": int(raw["studies"]),
        "findings": int(raw["findings"]),
        "patients": patients,
        "responders": responders,
        "evaluable": evaluable,
        "response_rate": rate,
        "ci_low": low,
        "ci_high": high,
        **tally,
        "best_design": design_of_rank(raw["design_rank"]),
        "primary_design": design_of_rank(raw["primary_rank"]),
        "latest_year": int(raw["latest_year"]) if raw["latest_year"] is not None else None,
        "contradicted": is_contradicted(tally),
    }
    if row["studies"]:
        certainty, reasons = rate_certainty(row, indirect=indirect or (by_context and raw["context_id"] is None))
    else:
        certainty, reasons = None, []
    return row | {"certainty": certainty, "certainty_reasons": reasons, "combinations": combinations}


def aggregate_routes(engine: Engine, scope: Scope | None = None, *, by_context: bool = False) -> list[dict[str, Any]]:
    """The rows of :func:`aggregate_evidence` over ``scope``, split by the findings' route.

    Counted by the same rules, over the findings of one route at a time (intralesional and
    intravenous sodium thiosulfate apart): one row per (intervention or class, condition,
    route), or per (intervention or class, condition, context, route) with ``by_context``,
    with the keys of :data:`AGGREGATE_COLUMNS`, ``condition_id`` (and ``context_id``: None for
    a mixed or unstated context) and ``route`` (None for findings that state none). One
    statement answers every condition at once. Rows are sorted by condition, context, level,
    id and route (None last).
    """
    scope = scope or Scope()
    keys = ("condition_id", "context_id", "route") if by_context else ("condition_id", "route")
    with engine.connect() as connection:
        vocabulary = _Vocabulary.read(connection)
        raw = [dict(r) for r in connection.execute(scope.statement(_aggregate_sql(keys, True))).mappings()]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in raw:
        groups[tuple(r[k] for k in keys)].append(r)
    rows = []
    for key, same in groups.items():
        present: set[tuple[str, tuple[str | None, ...]]] = {
            (r["group_id"], ()) for r in same if r["level"] == "intervention"
        }
        indirect = scope.unspecified_context or (by_context and key[1] is None)
        rows += [_row(r, vocabulary, present, False, indirect) | dict(zip(keys, key, strict=True)) for r in same]
    return sorted(
        rows,
        key=lambda r: (
            r["condition_id"],
            r.get("context_id") or "",
            r["level"],
            r["intervention_id"],
            r["route"] is None,
            r["route"] or "",
        ),
    )
