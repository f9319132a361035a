"""Read-only Python API over the knowledge base: pandas DataFrames and networkx graphs.

>>> import queries
>>> queries.treatments_for("calcinosis", context="systemic sclerosis")  # doctest: +SKIP
>>> queries.findings(intervention="diltiazem")                           # doctest: +SKIP
>>> queries.compare("diltiazem", "bisphosphonates", condition="calcinosis")  # doctest: +SKIP

The KB is read from ``KB_DATABASE_URL`` (default ``kb.sqlite`` in the working directory);
every function also takes ``db=`` (a URL or an engine). Every public name is listed, with
its signature and documentation, on the site's Python API page.
"""

from queries.api import UNSPECIFIED, aggregate, compare, findings, new_since, treatments_for
from queries.catalog import (
    article_sources,
    articles,
    citations,
    condition_contexts,
    counts,
    intervention_classes,
    interventions,
    refresh_runs,
    topic,
)
from queries.db import connect
from queries.export import write_exports
from queries.gaps import gaps
from queries.graphs import citation_neighbourhood, evidence_for, evidence_graph, treatment_graph

__all__ = [
    "UNSPECIFIED",
    "aggregate",
    "article_sources",
    "articles",
    "citation_neighbourhood",
    "citations",
    "compare",
    "condition_contexts",
    "connect",
    "counts",
    "evidence_for",
    "evidence_graph",
    "findings",
    "gaps",
    "intervention_classes",
    "interventions",
    "new_since",
    "refresh_runs",
    "topic",
    "treatment_graph",
    "treatments_for",
    "write_exports",
]
