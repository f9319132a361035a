"""The studies behind every number: one forest-plot page per treatment row.

Each (intervention or class) × (condition, disease context) cell of a treatment table opens a
page listing the findings it counts, one row per finding, with design, year, patients
treated, responders, route, age group, outcome, direction and adverse events, the finding
used for the pooled rate marked, each linked to its article page and on to PubMed or the
DOI. The plot is inline SVG drawn at build time (:func:`queries.charts.forest_point`).

Which findings a cell counts, and which one per article is pooled, follow
:mod:`kb.aggregate`: an intervention's row counts its own findings (the combinations
containing it have rows of their own); a class's row counts its members, the findings naming
the class and the combinations containing a member; per article, the pooled finding is the
primary one with both counts and the most patients (on a tie, the fewer responders);
findings of a retracted article are listed, marked, and not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kb.evidence import SECONDARY_DESIGNS, wilson_interval
from queries.charts import forest_point
from queries.pages import slug

__all__ = ["ALL_CONTEXTS", "UNSPECIFIED", "forest_path", "forest_rows", "in_cell", "pooled_findings"]

#: The context key of a cell covering every context of its condition.
ALL_CONTEXTS = "all"
#: The context key of a cell covering findings with a mixed or unspecified context.
UNSPECIFIED = "unspecified"


def forest_path(level: str, group_id: str, condition_id: str, context_key: str) -> str:
    """Path of the forest-plot page of one cell (relative to the docs root).

    ``context_key`` is a disease context id, :data:`ALL_CONTEXTS` or :data:`UNSPECIFIED`.
    """
    return f"evidence/{slug(level)}--{slug(group_id)}--{slug(condition_id)}--{slug(context_key)}.md"


def in_cell(finding: Mapping[str, Any], condition_id: str, context_key: str) -> bool:
    """Whether a finding is about the cell's condition and context."""
    if finding["condition_id"] != condition_id:
        return False
    if context_key == ALL_CONTEXTS:
        return True
    if context_key == UNSPECIFIED:
        return finding["context_id"] is None
    return bool(finding["context_id"] == context_key)


def pooled_findings(findings: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ids of the findings the pooled rate takes: per article, among primary findings with
    both counts, the one with the most patients and, on a tie, the fewer responders."""
    best: dict[str, tuple[int, int, str]] = {}
    for f in findings:
        if f["retracted"] or f["study_design"] in SECONDARY_DESIGNS:
            continue
        if f["n_treated"] is None or f["n_responded"] is None or not f["n_treated"]:
            continue
        key = (int(f["n_treated"]), -int(f["n_responded"]), str(f["finding_id"]))
        current = best.get(f["article_id"])
        # The most patients, then the fewer responders; the smaller id settles an exact tie.
        if current is None or key[:2] > current[:2] or (key[:2] == current[:2] and key[2] < current[2]):
            best[f["article_id"]] = key
    return {key[2] for key in best.values()}


def forest_rows(findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a forest plot: each finding with its plot (``plot``), its interval, and
    whether it is ``pooled`` or ``counted``; strongest evidence first (pooled, then most
    patients, then newest)."""
    pooled = pooled_findings(findings)
    rows = []
    for f in findings:
        responders, treated = f["n_responded"], f["n_treated"]
        low = high = None
        if responders is not None and treated:
            low, high = wilson_interval(int(responders), int(treated))
        rows.append(
            dict(f)
            | {
                "pooled": f["finding_id"] in pooled,
                "counted": not f["retracted"],
                "primary": f["study_design"] not in SECONDARY_DESIGNS,
                "plot": forest_point(
                    None if responders is None else int(responders), None if not treated else int(treated), low, high
                ),
            }
        )
    return sorted(
        rows,
        key=lambda r: (not r["pooled"], -(r["n_treated"] or -1), -(r["year"] or 0), str(r["finding_id"])),
    )
