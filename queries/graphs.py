"""Graph queries: the evidence graph, or the part of it behind one answer, as networkx graphs.

The graphs are those of :mod:`kb.graph` (node and edge kinds are documented there) and can
be written with :func:`kb.graph_export.write_graph` or ``kb export``.
"""

from __future__ import annotations

import networkx as nx
from sqlalchemy import bindparam, text

from kb.aggregate import Scope, aggregate_evidence
from kb.graph import build_citation_graph, build_graph
from queries.db import DB, connect
from queries.terms import resolve_article, resolve_intervention, resolve_scope

__all__ = ["citation_neighbourhood", "evidence_for", "evidence_graph", "treatment_graph"]


def evidence_graph(*, db: DB = None) -> nx.MultiDiGraph:
    """The whole evidence graph: vocabulary, articles, findings, citations and ``treats`` aggregates.

    Args:
        db: where to read (see :mod:`queries.api`).
    """
    return build_graph(connect(db))


def evidence_for(intervention: str, condition: str, *, context: str | None = None, db: DB = None) -> nx.MultiDiGraph:
    """The evidence behind one (intervention, condition) answer, as a subgraph.

    Args:
        intervention: a drug, procedure, combination or class (a class brings its members,
            a drug the combinations containing it, as in :func:`queries.findings`).
        condition: condition name or synonym.
        context: disease context, :data:`queries.UNSPECIFIED`, or None for all.
        db: where to read (see :mod:`queries.api`).

    Returns:
        The findings about them, the articles reporting those findings and the citations
        among these articles, the intervention, class, condition and context nodes the
        findings are about, and the ``treats`` edges aggregating them (one per context).
        With nothing reported, only the condition (and context) nodes.

    Raises:
        VocabularyError: a term is not in the vocabulary.
    """
    engine = connect(db)
    term = resolve_intervention(engine, intervention)
    return build_graph(engine, resolve_scope(engine, condition, context, tuple(term.via)))


def citation_neighbourhood(article: str, depth: int = 1, *, db: DB = None) -> nx.MultiDiGraph:
    """Articles within ``depth`` citation links of ``article``, either direction, with their ``cites`` edges.

    Args:
        article: a CURIE (``pubmed:123``), a PMID or a DOI.
        depth: how many links to follow (0 gives the article alone).
        db: where to read (see :mod:`queries.api`).

    Returns:
        Article nodes (those the KB only knows as citation targets have ``in_kb`` false),
        each with ``hops``, its distance from ``article``, and every ``cites`` edge among them.

    Raises:
        KBError: the KB knows no such article.
        ValueError: ``depth`` is negative.
    """
    if depth < 0:
        raise ValueError(f"depth must be 0 or more, not {depth}")
    engine = connect(db)
    centre = resolve_article(engine, article)
    hops = {centre: 0}
    frontier = {centre}
    statement = text("SELECT citing_id, cited_id FROM citation WHERE citing_id IN :ids OR cited_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with engine.connect() as connection:
        for hop in range(1, depth + 1):
            found: set[str] = set()
            ordered = sorted(frontier)
            for start in range(0, len(ordered), 500):
                for citing, cited in connection.execute(statement, {"ids": ordered[start : start + 500]}):
                    found.update((citing, cited))
            frontier = found - set(hops)
            hops.update(dict.fromkeys(frontier, hop))
            if not frontier:
                break
    graph = build_citation_graph(engine, hops)
    nx.set_node_attributes(graph, hops, "hops")
    return graph


def treatment_graph(*, db: DB = None) -> nx.DiGraph:
    """The drug–class–condition graph: which interventions have been reported for which conditions.

    Smaller than :func:`evidence_graph` (no articles, no findings), it is what the site's graph
    page draws. Nodes and edges are added in sorted order, so the same KB gives the same graph.

    Args:
        db: where to read (see :mod:`queries.api`).

    Returns:
        Nodes ``intervention:<id>`` (kind ``intervention``; ``label``, ``intervention_kind``
        drug, procedure, combination or class; ``studies`` and ``findings`` over all
        conditions), ``class:<id>`` and ``condition:<id>`` (kind, label, ``studies``), only
        those with findings (a class when a member has some). Edges: ``treats``
        intervention → condition with the aggregate's studies, findings, patients,
        supporting, null, harmful and contradicted (all contexts together); ``is_a``
        intervention → class; ``part_of`` component → combination.
    """
    engine = connect(db)
    with engine.connect() as connection:
        vocabulary = connection.execute(
            text(
                "SELECT i.id, i.name, i.kind, i.class_id, c.name AS class_name FROM intervention i "
                "LEFT JOIN intervention_class c ON c.id = i.class_id ORDER BY i.id"
            )
        ).all()
        conditions = connection.execute(text("SELECT id, name FROM condition ORDER BY id")).all()
        components = connection.execute(
            text("SELECT combination_id, component_id FROM intervention_component ORDER BY 1, 2")
        ).all()
    edges: list[tuple[str, str, dict[str, object]]] = []
    studies: dict[str, int] = {}
    findings: dict[str, int] = {}
    for condition in conditions:
        rows = aggregate_evidence(engine, Scope(condition_id=condition.id), include_classes=False)
        for row in rows:
            source = f"intervention:{row['intervention_id']}"
            studies[source] = studies.get(source, 0) + row["studies"]
            findings[source] = findings.get(source, 0) + row["findings"]
            studies[f"condition:{condition.id}"] = studies.get(f"condition:{condition.id}", 0) + row["studies"]
            edges.append(
                (
                    source,
                    f"condition:{condition.id}",
                    {
                        "relation": "treats",
                        **{k: row[k] for k in ("studies", "findings", "patients", "supporting", "null", "harmful")},
                        "contradicted": bool(row["contradicted"]),
                    },
                )
            )
    graph = nx.DiGraph()
    nodes: dict[str, dict[str, object]] = {}
    for item in vocabulary:
        node = f"intervention:{item.id}"
        if node not in studies:
            continue
        nodes[node] = {
            "kind": "intervention",
            "label": item.name,
            "intervention_kind": item.kind,
            "studies": studies[node],
            "findings": findings[node],
        }
        if item.class_id is not None:
            nodes.setdefault(f"class:{item.class_id}", {"kind": "class", "label": item.class_name or item.class_id})
            edges.append((node, f"class:{item.class_id}", {"relation": "is_a"}))
    for condition in conditions:
        node = f"condition:{condition.id}"
        if node in studies:
            nodes[node] = {"kind": "condition", "label": condition.name, "studies": studies[node]}
    for combination, component in components:
        if f"intervention:{combination}" in nodes and f"intervention:{component}" in nodes:
            edges.append((f"intervention:{component}", f"intervention:{combination}", {"relation": "part_of"}))
    graph.add_nodes_from(sorted(nodes.items()))
    graph.add_edges_from(sorted(edges, key=lambda e: (e[0], e[1], str(e[2]["relation"]))))
    return graph
