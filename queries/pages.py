"""What the site's pages show, read from the KB in a few batched queries.

:class:`SiteData` holds every record the pages list, grouped in memory; the functions below
shape the data of the home, changelog and evidence-gap pages. :mod:`queries.render`
turns it into Markdown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from kb.aggregate import aggregate_evidence
from queries import api, catalog, site_topics
from queries.site_topics import ALL_TOPICS, site_identity, site_topic
from queries.terms import intervention_via

__all__ = [
    "SiteData",
    "condition_page",
    "missing",
    "records",
    "refresh_changes",
    "retraction",
    "run_additions",
    "script_json",
    "slug",
    "whats_new",
]


def slug(value: str) -> str:
    """A file-name-safe slug for an id or CURIE (``pubmed:123`` → ``pubmed-123``)."""
    return re.sub(r"[^a-z0-9.]+", "-", value.lower()).strip("-.") or "item"


def condition_page(condition_id: str, context_id: str | None) -> str:
    """Path of the page for a condition, alone or in a disease context."""
    return f"conditions/{condition_id}.md" if not context_id else f"conditions/{condition_id}--{context_id}.md"


def missing(value: object) -> bool:
    """Whether a value from a DataFrame is missing (None, NA or NaN)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts, with every missing value (NaN, NA) as None for the templates."""
    return [{k: (None if missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RECENT = 10  # articles listed as "most recently added" when no refresh has run
_NEW_LIMIT = 25  # articles listed per refresh run (the rest are counted)


@dataclass(slots=True)
class SiteData:
    """Everything the pages need, read in a few batched queries and grouped in memory.

    Rendering one page per record must not cost one query per page: at 5,000 articles that
    dominated the build. Findings are read once, converted to dicts once, and grouped by
    article, intervention and condition context as lists of positions into ``findings``
    (so every page lists them in the query API's order).
    """

    topic: dict[str, Any]
    counts: dict[str, int]
    pairs: list[dict[str, Any]]
    interventions: list[dict[str, Any]]
    classes: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    names: dict[str, str]
    titles: dict[str, str]
    by_article: dict[str, list[int]] = field(default_factory=dict)
    by_intervention: dict[str, list[int]] = field(default_factory=dict)
    by_condition: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    references: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cited_by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_context: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    render_row: Callable[[dict[str, Any]], str] = str
    rows: dict[int, str] = field(default_factory=dict)
    topic_ids: set[str] = field(default_factory=set)  # the topics the site is built for

    @classmethod
    def read(cls, engine: Engine) -> SiteData:
        interventions = catalog.interventions(db=engine)
        chosen = site_topic()
        shown = (
            {str(t["id"]) for t in site_topics.topics(db=engine)}
            if chosen == ALL_TOPICS
            else {chosen or str(catalog.topic(db=engine)["id"])}
        )
        findings = records(api.findings(db=engine))
        sources = records(catalog.article_sources(db=engine))
        # The site's topics' articles only: those gathered for them and those their findings
        # cite, never an article a file brought in for no topic or for another one.
        own = {s["article_id"] for s in sources if s["topic_id"] in shown} | {f["article_id"] for f in findings}
        articles = catalog.articles(db=engine)
        articles = articles[articles["id"].isin(own)].reset_index(drop=True)
        added = catalog.articles(added_since=_EPOCH, db=engine)
        articles["added"] = articles["id"].map(dict(zip(added["id"], added["added"], strict=True)))
        site = cls(
            topic=site_identity(db=engine),
            counts={**catalog.counts(db=engine), "articles": len(articles)},
            pairs=records(catalog.condition_contexts(db=engine)),
            interventions=records(interventions),
            classes=records(catalog.intervention_classes(db=engine)),
            articles=records(articles),
            findings=findings,
            runs=records(catalog.refresh_runs(db=engine)),
            names=dict(zip(interventions["id"], interventions["name"], strict=True)),
            titles={a: t or a for a, t in zip(articles["id"], articles["title"], strict=True)},
            topic_ids=shown,
        )
        for n, f in enumerate(findings):
            site.by_article.setdefault(f["article_id"], []).append(n)
            site.by_intervention.setdefault(f["intervention_id"], []).append(n)
            site.by_condition.setdefault((f["condition_id"], None), []).append(n)
            if f["context_id"]:
                site.by_condition.setdefault((f["condition_id"], f["context_id"]), []).append(n)
        for s in sources:
            if s["article_id"] in own:
                site.sources.setdefault(s["article_id"], []).append(s)
        for c in records(catalog.citations(db=engine)):
            site.references.setdefault(c["citing_id"], []).append(c)
            site.cited_by.setdefault(c["cited_id"], []).append(c)
        for row in aggregate_evidence(engine, by_context=True):
            site.by_context.setdefault((row["level"], row["intervention_id"]), []).append(row)
        return site

    def findings_of(self, positions: Iterable[int]) -> list[str]:
        """The findings at ``positions`` as table rows, in the query API's order.

        Each finding appears on several pages (its article, intervention, class and condition
        contexts); its row is rendered once, with :attr:`render_row`, and reused.
        """
        rows = []
        for n in sorted(set(positions)):
            row = self.rows.get(n)
            if row is None:
                row = self.rows[n] = self.render_row(self.findings[n])
            rows.append(row)
        return rows

    def covered(self, intervention_id: str | None, class_id: str | None) -> list[str]:
        """Findings about an intervention or class, as :func:`queries.findings` selects them."""
        return self.findings_of(self.covered_positions(intervention_id, class_id))

    def covered_positions(self, intervention_id: str | None, class_id: str | None) -> list[int]:
        """Positions in :attr:`findings` of the findings :meth:`covered` lists."""
        kinds = {i["id"]: (i["kind"], i["class_id"]) for i in self.interventions}
        components = [(i["id"], c) for i in self.interventions for c in i["components"]]
        via = intervention_via(kinds, components, intervention_id, class_id)
        return sorted({n for i in via for n in self.by_intervention.get(i, [])})

    def counted_positions(self, level: str, group_id: str) -> list[int]:
        """Positions of the findings an aggregate row of ``level`` counts (:mod:`kb.aggregate`):
        an intervention's own findings, or everything a class rolls up."""
        if level == "class":
            return self.covered_positions(None, group_id)
        return sorted(self.by_intervention.get(group_id, []))


def retraction(article: Mapping[str, Any]) -> str | None:
    """``retracted`` if PubMed marks the article retracted, ``notice`` if it is a retraction notice."""
    types = set(article.get("publication_types") or [])
    if article.get("retracted") or "Retracted Publication" in types:
        return "retracted"
    if "Retraction of Publication" in types:
        return "notice"
    return None


def _by_added(articles: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Articles most recently added first (then by id, so the order is stable)."""
    dated = [a for a in articles if a.get("added") is not None]
    return sorted(sorted(dated, key=lambda a: a["id"]), key=lambda a: a["added"], reverse=True)


def whats_new(site: SiteData) -> dict[str, Any]:
    """The home page's "new since the last refresh": the articles stored since the latest
    successful run started or, before any refresh, the most recently added articles."""
    successful = [r for r in site.runs if r["status"] == "success" and r["started_at"] is not None]
    if successful:
        since = max(r["started_at"] for r in successful)
        articles = _by_added(a for a in site.articles if a["added"] is not None and a["added"] >= since)
        return {"since": since, "articles": articles[:_NEW_LIMIT], "more": max(0, len(articles) - _NEW_LIMIT)}
    return {"since": None, "articles": _by_added(site.articles)[:_RECENT], "more": 0}


def run_additions(site: SiteData, run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The articles a refresh run added (first stored while it ran), most recent first."""
    start, end = run["started_at"], run["finished_at"]
    if start is None or end is None:
        return []
    # Records stored by earlier versions were stamped to the second (kb.store now keeps
    # full precision): such an article stored in the second its run started must not
    # fall before the run's start.
    start = start.replace(microsecond=0)
    return _by_added(a for a in site.articles if a["added"] is not None and start <= a["added"] <= end)


def refresh_changes(site: SiteData) -> list[dict[str, Any]]:
    """Refresh runs for the changelog, each with the articles it added (stored while it ran)."""
    runs = []
    for run in site.runs:
        added = run_additions(site, run)
        runs.append(run | {"added": added[:_NEW_LIMIT], "more": max(0, len(added) - _NEW_LIMIT)})
    return runs


def script_json(value: object) -> str:
    """JSON safe inside an HTML ``<script>`` element: ``<``, ``>`` and ``&`` as ``\\u`` escapes,
    keys sorted, so the same data gives the same bytes."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
