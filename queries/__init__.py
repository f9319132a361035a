"""Read-only Python API over the knowledge base; every query returns a pandas DataFrame.

>>> import queries
>>> queries.treatments_for("calcinosis", context="systemic sclerosis")  # doctest: +SKIP
>>> queries.findings(intervention="diltiazem")                           # doctest: +SKIP

The KB is read from ``KB_DATABASE_URL`` (default ``kb.sqlite`` in the working directory);
every function also takes ``db=`` (a URL or an engine).
"""

from queries.api import UNSPECIFIED, aggregate, findings, treatments_for
from queries.catalog import (
    article_sources,
    articles,
    citations,
    condition_contexts,
    counts,
    intervention_classes,
    interventions,
    topic,
)
from queries.db import connect

__all__ = [
    "UNSPECIFIED",
    "aggregate",
    "article_sources",
    "articles",
    "citations",
    "condition_contexts",
    "connect",
    "counts",
    "findings",
    "intervention_classes",
    "interventions",
    "topic",
    "treatments_for",
]
