"""The evidence graph: a networkx MultiDiGraph built from the store.

Nodes are CURIEs with a ``kind`` attribute and a ``label``:

- ``intervention:<id>``, ``class:<id>``, ``condition:<id>``, ``context:<id>`` (disease
  contexts are nodes of their own; a condition *in* a context is a ``treats`` edge's
  ``context`` attribute);
- articles by their own CURIE (``pubmed:123``, ``doi:…``, ``local:…``); an article known only
  because a stored one cites it has ``in_kb`` false;
- findings by id (``finding:…``).

Edges (``relation`` attribute; the edge key is the relation, with the context or citation
source appended where two such edges can join the same nodes):

- ``is_a``: intervention → class, and context → broader context;
- ``part_of``: component → combination;
- ``reports``: article → finding; ``about``: finding → intervention, condition and context;
- ``cites``: article → article, with ``source`` (how the link is known: reference_list,
  pubmed_pubmed_refs, pubmed_pubmed_citedin, curated), key ``cites:<source>``;
- ``treats``: intervention or class → condition, one per disease context (key
  ``treats:<context id>``, empty for an unspecified context), carrying the aggregate of
  :func:`kb.aggregate.aggregate_evidence` (studies, patients, responders, evaluable, pooled
  rate and Wilson interval, findings by direction, best design, latest year,
  contradicted, combinations).

Exports to GraphML, GEXF, node-link and Cytoscape JSON are in :mod:`kb.graph_export`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import networkx as nx
from sqlalchemy import Connection, Engine, bindparam, text

from kb.aggregate import Scope, aggregate_evidence
from kb.db import as_list
from kb.evidence import DIRECTION

_VOCABULARY_KINDS = frozenset({"intervention", "class", "condition", "context"})
_CHUNK = 500
# Aggregate row keys that the edge's endpoints already carry.
_TREATS_LABELS = frozenset({"intervention_id", "intervention", "kind", "class", "condition_id", "context_id"})


def build_graph(engine: Engine, scope: Scope | None = None) -> nx.MultiDiGraph:
    """Build the evidence graph from the KB behind ``engine``.

    Args:
        engine: the KB.
        scope: keep only the findings in this scope, the articles reporting them, the
            citations among those articles, and the vocabulary they involve (what the
            findings are about, with their classes, broader contexts and the components
            of combinations); ``treats`` edges then aggregate the scoped findings only.
            None builds the whole graph.

    Returns:
        The graph described in the module documentation.
    """
    graph = nx.MultiDiGraph()
    with engine.connect() as connection:
        _add_vocabulary(graph, connection)
        articles = _add_findings(graph, connection, scope or Scope())
        _add_articles(graph, connection, None if scope is None else articles)
        _add_citations(graph, connection, None if scope is None else articles)
    _add_treats(graph, engine, scope)
    if scope is not None:
        graph.remove_nodes_from(_unused_vocabulary(graph, scope))
    return graph


def build_citation_graph(engine: Engine, article_ids: Iterable[str]) -> nx.MultiDiGraph:
    """The articles ``article_ids`` and the ``cites`` edges among them (no findings, no vocabulary).

    Identifiers the KB holds no article for become nodes with ``in_kb`` false.
    """
    wanted = set(article_ids)
    graph = nx.MultiDiGraph()
    with engine.connect() as connection:
        _add_articles(graph, connection, wanted)
        _add_citations(graph, connection, wanted)
    graph.add_nodes_from((a, _unknown_article(a)) for a in sorted(wanted - set(graph)))
    return graph


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    values = sorted(set(items))
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _add_vocabulary(graph: nx.MultiDiGraph, connection: Connection) -> None:
    def rows(sql: str) -> Any:
        return connection.execute(text(sql))

    for r in rows("SELECT id, name, atc, mesh, synonyms FROM intervention_class ORDER BY id"):
        graph.add_node(
            f"class:{r.id}", kind="class", label=r.name, atc=r.atc, mesh=r.mesh, synonyms=as_list(r.synonyms)
        )
    for r in rows("SELECT id, name, kind, class_id, atc, mesh, synonyms FROM intervention ORDER BY id"):
        node = f"intervention:{r.id}"
        graph.add_node(
            node,
            kind="intervention",
            label=r.name,
            intervention_kind=r.kind,
            atc=r.atc,
            mesh=r.mesh,
            synonyms=as_list(r.synonyms),
        )
        if r.class_id:
            graph.add_edge(node, f"class:{r.class_id}", key="is_a", relation="is_a")
    for r in rows("SELECT combination_id, component_id FROM intervention_component ORDER BY 1, 2"):
        graph.add_edge(
            f"intervention:{r.component_id}", f"intervention:{r.combination_id}", key="part_of", relation="part_of"
        )
    for r in rows("SELECT id, name, mesh, synonyms FROM condition ORDER BY id"):
        graph.add_node(f"condition:{r.id}", kind="condition", label=r.name, mesh=r.mesh, synonyms=as_list(r.synonyms))
    for r in rows("SELECT id, name, parent_id, mesh, synonyms FROM disease_context ORDER BY id"):
        node = f"context:{r.id}"
        graph.add_node(node, kind="context", label=r.name, mesh=r.mesh, synonyms=as_list(r.synonyms))
        if r.parent_id:
            graph.add_edge(node, f"context:{r.parent_id}", key="is_a", relation="is_a")


def _add_findings(graph: nx.MultiDiGraph, connection: Connection, scope: Scope) -> set[str]:
    """Add the findings in ``scope`` with their ``reports`` and ``about`` edges; return their articles."""
    statement = scope.statement(
        "SELECT f.id, f.article_id, f.intervention_id, f.condition_id, f.context_id, f.response, "
        "f.study_design, f.n_treated, f.n_responded, f.origin FROM finding f WHERE {where} ORDER BY f.id"
    )
    articles: set[str] = set()
    for r in connection.execute(statement):
        graph.add_node(
            r.id,
            kind="finding",
            label=f"{r.intervention_id} / {r.condition_id}",
            response=r.response,
            direction=DIRECTION.get(r.response),
            study_design=r.study_design,
            n_treated=r.n_treated,
            n_responded=r.n_responded,
            origin=r.origin,
        )
        graph.add_edge(r.article_id, r.id, key="reports", relation="reports")
        graph.add_edge(r.id, f"intervention:{r.intervention_id}", key="about", relation="about")
        graph.add_edge(r.id, f"condition:{r.condition_id}", key="about", relation="about")
        if r.context_id:
            graph.add_edge(r.id, f"context:{r.context_id}", key="about", relation="about")
        articles.add(r.article_id)
    return articles


def _select(connection: Connection, sql: str, order: str, column: str, ids: set[str] | None) -> Iterator[Any]:
    """Rows of ``sql``: all of them, or those whose ``column`` is in ``ids`` (asked in chunks)."""
    if ids is None:
        yield from connection.execute(text(f"{sql} ORDER BY {order}"))
        return
    statement = text(f"{sql} WHERE {column} IN :ids ORDER BY {order}").bindparams(bindparam("ids", expanding=True))
    for chunk in _chunks(ids):
        yield from connection.execute(statement, {"ids": chunk})


def _add_articles(graph: nx.MultiDiGraph, connection: Connection, ids: set[str] | None) -> None:
    sql = "SELECT id, title, journal, year, pmid, doi, retracted FROM article"
    for r in _select(connection, sql, "id", "id", ids):
        graph.add_node(
            r.id,
            kind="article",
            label=r.title or r.id,
            title=r.title,
            journal=r.journal,
            year=r.year,
            pmid=r.pmid,
            doi=r.doi,
            retracted=bool(r.retracted),
            in_kb=True,
        )


def _unknown_article(curie: str) -> dict[str, Any]:
    return {"kind": "article", "label": curie, "in_kb": False}


def _add_citations(graph: nx.MultiDiGraph, connection: Connection, ids: set[str] | None) -> None:
    """Add ``cites`` edges: all of them, or those between two articles of ``ids``."""
    sql = "SELECT citing_id, cited_id, source FROM citation"
    for r in _select(connection, sql, "citing_id, cited_id, source", "citing_id", ids):
        if ids is not None and r.cited_id not in ids:
            continue
        for node in (r.citing_id, r.cited_id):
            if node not in graph:
                graph.add_node(node, **_unknown_article(node))
        graph.add_edge(r.citing_id, r.cited_id, key=f"cites:{r.source}", relation="cites", source=r.source)


def _add_treats(graph: nx.MultiDiGraph, engine: Engine, scope: Scope | None) -> None:
    for row in aggregate_evidence(engine, scope, by_context=True):
        prefix = "class" if row["level"] == "class" else "intervention"
        attributes = {k: v for k, v in row.items() if k not in _TREATS_LABELS}
        attributes["context"] = row["context_id"] or ""
        graph.add_edge(
            f"{prefix}:{row['intervention_id']}",
            f"condition:{row['condition_id']}",
            key=f"treats:{row['context_id'] or ''}",
            relation="treats",
            **attributes,
        )


def _unused_vocabulary(graph: nx.MultiDiGraph, scope: Scope) -> set[str]:
    """Vocabulary nodes a scoped graph does not involve."""
    keep = {f"condition:{scope.condition_id}", f"context:{scope.context_id}"}
    keep |= {t for _, t, r in graph.edges(data="relation") if r == "about"}
    keep |= {t for s, t, r in graph.edges(data="relation") if r == "is_a" and s in keep}
    keep |= {s for s, t, r in graph.edges(data="relation") if r == "part_of" and t in keep}
    return {n for n, kind in graph.nodes(data="kind") if kind in _VOCABULARY_KINDS and n not in keep}
