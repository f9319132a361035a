"""Treatment rows split by route, for the condition pages.

A treatment given by several routes (intralesional and intravenous sodium thiosulfate) is
one row of a condition's table, and that row pools them. :func:`split_by_route` counts the
same row again one route at a time (:func:`kb.aggregate.aggregate_routes`, the same rules,
read for the whole site at once by :class:`RouteParts`),
for the rows whose findings name two or more distinct routes; the page lists those sub-rows
in a table of their own, under the ranked one (sorting the ranked table cannot scatter them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from kb.aggregate import aggregate_routes
from queries.pages import slug

__all__ = ["NO_ROUTE", "RouteParts", "route_anchor", "split_by_route"]

#: How a sub-row of findings that state no route is labelled.
NO_ROUTE = "route not stated"


def route_anchor(level: str, intervention_id: str) -> str:
    """The HTML id of a treatment's first sub-row in the by-route table."""
    return f"route-{level}-{slug(intervention_id)}"


class RouteParts:
    """Every condition's and condition context's aggregate rows split by route, read at once
    (two statements for the whole site: one per condition, one per condition context)."""

    def __init__(self, engine: Engine) -> None:
        self._parts: dict[tuple[str, str | None, str, str], list[dict[str, Any]]] = {}
        for part in aggregate_routes(engine):
            self._add((part["condition_id"], None), part)
        for part in aggregate_routes(engine, by_context=True):
            if part["context_id"] is not None:
                self._add((part["condition_id"], part["context_id"]), part)

    def _add(self, pair: tuple[str, str | None], part: dict[str, Any]) -> None:
        self._parts.setdefault((*pair, part["level"], part["intervention_id"]), []).append(part)

    def of(self, condition_id: str, context_id: str | None, level: str, intervention_id: str) -> list[dict[str, Any]]:
        """The route rows of one treatment row: a condition's (``context_id`` None: every
        context) or a condition context's."""
        return self._parts.get((condition_id, context_id, level, intervention_id), [])


def split_by_route(
    parts: RouteParts, rows: list[dict[str, Any]], condition_id: str, context_id: str | None
) -> list[dict[str, Any]]:
    """The by-route sub-rows of ``rows`` (a condition's or condition context's treatment rows),
    in the order of ``rows``.

    Each row of ``rows`` gets ``routes``: how many sub-rows it splits into (0 when its
    findings name fewer than two distinct routes). Each sub-row is an aggregate row with
    ``route`` (or :data:`NO_ROUTE`), ``parent`` (the treatment's name), ``anchor`` (on the
    first sub-row of a treatment) and the parent's ``forest`` page, where every finding
    shows its route.
    """
    out: list[dict[str, Any]] = []
    for row in rows:
        found = parts.of(condition_id, context_id, row["level"], row["intervention_id"])
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
