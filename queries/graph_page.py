"""The graph page's data: interventions, classes, disease contexts and conditions as nodes.

:func:`context_graph` is the drug–class–context–condition graph the site draws with
Cytoscape.js: an intervention is linked to each disease context it was reported for (the
condition's findings of mixed or unstated context form a context node of their own), each
context to its condition, an intervention to its class and a component to its combination.
A ``treats`` edge carries the aggregate of :func:`kb.aggregate.aggregate_evidence` for that
(intervention, condition, context), its ``direction`` (the colour: supporting, contradicted,
harmful or other) and its ``weight`` (patients treated, 0 when no study reports a number:
the width). The page shows the whole graph or, chosen in a list or by the address
(``graph.html#focus=intervention:ID``), one intervention's or one condition's neighbourhood.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
from sqlalchemy import Engine, text

from kb.aggregate import aggregate_evidence
from queries.pages import condition_page, script_json, slug

__all__ = ["UNSPECIFIED_NODE", "context_graph", "direction_of", "graph_page_data"]

#: The context part of the node of a condition's findings of mixed or unstated context.
UNSPECIFIED_NODE = "unspecified"
_FOLDERS = {"intervention": "interventions", "class": "classes"}
_KINDS = ("condition", "context", "class", "intervention")


def direction_of(row: Mapping[str, Any]) -> str:
    """What an aggregate's findings report, as the graph colours it.

    ``contradicted`` (supporting findings alongside null or harmful ones), ``supporting``,
    ``harmful`` (harmful findings and none supporting), or ``other`` (null, mixed, unclear).
    """
    if row.get("contradicted"):
        return "contradicted"
    if row.get("supporting"):
        return "supporting"
    if row.get("harmful"):
        return "harmful"
    return "other"


def _html(path: str) -> str:
    return path.removesuffix(".md") + ".html"


def context_graph(engine: Engine, pairs: Iterable[Mapping[str, Any]]) -> nx.DiGraph:
    """The graph the site's graph page draws (see the module's docstring).

    Args:
        engine: the KB.
        pairs: the condition pages (:func:`queries.catalog.condition_contexts` rows: their
            ``condition_id``, ``condition``, ``context_id`` and ``context`` name the nodes).

    Returns:
        Nodes ``intervention:ID``, ``class:ID``, ``condition:ID`` and
        ``context:CONDITION--CONTEXT`` (kind, label, url, and ``condition`` on a context), only
        those with findings; nodes and edges in sorted order, so the same KB gives the same graph.
    """
    names = {(p["condition_id"], p["context_id"]): p for p in pairs}
    with engine.connect() as connection:
        vocabulary = {
            r.id: r
            for r in connection.execute(
                text(
                    "SELECT i.id, i.name, i.kind, i.class_id, c.name AS class_name FROM intervention i "
                    "LEFT JOIN intervention_class c ON c.id = i.class_id"
                )
            )
        }
        components = connection.execute(text("SELECT combination_id, component_id FROM intervention_component")).all()
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str, dict[str, Any]]] = []
    for row in aggregate_evidence(engine, by_context=True, include_classes=False):
        condition_id, context_id = row["condition_id"], row["context_id"]
        condition = names.get((condition_id, None), {}).get("condition") or condition_id
        context_node = f"context:{condition_id}--{context_id or UNSPECIFIED_NODE}"
        if context_node not in nodes:
            label = names.get((condition_id, context_id), {}).get("context") if context_id else None
            nodes[context_node] = {
                "kind": "context",
                "label": f"{label or context_id} ({condition})"
                if context_id
                else f"{condition}: context mixed or unstated",
                "condition": condition_id,
                "url": _html(condition_page(condition_id, context_id)),
            }
            nodes[f"condition:{condition_id}"] = {
                "kind": "condition",
                "label": condition,
                "url": _html(condition_page(condition_id, None)),
            }
            edges.append((context_node, f"condition:{condition_id}", {"relation": "context_of"}))
        source = f"intervention:{row['intervention_id']}"
        item = vocabulary.get(row["intervention_id"])
        nodes[source] = {
            "kind": "intervention",
            "label": item.name if item else row["intervention_id"],
            "intervention_kind": item.kind if item else "drug",
            "url": f"interventions/{slug(row['intervention_id'])}.html",
        }
        if item is not None and item.class_id is not None:
            nodes[f"class:{item.class_id}"] = {
                "kind": "class",
                "label": item.class_name or item.class_id,
                "url": f"classes/{slug(item.class_id)}.html",
            }
            edges.append((source, f"class:{item.class_id}", {"relation": "is_a"}))
        edges.append(
            (
                source,
                context_node,
                {
                    "relation": "treats",
                    "studies": row["studies"],
                    "patients": row["patients"],
                    "weight": row["patients"] or 0,
                    "direction": direction_of(row),
                    "contradicted": bool(row["contradicted"]),
                    **{k: row[k] for k in ("supporting", "null", "harmful")},
                },
            )
        )
    for combination, component in components:
        if f"intervention:{combination}" in nodes and f"intervention:{component}" in nodes:
            edges.append((f"intervention:{component}", f"intervention:{combination}", {"relation": "part_of"}))
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(nodes.items()))
    graph.add_edges_from(sorted(edges, key=lambda e: (e[0], e[1], str(e[2]["relation"]))))
    return graph


def graph_page_data(engine: Engine, pairs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The graph page's template data: Cytoscape.js elements (script-safe JSON), the choices
    of neighbourhood (conditions, then interventions and classes, by label) and node counts."""
    graph = context_graph(engine, pairs)
    kinds = [data["kind"] for _, data in graph.nodes(data=True)]

    def choices(*wanted: str) -> list[dict[str, str]]:
        found = [{"id": str(n), "label": str(d["label"])} for n, d in graph.nodes(data=True) if d["kind"] in wanted]
        return sorted(found, key=lambda c: (c["label"].casefold(), c["id"]))

    return {
        "elements": script_json(nx.cytoscape_data(graph)["elements"]),
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "kinds": {k: kinds.count(k) for k in _KINDS},
        "conditions": choices("condition"),
        "interventions": choices("intervention", "class"),
    }
