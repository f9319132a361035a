"""Graph queries: the evidence graph, or the part of it behind one answer, as networkx graphs.

The graphs are those of :mod:`kb.graph` (node and edge kinds are documented there) and can
be written with :func:`kb.graph_export.write_graph` or ``kb export``.
"""

from __future__ import annotations

import networkx as nx
from sqlalchemy import bindparam, text

from kb.graph import build_citation_graph, build_graph
from queries.db import DB, connect
from queries.terms import resolve_article, resolve_intervention, resolve_scope

__all__ = ["citation_neighbourhood", "evidence_for", "evidence_graph"]


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
