"""Treatment rows split by route, for the condition pages.

A treatment given by several routes (intralesional and intravenous sodium thiosulfate) is
one row of a condition's table, and that row pools them. :func:`split_by_route` counts the
same row again one route at a time (:func:`kb.aggregate.aggregate_routes`, the same rules),
for the rows whose findings name two or more distinct routes; the page lists those sub-rows
in a table of their own, under the ranked one (sorting the ranked table cannot scatter them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from kb.aggregate import Scope, aggregate_routes
from queries.pages import slug

__all__ = ["NO_ROUTE", "route_anchor", "split_by_route"]

#: How a sub-row of findings that state no route is labelled.
NO_ROUTE = "route not stated"


def route_anchor(level: str, intervention_id: str) -> str:
    """The HTML id of a treatment's first sub-row in the by-route table."""
    return f"route-{level}-{slug(intervention_id)}"


def split_by_route(engine: Engine, rows: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """The by-route sub-rows of ``rows`` (aggregate rows over ``scope``), in the order of ``rows``.

    Each row of ``rows`` gets ``routes``: how many sub-rows it splits into (0 when its
    findings name fewer than two distinct routes). Each sub-row is an aggregate row with
    ``route`` (or :data:`NO_ROUTE`), ``parent`` (the treatment's name), ``anchor`` (on the
    first sub-row of a treatment) and the parent's ``forest`` page, where every finding
    shows its route.
    """
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for part in aggregate_routes(engine, scope):
        parts.setdefault((part["level"], part["intervention_id"]), []).append(part)
    out: list[dict[str, Any]] = []
    for row in rows:
        found = parts.get((row["level"], row["intervention_id"]), [])
        if len({p["route"] for p in found if p["route"]}) < 2:
            row["routes"] = 0
            continue
        row["routes"] = len(found)
        for n, part in enumerate(found):
            out.append(
                part
                | {
                    "route": part["route"] or NO_ROUTE,
                    "parent": row["intervention"],
                    "anchor": route_anchor(row["level"], row["intervention_id"]) if n == 0 else None,
                    "forest": row.get("forest"),
                }
            )
    return out
