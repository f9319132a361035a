"""The build pipeline: a topic pack (and, later, raw PubMed data) into the store.

Each step reads from the one before and writes only through :class:`kb.store.Store`, so a
build can be re-run at any time and converges on the same KB.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from ingest.curated import load_curated
from ingest.extraction.corpus import Labeller
from ingest.extraction.lexicon import Lexicon, topic_lexicon
from ingest.extraction.resources import split_route
from ingest.extraction.text import ArticleText
from ingest.extractors import DEFAULT_EXTRACTOR, Extraction, Extractor, get
from kb.models import Article, ArticleSource, FindingRecord, ReviewDecision
from kb.store import Changes, Store
from kb.topic import TopicPack
from kb.vocabulary import InterventionSpec, Vocabulary


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
    from the KB). Then the extractor runs (:func:`extract_findings`) and, last, the evidence
    summary is brought up to date (:meth:`kb.store.Store.refresh_summary`; a no-op if nothing changed).

    Raises:
        IngestError: the pack's curated records are invalid.
        StoreError: the database rejects a write.
    """
    report = sync_pack(store, pack)
    report.changes["extracted"] = extract_findings(store, pack)
    store.refresh_summary()
    return report


def sync_pack(store: Store, pack: TopicPack) -> BuildReport:
    """Bring the store in line with a topic pack, without running the extractor.

    Saves the topic's settings and vocabulary, its curated articles (filling only fields
    PubMed has not filled) and its curated findings.

    Raises:
        IngestError: the pack's curated records are invalid.
        StoreError: the database rejects a write.
    """
    articles, findings = load_curated(pack)
    report = BuildReport(topic=pack.id)
    report.changes["vocabulary"] = store.save_topic(pack)
    reviewed = [f for f in findings if f.evidence_start is not None or f.intervention_id not in _pack_ids(pack)]
    if reviewed:
        lexicon = topic_lexicon(pack)
        combos = _reviewed_combinations(pack, lexicon)
        used = {f.intervention_id for f in reviewed} - {c.id for c in combos}
        used |= {part for c in combos for part in c.components}
        general = _vocabulary_for(lexicon, pack, used, combos)
        if general is not None:
            report.changes["vocabulary"] += store.save_vocabulary(general)
    report.changes["articles"] = store.save_articles(articles, fill_only=True)
    _fill_evidence(store, pack, findings)
    article_ids = {a.id for a in articles}
    sources = [ArticleSource(article_id=a.id, topic_id=pack.id, kind="curated", detail="") for a in articles]
    sources += [
        ArticleSource(article_id=f"pubmed:{pmid}", topic_id=pack.id, kind="seed", detail="")
        for pmid in pack.spec.seeds
        if f"pubmed:{pmid}" in article_ids
    ]
    report.changes["sources"] = store.save_article_sources(sources)
    report.changes["findings"] = store.save_curated_findings(pack.id, findings)
    report.changes["reviews"] = store.save_review_decisions(pack.id, _decisions(pack))
    return report


def _decisions(pack: TopicPack) -> list[ReviewDecision]:
    from ingest.review import load_reviews

    reviews = load_reviews(pack)
    rows = [
        ReviewDecision(
            topic_id=pack.id,
            review_id=a.review_id,
            decision=a.decision,
            corrected=list(a.corrected),
            reviewer=a.reviewer,
            reviewed_on=a.reviewed_on,
        )
        for a in reviews.accepted
    ]
    rows += [
        ReviewDecision(
            topic_id=pack.id,
            review_id=r.review_id,
            decision="reject",
            reviewer=r.reviewer,
            reviewed_on=r.reviewed_on,
            reason=r.reason,
        )
        for r in reviews.rejected
    ]
    return rows


def _reviewed_combinations(pack: TopicPack, lexicon: Lexicon) -> list[InterventionSpec]:
    """Combinations that reviewed findings name and no vocabulary defines (made by the extractor).

    Raises:
        IngestError: a reviewed finding names an intervention nothing defines.
    """
    from ingest.errors import IngestError
    from ingest.review import load_reviews

    found: dict[str, InterventionSpec] = {}
    for a in load_reviews(pack).accepted:
        try:
            lexicon.intervention(a.intervention_id)
            continue
        except KeyError:
            pass
        if len(a.components) < 2:
            raise IngestError(
                f"{pack.path / 'reviews.yaml'}: accepted finding {a.review_id} names intervention "
                f"{a.intervention_id!r}, which no vocabulary defines: add it to vocabulary.yaml"
            )
        names = " + ".join(lexicon.intervention(c).name for c in a.components)
        found[a.intervention_id] = InterventionSpec(
            id=a.intervention_id, name=names, kind="combination", components=a.components
        )
    return list(found.values())


def _pack_ids(pack: TopicPack) -> set[str]:
    return {i.id for i in pack.vocabulary.interventions}


def _fill_evidence(store: Store, pack: TopicPack, findings: list[FindingRecord]) -> None:
    """Give reviewed findings their evidence sentence, read from the KB's abstract when its hash
    matches the one the pack recorded (the pack never holds the text)."""
    from ingest.review import load_reviews

    spans = {f"{pack.id}:{a.review_id}": a.evidence for a in load_reviews(pack).accepted if a.evidence}
    wanted = [f for f in findings if f.curation_key in spans]
    if not wanted:
        return
    abstracts = store.abstracts({f.article_id for f in wanted})
    for finding in wanted:
        span = spans[finding.curation_key or ""]
        assert span is not None
        finding.evidence = span.sentence_in(abstracts.get(finding.article_id))


def extract_findings(
    store: Store,
    pack: TopicPack,
    extractor_name: str = DEFAULT_EXTRACTOR,
    *,
    article_ids: Collection[str] | None = None,
) -> Changes:
    """Run an extractor on every article of the topic that has an abstract.

    ``article_ids`` limits the run to those articles (the refresh job re-extracts only what
    it fetched); articles outside the topic are skipped either way.

    Each article's findings from this extractor version are replaced by the new ones, so
    re-running converges; findings of an earlier version of the same extractor are replaced
    too, and curated findings are never touched. A
    combination the vocabulary lacks ("a + b" given together) is added as a combination
    intervention before its findings are stored. The evidence summary is left to the caller
    (:meth:`kb.store.Store.refresh_summary`, once its whole job is done).

    Raises:
        IngestError: no extractor has that name.
        StoreError: the database rejects a write.
    """
    extraction = TopicExtraction.prepare(pack, extractor_name)
    rows = _articles_to_extract(store, pack.id, article_ids)
    per_article: dict[str, list[FindingRecord]] = {}
    for article_id, title, abstract, publication_types, mesh in rows:
        article = ArticleText(
            article_id, title or "", abstract or "", tuple(publication_types or ()), tuple(mesh or ())
        )
        per_article[article_id] = extraction.findings(article)
    changes = Changes()
    needed = extraction.vocabulary_needed()
    if needed is not None:
        changes += store.save_vocabulary(needed)
    changes += store.replace_extracted_findings_of(per_article, extraction.name, extraction.version, topic_id=pack.id)
    return changes


@dataclass(slots=True)
class TopicExtraction:
    """One extractor prepared for one topic: findings from articles, with no I/O.

    It remembers the interventions its findings used and the combinations it had to name,
    so that :meth:`vocabulary_needed` gives the entries to save before the findings.
    """

    pack: TopicPack
    extractor: Extractor
    lexicon: Lexicon
    labeller: Labeller
    used: set[str] = field(default_factory=set)
    combinations: dict[str, InterventionSpec] = field(default_factory=dict)
    #: Review identities a person decided on (accepted, corrected or rejected): never extracted again.
    decided: frozenset[str] = frozenset()

    @classmethod
    def prepare(cls, pack: TopicPack, extractor_name: str = DEFAULT_EXTRACTOR) -> TopicExtraction:
        """The extractor ``extractor_name`` with the topic's lexicon.

        Raises:
            IngestError: no extractor has that name.
        """
        from ingest.review import decided_ids

        extractor = get(extractor_name)
        lexicon = topic_lexicon(pack)
        return cls(pack, extractor, lexicon, Labeller(pack, lexicon), decided=frozenset(decided_ids(pack)))

    @property
    def name(self) -> str:
        return self.extractor.name

    @property
    def version(self) -> str:
        return self.extractor.version

    def findings(self, article: ArticleText) -> list[FindingRecord]:
        """The findings the extractor makes from one article, as records to store."""
        from ingest.review import review_id_of

        records = []
        for extraction in self.extractor(article, self.lexicon):
            named: dict[str, InterventionSpec] = {}  # a combination this finding would name
            intervention = _intervention_id(extraction, self.labeller, named)
            record = _record(article, extraction, intervention, self.pack, self.name, self.version)
            if self.decided and review_id_of(record) in self.decided:
                continue  # a person's decision stands over the machine's (and names nothing)
            self.used.update(extraction.interventions)
            for key, spec in named.items():
                self.combinations.setdefault(key, spec)
            records.append(record)
        return records

    def vocabulary_needed(self) -> Vocabulary | None:
        """What the findings made so far need that the pack does not hold (None: nothing)."""
        return _vocabulary_for(self.lexicon, self.pack, self.used, self.combinations.values())


def _vocabulary_for(
    lexicon: Lexicon, pack: TopicPack, used: set[str], combinations: Iterable[InterventionSpec]
) -> Vocabulary | None:
    """The entries findings need that the pack does not hold: general interventions (drugs
    from the dictionary, procedures, route variants, unmapped names), their classes, and new
    combinations. None when the pack holds them all."""
    have = {i.id for i in pack.vocabulary.interventions}
    interventions = {i: lexicon.intervention(i) for i in sorted(used - have)}
    interventions.update((c.id, c) for c in combinations if c.id not in have)
    if not interventions:
        return None
    known_classes = {c.id for c in pack.vocabulary.classes}
    classes = {c.id: c for c in lexicon.vocabulary.classes}
    wanted = sorted({i.class_id for i in interventions.values() if i.class_id and i.class_id not in known_classes})
    return Vocabulary.model_construct(
        classes=tuple(classes[c] for c in wanted), interventions=tuple(interventions.values())
    )


def _articles_to_extract(store: Store, topic_id: str, article_ids: Collection[str] | None) -> list[Any]:
    """(id, title, abstract, publication types, MeSH) of the topic's articles with an abstract."""
    query = (
        select(
            col(Article.id),
            col(Article.title),
            col(Article.abstract),
            col(Article.publication_types),
            col(Article.mesh_terms),
        )
        .where(
            col(Article.id).in_(select(col(ArticleSource.article_id)).where(col(ArticleSource.topic_id) == topic_id)),
            col(Article.abstract).is_not(None),
        )
        .order_by(col(Article.id))
    )
    if article_ids is None:
        with store.session() as session:
            return list(session.execute(query).all())
    rows: list[Any] = []
    wanted = sorted(set(article_ids))
    with store.session() as session:
        for start in range(0, len(wanted), 500):
            rows.extend(session.execute(query.where(col(Article.id).in_(wanted[start : start + 500]))).all())
    return sorted(rows, key=lambda r: r[0])


def _intervention_id(extraction: Extraction, labeller: Labeller, new: dict[str, InterventionSpec]) -> str:
    ids = extraction.interventions
    if len(ids) == 1:
        return ids[0]
    known = labeller.combination_id(ids)
    if known:
        return known
    combination_id = "-".join(sorted(ids))
    new.setdefault(
        combination_id,
        InterventionSpec(
            id=combination_id, name=labeller.drug_norm(ids), kind="combination", components=tuple(sorted(ids))
        ),
    )
    return combination_id


def _record(
    article: ArticleText, extraction: Extraction, intervention: str, pack: TopicPack, name: str, version: str
) -> FindingRecord:
    return FindingRecord(
        article_id=article.id,
        intervention_id=intervention,
        condition_id=extraction.condition_id,
        context_id=extraction.context_id,
        route=_route(intervention),
        age_group=extraction.age_group,
        outcome=extraction.outcome,
        adverse_events=extraction.adverse_events,
        n_treated=extraction.n_treated,
        n_responded=extraction.n_responded,
        response=extraction.response,
        study_design=extraction.study_design,
        intervention_text=extraction.intervention_text or None,
        evidence=article.abstract[extraction.start : extraction.end],
        evidence_start=extraction.start,
        evidence_end=extraction.end,
        confidence=extraction.confidence,
        origin="extracted",
        extractor=name,
        extractor_version=version,
        topic_id=pack.id,
    )


def _route(intervention_id: str) -> str | None:
    """The route of a route variant ("infliximab--intralesional"), else None."""
    return split_route(intervention_id)[1]
