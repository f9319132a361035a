"""The build pipeline: a topic pack (and, later, raw PubMed data) into the store.

Each step reads from the one before and writes only through :class:`kb.store.Store`, so a
build can be re-run at any time and converges on the same KB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.curated import load_curated
from kb.models import ArticleSource
from kb.store import Changes, Store
from kb.topic import TopicPack


@dataclass(slots=True)
class BuildReport:
    """What a build changed, per kind of row."""

    topic: str
    changes: dict[str, Changes] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes.values())


def build_topic(store: Store, pack: TopicPack) -> BuildReport:
    """Load a topic pack into the store: settings, vocabulary, curated articles and findings.

    Curated bibliographic data only fills fields PubMed has not already filled; curated
    findings are synchronised with the pack (a finding removed from the pack is removed
    from the KB). Extracted findings are left alone.

    Raises:
        IngestError: the pack's curated records are invalid.
        StoreError: the database rejects a write.
    """
    articles, findings = load_curated(pack)
    report = BuildReport(topic=pack.id)
    report.changes["vocabulary"] = store.save_topic(pack)
    report.changes["articles"] = store.save_articles(articles, fill_only=True)
    article_ids = {a.id for a in articles}
    sources = [ArticleSource(article_id=a.id, topic_id=pack.id, kind="curated", detail="") for a in articles]
    sources += [
        ArticleSource(article_id=f"pubmed:{pmid}", topic_id=pack.id, kind="seed", detail="")
        for pmid in pack.spec.seeds
        if f"pubmed:{pmid}" in article_ids
    ]
    report.changes["sources"] = store.save_article_sources(sources)
    report.changes["findings"] = store.save_curated_findings(pack.id, findings)
    return report
