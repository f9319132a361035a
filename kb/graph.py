"""The evidence graph: a networkx MultiDiGraph built from the store.

Nodes are CURIEs with a ``kind`` attribute:

- ``intervention:<id>``, ``class:<id>``, ``condition:<id>``, ``context:<id>`` (a condition
  in a disease context is the ``context`` attribute of a ``treats`` edge, not a node of its own);
- articles by their own CURIE (``pubmed:123``, ``doi:…``, ``local:…``);
- findings by id (``finding:…``).

Edges (``relation`` attribute, also the edge key):

- ``is_a``: intervention → class; ``part_of``: component → combination;
- ``reports``: article → finding; ``about``: finding → intervention / condition / context;
- ``cites``: article → article, with ``source`` (how the link is known);
- ``treats``: intervention → condition, one per disease context, carrying
  ``context``, ``findings``, ``studies`` and the tally of findings by direction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import networkx as nx
from sqlalchemy import Engine, text

from kb.evidence import DIRECTION, DIRECTIONS


def _rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(sql))]


def build_graph(engine: Engine) -> nx.MultiDiGraph:
    """Build the evidence graph from the KB behind ``engine``."""
    graph = nx.MultiDiGraph()
    for row in _rows(engine, "SELECT id, name, atc, mesh FROM intervention_class"):
        graph.add_node(f"class:{row['id']}", kind="class", label=row["name"], atc=row["atc"], mesh=row["mesh"])
    for row in _rows(engine, "SELECT id, name, kind, class_id, atc, mesh FROM intervention"):
        node = f"intervention:{row['id']}"
        graph.add_node(
            node,
            kind="intervention",
            label=row["name"],
            intervention_kind=row["kind"],
            atc=row["atc"],
            mesh=row["mesh"],
        )
        if row["class_id"]:
            graph.add_edge(node, f"class:{row['class_id']}", key="is_a", relation="is_a")
    for row in _rows(engine, "SELECT combination_id, component_id FROM intervention_component"):
        graph.add_edge(
            f"intervention:{row['component_id']}",
            f"intervention:{row['combination_id']}",
            key="part_of",
            relation="part_of",
        )
    for row in _rows(engine, "SELECT id, name, mesh FROM condition"):
        graph.add_node(f"condition:{row['id']}", kind="condition", label=row["name"], mesh=row["mesh"])
    for row in _rows(engine, "SELECT id, name, mesh FROM disease_context"):
        graph.add_node(f"context:{row['id']}", kind="context", label=row["name"], mesh=row["mesh"])
    for row in _rows(engine, "SELECT id, title, year, pmid, doi, retracted FROM article"):
        graph.add_node(
            row["id"],
            kind="article",
            label=row["title"] or row["id"],
            year=row["year"],
            pmid=row["pmid"],
            doi=row["doi"],
            retracted=bool(row["retracted"]),
        )
    for row in _rows(engine, "SELECT citing_id, cited_id, source FROM citation"):
        graph.add_edge(
            row["citing_id"], row["cited_id"], key=f"cites:{row['source']}", relation="cites", source=row["source"]
        )

    treats: dict[tuple[str, str, str | None], dict[str, Any]] = defaultdict(
        lambda: {"findings": 0, "articles": set(), "tally": Counter()}
    )
    findings = _rows(
        engine,
        "SELECT id, article_id, intervention_id, condition_id, context_id, response, study_design, "
        "n_treated, n_responded, origin FROM finding",
    )
    for row in findings:
        node = row["id"]
        graph.add_node(
            node,
            kind="finding",
            label=f"{row['intervention_id']} / {row['condition_id']}",
            response=row["response"],
            study_design=row["study_design"],
            n_treated=row["n_treated"],
            n_responded=row["n_responded"],
            origin=row["origin"],
        )
        graph.add_edge(row["article_id"], node, key="reports", relation="reports")
        graph.add_edge(node, f"intervention:{row['intervention_id']}", key="about", relation="about")
        graph.add_edge(node, f"condition:{row['condition_id']}", key="about", relation="about")
        if row["context_id"]:
            graph.add_edge(node, f"context:{row['context_id']}", key="about", relation="about")
        agg = treats[(row["intervention_id"], row["condition_id"], row["context_id"])]
        agg["findings"] += 1
        agg["articles"].add(row["article_id"])
        agg["tally"][DIRECTION[row["response"]]] += 1
    for (intervention_id, condition_id, context_id), agg in sorted(treats.items(), key=lambda kv: str(kv[0])):
        graph.add_edge(
            f"intervention:{intervention_id}",
            f"condition:{condition_id}",
            key=f"treats:{context_id or ''}",
            relation="treats",
            context=context_id or "",
            findings=agg["findings"],
            studies=len(agg["articles"]),
            **{d: agg["tally"].get(d, 0) for d in DIRECTIONS},
        )
    return graph
