"""The evidence-gap page: studies and patients per intervention (or class) × condition context.

Built from the aggregate rows the treatment tables use (:func:`kb.aggregate.aggregate_evidence`,
per context), so a cell says what its forest plot shows and links to it: a class row rolls up
its members, the findings naming the class and the combinations containing a member. An
intervention is listed as *without any finding* only when no finding names it, alone or in a
combination. Each column says whether any randomised trial exists there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from queries.charts import DESIGN_ABBREVIATIONS, HEAT_LEVELS, heat_cell
from queries.pages import SiteData, condition_page

__all__ = ["gap_matrix"]


def _cell(row: dict[str, Any] | None, forest: Callable[[dict[str, Any]], str]) -> str:
    if row is None:
        return heat_cell(0, None, None)
    return heat_cell(row["studies"], row["patients"], row["primary_design"], forest(row))


def gap_matrix(
    site: SiteData,
    condition_names: Mapping[str, str],
    context_names: Mapping[str, str],
    forest: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """The gap page's data: ``columns``, ``rows`` (cells as HTML), ``without`` and ``no_rct``.

    Args:
        site: the site's data (its ``by_context`` aggregate rows).
        condition_names: condition id → name.
        context_names: context id → name.
        forest: the path (``.html``, relative to the site root) of an aggregate row's forest plot.
    """
    keys = sorted(
        {(r["condition_id"], r["context_id"]) for rows in site.by_context.values() for r in rows},
        key=lambda k: (condition_names.get(k[0], k[0]), k[1] is None, context_names.get(k[1] or "", "")),
    )
    columns = [
        {
            "condition": condition_names.get(c, c),
            "context": context_names.get(x, x) if x else None,
            "page": condition_page(c, x).removesuffix(".md") + ".html",
        }
        for c, x in keys
    ]
    rows = []
    rct = {k: False for k in keys}
    for (level, group_id), found in site.by_context.items():
        cells = {(r["condition_id"], r["context_id"]): r for r in found}
        if level == "class" and all(r["interventions"] <= 1 for r in found):
            continue  # a class of one member repeats its member's row
        for key, r in cells.items():
            rct[key] = rct[key] or r["primary_design"] == "rct"
        first = found[0]
        rows.append(
            {
                "level": level,
                "id": group_id,
                "name": first["intervention"],
                "studies": sum(r["studies"] for r in found),
                "cells": [_cell(cells.get(key), forest) for key in keys],
            }
        )
    rows.sort(key=lambda r: (-r["studies"], r["name"], r["level"]))
    named = {group_id for level, group_id in site.by_context if level == "intervention"}
    in_combinations = {c for i in site.interventions if i["id"] in named for c in i["components"]}
    without = [
        i
        for i in site.interventions
        if i["id"] not in named and i["id"] not in in_combinations and i["kind"] != "class"
    ]
    return {
        "columns": columns,
        "rows": rows,
        "without": without,
        "no_rct": [c for c, k in zip(columns, keys, strict=True) if not rct[k]],
        "legend": HEAT_LEVELS,
        "designs": DESIGN_ABBREVIATIONS,
    }
