"""Where the evidence is, and where it is not: the intervention × condition-context matrix."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from sqlalchemy import CursorResult, text

from kb.aggregate import COUNTED_ARTICLE_SQL, DESIGN_RANK_SQL, Scope, design_of_rank
from queries.db import DB, connect
from queries.terms import UNSPECIFIED, resolve

__all__ = ["gaps"]

_COUNTS_SQL = f"""
SELECT f.intervention_id, f.condition_id, f.context_id, COUNT(*) AS findings,
       COUNT(DISTINCT f.article_id) AS studies, MIN({DESIGN_RANK_SQL}) AS design_rank
FROM finding f JOIN article a ON a.id = f.article_id WHERE {{where}} AND {COUNTED_ARTICLE_SQL}
GROUP BY f.intervention_id, f.condition_id, f.context_id
"""  # noqa: S608 (constants of kb.aggregate)

_PAIRS_SQL = """
SELECT c.id AS condition_id, c.name AS condition, d.id AS context_id, d.name AS context
FROM condition_context cc JOIN condition c ON c.id = cc.condition_id JOIN disease_context d ON d.id = cc.context_id
UNION
SELECT c.id, c.name, d.id, d.name
FROM (SELECT DISTINCT condition_id, context_id FROM finding) f
JOIN condition c ON c.id = f.condition_id LEFT JOIN disease_context d ON d.id = f.context_id
UNION
SELECT c.id, c.name, NULL, NULL FROM condition c
WHERE NOT EXISTS (SELECT 1 FROM condition_context cc WHERE cc.condition_id = c.id)
"""

_INTERVENTIONS_SQL = """
SELECT i.id AS intervention_id, i.name AS intervention, i.kind, ic.name AS class
FROM intervention i LEFT JOIN intervention_class ic ON ic.id = i.class_id
"""

_LONG_COLUMNS = [
    "intervention_id",
    "intervention",
    "kind",
    "class",
    "has_findings",
    "condition_id",
    "condition",
    "context_id",
    "context",
    "column",
    "findings",
    "studies",
    "best_design",
]


def gaps(condition: str | None = None, *, form: Literal["wide", "long"] = "wide", db: DB = None) -> pd.DataFrame:
    """How much evidence each intervention has in each condition context, of what level, and where none.

    Rows are every intervention of the vocabulary: those with findings first (most findings
    first), then those without any, marked ``has_findings`` false. Columns are the
    condition contexts the topic reports on (each condition's disease contexts, any other
    context findings name, and ``<condition> / unspecified`` when findings give no context or
    the condition has no contexts). Classes are not rows: their members are.

    Args:
        condition: only this condition's columns (name or synonym); None for all conditions.
        form: ``wide`` (the matrix) or ``long`` (one row per cell).
        db: where to read (see :mod:`queries.api`).

    Returns:
        ``wide``: indexed by intervention_id, with two-level columns. ``("intervention", "")``,
        ``("kind", "")``, ``("has_findings", "")`` describe the row; ``("findings", column)``
        holds the number of findings (0 where none: a gap) and ``("best_design", column)``
        the strongest study design (None where none). ``frame["findings"]`` is the count
        matrix, ready for a heat map.

        ``long``: intervention_id, intervention, kind, class, has_findings, condition_id,
        condition, context_id, context, column (the wide form's column label), findings,
        studies, best_design; every cell, including the empty ones.

    Raises:
        VocabularyError: the condition is not in the vocabulary.
        ValueError: ``form`` is neither wide nor long.
    """
    if form not in ("wide", "long"):
        raise ValueError(f"form must be 'wide' or 'long', not {form!r}")
    engine = connect(db)
    condition_id = resolve(engine, "condition", condition) if condition is not None else None
    with engine.connect() as connection:
        counts = _frame(connection.execute(Scope(condition_id).statement(_COUNTS_SQL)))
        pairs = _frame(connection.execute(text(_PAIRS_SQL)))
        interventions = _frame(connection.execute(text(_INTERVENTIONS_SQL)))
    if condition_id is not None:
        pairs = pairs[pairs["condition_id"] == condition_id]
    pairs = pairs.drop_duplicates(["condition_id", "context_id"])
    pairs["column"] = pairs["condition"] + " / " + pairs["context"].fillna(UNSPECIFIED)
    pairs = pairs.sort_values(["condition", "context"], na_position="last")
    totals = counts.groupby("intervention_id")["findings"].sum()
    interventions["has_findings"] = interventions["intervention_id"].isin(totals.index)
    interventions["_total"] = interventions["intervention_id"].map(totals).fillna(0)
    interventions = interventions.sort_values(
        ["has_findings", "_total", "intervention_id"], ascending=[False, False, True]
    ).drop(columns="_total")
    long = interventions.merge(pairs, how="cross").merge(
        counts, how="left", on=["intervention_id", "condition_id", "context_id"]
    )
    long["findings"] = long["findings"].fillna(0).astype(int)
    long["studies"] = long["studies"].fillna(0).astype(int)
    long["best_design"] = [design_of_rank(None if pd.isna(r) else int(r)) for r in long["design_rank"]]
    long = long[_LONG_COLUMNS].reset_index(drop=True)
    if form == "long":
        return long
    return _wide(long, interventions, list(pairs["column"]))


def _frame(result: CursorResult[Any]) -> pd.DataFrame:
    """A result's rows as a DataFrame that keeps its columns even when there are no rows."""
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _wide(long: pd.DataFrame, interventions: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    order = list(interventions["intervention_id"])
    counts = long.pivot(index="intervention_id", columns="column", values="findings").reindex(
        index=order, columns=columns
    )
    designs = long.pivot(index="intervention_id", columns="column", values="best_design").reindex(
        index=order, columns=columns
    )
    labels = interventions.set_index("intervention_id")[["intervention", "kind", "has_findings"]]
    labels.columns = pd.MultiIndex.from_tuples([(c, "") for c in labels.columns])
    wide = pd.concat([labels, pd.concat({"findings": counts, "best_design": designs}, axis=1)], axis=1)
    wide.index.name = "intervention_id"
    wide.columns.names = ["measure", "column"]
    return wide
