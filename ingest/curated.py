"""Curated records: articles and findings written by hand into a topic pack's ``curated.yaml``.

Curated findings carry a one-line summary in the curator's own words instead of an evidence
sentence (abstract text is third-party prose and is never bundled). They are stored with
``origin="curated"`` and are never overwritten by re-extraction.

``load_curated`` validates the file, resolves every intervention, condition and context
against the topic's vocabulary and returns plain records for :mod:`kb.store` to save.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.errors import IngestError
from kb.errors import KBError
from kb.models import AgeGroup, ArticleRecord, FindingRecord, Response, StudyDesign
from kb.topic import TopicPack
from kb.vocabulary import _read_yaml

CURATED_EXTRACTOR = "curated"

_CURIE = r"^(pubmed:\d+|doi:10\.\S+|local:[a-z0-9][a-z0-9_-]*)$"


class CuratedArticle(BaseModel):
    """Bibliographic facts about an article that curated findings cite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_CURIE, description="CURIE: pubmed:PMID, doi:DOI, or local:slug when neither exists.")
    pmid: str | None = Field(default=None, pattern=r"^\d+$", description="PubMed identifier (digits).")
    doi: str | None = Field(default=None, pattern=r"^10\.\S+$", description="DOI, without https://doi.org/.")
    pmcid: str | None = Field(default=None, pattern=r"^PMC\d+$", description="PubMed Central identifier.")
    title: str | None = Field(default=None, description="Title as published.")
    journal: str | None = Field(default=None, description="Journal or conference.")
    year: int | None = Field(default=None, ge=1800, le=2100, description="Year of publication.")
    authors: tuple[str, ...] = Field(default=(), description="Authors, 'Family Initials' (the first is enough).")
    publication_types: tuple[str, ...] = Field(default=(), description="PubMed publication types.")
    url: str | None = Field(default=None, description="Where the record was read, when not PubMed.")

    @model_validator(mode="after")
    def _id_matches_identifiers(self) -> CuratedArticle:
        if self.pmid and self.id != f"pubmed:{self.pmid}":
            raise ValueError(f"article with PMID {self.pmid} must have id pubmed:{self.pmid}, not {self.id}")
        if not self.pmid and self.doi and self.id != f"doi:{self.doi}":
            raise ValueError(f"article with DOI and no PMID must have id doi:{self.doi}, not {self.id}")
        return self


class CuratedFinding(BaseModel):
    """One curated treatment-response claim; see :class:`kb.models.Finding` for the fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="Stable curation key, unique within the topic.")
    article: str = Field(pattern=_CURIE, description="Id of the article (one of the articles listed).")
    intervention: str = Field(description="Intervention id, name or synonym in the topic's vocabulary.")
    condition: str = Field(description="Condition id, name or synonym in the topic's vocabulary.")
    context: str | None = Field(default=None, description="Disease context; empty when mixed or unstated.")
    route: str | None = Field(default=None, description="Route, when it distinguishes the intervention.")
    age_group: AgeGroup = Field(default="unknown", description="Who was treated.")
    n_treated: int | None = Field(default=None, ge=0, description="Patients treated, as the article counts them.")
    n_responded: int | None = Field(default=None, ge=0, description="Patients responding (at most n_treated).")
    response: Response = Field(description="The response reported (see the site's Methods page).")
    study_design: StudyDesign = Field(description="The article's design.")
    outcome: str | None = Field(default=None, description="What was measured (size, pain, ulcers, …).")
    summary: str = Field(min_length=10, description="One line, in the curator's own words.")
    adverse_events: str | None = Field(
        default=None, min_length=3, description="Adverse events or withdrawals the source reports, '; ' between events."
    )

    @model_validator(mode="after")
    def _counts_consistent(self) -> CuratedFinding:
        if self.n_responded is not None and self.n_treated is not None and self.n_responded > self.n_treated:
            raise ValueError(f"{self.key}: n_responded {self.n_responded} exceeds n_treated {self.n_treated}")
        return self


class CuratedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    articles: tuple[CuratedArticle, ...] = Field(default=(), description="Articles the curated findings cite.")
    findings: tuple[CuratedFinding, ...] = Field(default=(), description="Curated treatment-response findings.")


def load_curated(topic: TopicPack) -> tuple[list[ArticleRecord], list[FindingRecord]]:
    """Read a topic's ``curated.yaml`` into article and finding records.

    Raises:
        IngestError: the file does not validate, a finding cites an article the file does
            not define, a key repeats, or a term is not in the vocabulary.
    """
    path = topic.curated_path
    if not path.is_file():
        return _reviewed(topic, set())
    try:
        data = CuratedFile.model_validate(_read_yaml(path) or {})
    except (ValidationError, KBError) as exc:
        raise IngestError(f"{path}: invalid curated records:\n{exc}") from exc

    problems: list[str] = []
    article_ids = [a.id for a in data.articles]
    problems += [f"article {i} is defined twice" for i in _repeated(article_ids)]
    problems += [f"finding key {k} is used twice" for k in _repeated(f.key for f in data.findings)]

    articles = [_article_record(a) for a in data.articles]
    vocab = topic.vocabulary
    findings: list[FindingRecord] = []
    known_articles = set(article_ids)
    for f in data.findings:
        if f.article not in known_articles:
            problems.append(f"finding {f.key} cites {f.article}, which is not in the articles list")
            continue
        try:
            findings.append(
                FindingRecord(
                    article_id=f.article,
                    intervention_id=vocab.resolve_intervention(f.intervention),
                    condition_id=vocab.resolve_condition(f.condition),
                    context_id=vocab.resolve_context(f.context) if f.context else None,
                    route=f.route,
                    age_group=f.age_group,
                    n_treated=f.n_treated,
                    n_responded=f.n_responded,
                    response=f.response,
                    study_design=f.study_design,
                    outcome=f.outcome,
                    summary=f.summary,
                    adverse_events=f.adverse_events,
                    origin="curated",
                    extractor=CURATED_EXTRACTOR,
                    curation_key=f"{topic.id}:{f.key}",
                    topic_id=topic.id,
                )
            )
        except KBError as exc:
            problems.append(f"finding {f.key}: {exc}")
    if problems:
        raise IngestError(f"{path}: " + "; ".join(problems))
    reviewed_articles, reviewed = _reviewed(topic, known_articles)
    return articles + reviewed_articles, findings + reviewed


def _reviewed(topic: TopicPack, known: set[str]) -> tuple[list[ArticleRecord], list[FindingRecord]]:
    """The pack's accepted and corrected machine findings (``reviews.yaml``) as curated records.

    Their interventions may be general ones (from the shared resources), kept as ids; the
    evidence sentence is filled in from the KB's abstract by the pipeline, when it holds it.
    """
    from ingest.review import EDITABLE, load_reviews, summary_of

    reviews = load_reviews(topic)
    articles = [_article_record(a) for a in reviews.articles if a.id not in known]
    findings = [
        FindingRecord(
            **{n: getattr(a, n) for n in EDITABLE},
            article_id=a.article_id,
            evidence_start=a.evidence.start if a.evidence else None,
            evidence_end=a.evidence.end if a.evidence else None,
            summary=summary_of(a),
            origin="curated",
            extractor=CURATED_EXTRACTOR,
            curation_key=f"{topic.id}:{a.review_id}",
            topic_id=topic.id,
        )
        for a in reviews.accepted
    ]
    return articles, findings


def _article_record(a: BaseModel) -> ArticleRecord:
    """The article record of a curated or reviewed article's bibliographic facts."""
    fields = a.model_dump()
    return ArticleRecord.model_validate(
        {k: fields.get(k) for k in ("id", "pmid", "doi", "pmcid", "title", "journal", "year", "url")}
        | {
            "authors": list(fields.get("authors") or ()),
            "publication_types": list(fields.get("publication_types") or ()),
        }
    )


def _repeated(values: object) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for v in values:  # type: ignore[attr-defined]
        if v in seen:
            repeated.append(v)
        seen.add(v)
    return repeated
