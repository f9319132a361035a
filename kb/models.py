"""The knowledge base's tables and the records that feed them.

Each table has a ``*Record`` base model holding the validated fields that callers supply, and
a ``table=True`` subclass adding what only the store sets (timestamps, hashes). Every field
carries a description: the site's data dictionary is generated from them.

Identifiers: articles are CURIEs (``pubmed:38535057``, ``doi:10.…``, ``local:slug`` for a
source with neither); vocabulary rows (interventions, classes, conditions, contexts) are
lower-case slugs from the topic pack; findings are ``finding:`` plus 16 hex digits of their
content hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

Response = Literal["complete", "partial", "improved", "none", "worsened", "mixed", "unclear"]
StudyDesign = Literal[
    "rct",
    "prospective_cohort",
    "retrospective_cohort",
    "case_series",
    "case_report",
    "systematic_review",
    "review",
    "other",
]
AgeGroup = Literal["adults", "children", "mixed", "unknown"]
Origin = Literal["extracted", "curated"]
InterventionKind = Literal["drug", "procedure", "combination", "class"]
SourceKind = Literal["seed", "query", "references", "cited_by", "curated", "file"]
CitationSource = Literal["reference_list", "pubmed_pubmed_refs", "pubmed_pubmed_citedin", "curated"]

RESPONSES: tuple[str, ...] = get_args(Response)
STUDY_DESIGNS: tuple[str, ...] = get_args(StudyDesign)


# -- topic ---------------------------------------------------------------------------------


class TopicRecord(SQLModel):
    id: str = Field(primary_key=True, description="Topic identifier, e.g. calcinosis.")
    title: str = Field(description="Title of the published site.")
    question: str = Field(description="The clinical question the topic answers.")
    description: str = Field(description="Scope of the topic.")
    condition_id: str = Field(description="The topic's main condition.")
    seeds: list[str] = Field(default_factory=list, sa_type=JSON, description="Seed PMIDs.")
    queries: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=JSON, description="Saved PubMed queries (name, term, since)."
    )


class Topic(TopicRecord, table=True):
    """A topic served by this knowledge base (loaded from its topic pack)."""


# -- vocabulary ----------------------------------------------------------------------------


class InterventionClassRecord(SQLModel):
    id: str = Field(primary_key=True, description="Class slug, e.g. calcium-channel-blocker.")
    name: str = Field(description="Display name, e.g. calcium channel blocker.")
    atc: str | None = Field(default=None, description="ATC code of the class, where one exists.")
    mesh: str | None = Field(default=None, description="MeSH descriptor UI, where one exists.")
    synonyms: list[str] = Field(default_factory=list, sa_type=JSON, description="Other names and abbreviations.")
    description: str | None = Field(default=None, description="One line shown on the site.")


class InterventionClass(InterventionClassRecord, table=True):
    """A pharmacological or procedural class of interventions."""

    __tablename__ = "intervention_class"


class InterventionRecord(SQLModel):
    id: str = Field(primary_key=True, description="Intervention slug, e.g. diltiazem or diltiazem-pamidronate.")
    name: str = Field(description="Normalised name: lower-case generic or procedure name; combinations as 'a + b'.")
    kind: str = Field(description="drug, procedure, combination, or class (a class named as a treatment).")
    class_id: str | None = Field(
        default=None, foreign_key="intervention_class.id", index=True, description="The intervention's class."
    )
    atc: str | None = Field(default=None, description="ATC code, where one exists.")
    mesh: str | None = Field(default=None, description="MeSH descriptor UI, where one exists.")
    synonyms: list[str] = Field(
        default_factory=list, sa_type=JSON, description="Synonyms, brand names and abbreviations."
    )
    description: str | None = Field(default=None, description="One line shown on the site.")


class Intervention(InterventionRecord, table=True):
    """A drug, a procedure, a combination, or a class named as a treatment."""


class InterventionComponent(SQLModel, table=True):
    """A component of a combination intervention."""

    __tablename__ = "intervention_component"

    combination_id: str = Field(primary_key=True, foreign_key="intervention.id", description="The combination.")
    component_id: str = Field(
        primary_key=True, foreign_key="intervention.id", index=True, description="One of its components."
    )
    position: int = Field(description="Order of the component within the combination's name.")


class ConditionRecord(SQLModel):
    id: str = Field(primary_key=True, description="Condition slug, e.g. calcinosis.")
    name: str = Field(description="Display name.")
    mesh: str | None = Field(default=None, description="MeSH descriptor UI, where one exists.")
    synonyms: list[str] = Field(default_factory=list, sa_type=JSON, description="Other names and abbreviations.")
    description: str | None = Field(default=None, description="One line shown on the site.")


class Condition(ConditionRecord, table=True):
    """A condition being treated (calcinosis, calciphylaxis, tumoral calcinosis)."""


class DiseaseContextRecord(SQLModel):
    id: str = Field(primary_key=True, description="Context slug, e.g. systemic-sclerosis.")
    name: str = Field(description="Display name.")
    parent_id: str | None = Field(default=None, description="A broader context, if any.")
    mesh: str | None = Field(default=None, description="MeSH descriptor UI, where one exists.")
    synonyms: list[str] = Field(default_factory=list, sa_type=JSON, description="Other names and abbreviations.")
    description: str | None = Field(default=None, description="One line shown on the site.")


class DiseaseContext(DiseaseContextRecord, table=True):
    """The disease in which a condition occurs (systemic sclerosis, dermatomyositis, …)."""

    __tablename__ = "disease_context"


class ConditionContext(SQLModel, table=True):
    """A (condition, disease context) pair the topic reports on; each gets a page."""

    __tablename__ = "condition_context"

    condition_id: str = Field(primary_key=True, foreign_key="condition.id", description="The condition.")
    context_id: str = Field(primary_key=True, foreign_key="disease_context.id", description="The disease context.")


# -- literature ----------------------------------------------------------------------------


class ArticleRecord(SQLModel):
    id: str = Field(primary_key=True, description="CURIE: pubmed:PMID, doi:DOI, or local:slug.")
    pmid: str | None = Field(default=None, index=True, description="PubMed identifier.")
    doi: str | None = Field(default=None, index=True, description="Digital Object Identifier.")
    pmcid: str | None = Field(default=None, description="PubMed Central identifier (PMC…).")
    title: str | None = Field(default=None, description="Article title, as plain text.")
    journal: str | None = Field(default=None, description="Journal or conference name.")
    year: int | None = Field(default=None, index=True, description="Publication year.")
    authors: list[str] = Field(default_factory=list, sa_type=JSON, description="Authors, 'Family Initials'.")
    abstract: str | None = Field(default=None, description="Abstract text (from PubMed; never bundled).")
    language: str | None = Field(default=None, description="Language code from PubMed (eng, fre, …).")
    publication_types: list[str] = Field(
        default_factory=list, sa_type=JSON, description="PubMed publication types (Case Reports, Review, …)."
    )
    mesh_terms: list[str] = Field(default_factory=list, sa_type=JSON, description="MeSH descriptor names.")
    url: str | None = Field(default=None, description="Where the record was read, when not PubMed.")
    retracted: bool = Field(default=False, description="PubMed marks the article as retracted.")
    notices: list[str] = Field(
        default_factory=list,
        sa_type=JSON,
        description="PubMed notices about the article: retractions, errata, expressions of concern, "
        "republications and updates, each as 'RefType pubmed:PMID' (e.g. 'ErratumIn pubmed:123').",
    )


class Article(ArticleRecord, table=True):
    """A published article (journal paper, conference abstract, review)."""

    created_at: datetime | None = Field(default=None, index=True, description="When the article entered the KB (UTC).")
    updated_at: datetime | None = Field(default=None, description="When its stored fields last changed (UTC).")


class ArticleSource(SQLModel, table=True):
    """How an article entered the knowledge base; an article may have several."""

    __tablename__ = "article_source"

    article_id: str = Field(primary_key=True, foreign_key="article.id", description="The article.")
    topic_id: str = Field(primary_key=True, description="The topic it was gathered for.")
    kind: str = Field(primary_key=True, description="seed, query, references, cited_by, curated, or file.")
    detail: str = Field(
        primary_key=True,
        default="",
        description="The saved query's name, the article whose references or citers led here, or the file.",
    )
    depth: int = Field(default=0, description="Citation hops from a seed or query result.")
    first_seen: datetime | None = Field(default=None, description="When this route was first recorded (UTC).")
    rule: str | None = Field(
        default=None,
        description="For a file read for a topic: the part of the topic's relevance rule that admitted the "
        "article, e.g. mesh:D002114 or text:calcinosis.",
    )


class Citation(SQLModel, table=True):
    """One article citing another, and how that is known."""

    citing_id: str = Field(primary_key=True, description="CURIE of the citing article.")
    cited_id: str = Field(primary_key=True, index=True, description="CURIE of the cited article.")
    source: str = Field(
        primary_key=True,
        description="reference_list, pubmed_pubmed_refs, pubmed_pubmed_citedin, or curated.",
    )


class MissingRecord(SQLModel, table=True):
    """An identifier NCBI was asked for and did not return (deleted, merged or unknown).

    Recorded instead of retried forever; a later fetch that returns it removes the row.
    """

    __tablename__ = "missing_record"

    id: str = Field(primary_key=True, description="CURIE that was asked for, e.g. pubmed:123.")
    reason: str = Field(description="not_returned (EFetch gave nothing), deleted (DeleteCitation), or no_links.")
    detail: str = Field(default="", description="Which request or file reported it.")
    first_seen: datetime | None = Field(default=None, description="When it was first found missing (UTC).")


# -- findings ------------------------------------------------------------------------------

#: Fields that define a finding's content; the content hash is taken over exactly these.
FINDING_CONTENT_FIELDS: tuple[str, ...] = (
    "article_id",
    "intervention_id",
    "condition_id",
    "context_id",
    "route",
    "age_group",
    "n_treated",
    "n_responded",
    "response",
    "study_design",
    "outcome",
    "intervention_text",
    "condition_text",
    "evidence",
    "evidence_start",
    "evidence_end",
    "summary",
    "origin",
    "extractor",
    "extractor_version",
    "curation_key",
    "adverse_events",
)

#: Content fields added after findings were first stored: left out of the hash while None,
#: so a finding without them keeps the id it was stored under.
_HASHED_WHEN_SET: frozenset[str] = frozenset({"adverse_events"})


class FindingRecord(SQLModel):
    article_id: str = Field(foreign_key="article.id", index=True, description="The article reporting the finding.")
    intervention_id: str = Field(foreign_key="intervention.id", index=True, description="The intervention given.")
    condition_id: str = Field(foreign_key="condition.id", index=True, description="The condition treated.")
    context_id: str | None = Field(
        default=None,
        foreign_key="disease_context.id",
        index=True,
        description="The disease context; empty when mixed or unspecified.",
    )
    route: str | None = Field(default=None, description="Route when it distinguishes the intervention (topical, …).")
    age_group: str = Field(default="unknown", description="adults, children, mixed, or unknown.")
    n_treated: int | None = Field(default=None, description="Patients treated, when the source states a count.")
    n_responded: int | None = Field(default=None, description="Patients responding, when the source states a count.")
    response: str = Field(description="complete, partial, improved, none, worsened, mixed, or unclear.")
    study_design: str = Field(
        description="rct, prospective_cohort, retrospective_cohort, case_series, case_report, "
        "systematic_review, review, or other."
    )
    outcome: str | None = Field(default=None, description="What was measured (size, symptoms, ulcers, …).")
    intervention_text: str | None = Field(default=None, description="The intervention as written in the source.")
    condition_text: str | None = Field(default=None, description="The condition as written in the source.")
    evidence: str | None = Field(default=None, description="The sentence the finding was extracted from.")
    evidence_start: int | None = Field(default=None, description="Character offset of the sentence in the abstract.")
    evidence_end: int | None = Field(default=None, description="Character offset just past the sentence.")
    summary: str | None = Field(default=None, description="A curator's one-line summary (curated findings).")
    confidence: float | None = Field(default=None, description="Extractor confidence between 0 and 1.")
    origin: str = Field(description="extracted or curated; curated findings are never overwritten by extraction.")
    extractor: str | None = Field(default=None, description="Extractor name ('curated' for curated findings).")
    extractor_version: str | None = Field(default=None, description="Extractor version.")
    curation_key: str | None = Field(default=None, description="Stable key of a curated finding: topic:key.")
    topic_id: str | None = Field(default=None, description="Topic whose pack curated the finding.")
    adverse_events: str | None = Field(
        default=None,
        description="Adverse events or withdrawals the source reports for this treatment, as written; "
        "'; ' between events.",
    )

    def compute_hash(self) -> str:
        """SHA-256 over the content fields, stable across runs and databases.

        A field of :data:`_HASHED_WHEN_SET` counts only when it is set, so findings stored
        before it existed keep their hashes (and ids).
        """
        payload = {
            name: getattr(self, name)
            for name in FINDING_CONTENT_FIELDS
            if name not in _HASHED_WHEN_SET or getattr(self, name) is not None
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Finding(FindingRecord, table=True):
    """One claim, from one source, about one intervention in one population."""

    __table_args__ = (
        UniqueConstraint("content_hash", name="uq_finding_content_hash"),
        Index("ix_finding_origin_extractor", "article_id", "origin", "extractor", "extractor_version"),
        # Aggregation (kb.aggregate) reads one condition and context in (intervention, article)
        # order from this index alone, without visiting the table's rows.
        Index(
            "ix_finding_condition_context",
            "condition_id",
            "context_id",
            "intervention_id",
            "article_id",
            "study_design",
            "response",
            "n_treated",
            "n_responded",
        ),
    )

    id: str = Field(primary_key=True, description="finding: plus the first 16 hex digits of the content hash.")
    content_hash: str = Field(description="SHA-256 of the content fields; saving the same finding twice is a no-op.")
    created_at: datetime | None = Field(
        default=None, index=True, description="When the finding was first stored (UTC)."
    )


def finding_id(content_hash: str) -> str:
    """The finding id for a content hash."""
    return f"finding:{content_hash[:16]}"


# -- precomputed aggregates ----------------------------------------------------------------

#: ``EvidenceSummary.context_key`` of a row covering every context of its condition.
ALL_CONTEXTS = "*"
#: ``EvidenceSummary.context_key`` of a row covering findings with no (or a mixed) context.
NO_CONTEXT = ""


class KBState(SQLModel, table=True):
    """The KB's revision: a counter the store moves in every transaction that changes rows.

    Derived tables (:class:`EvidenceSummary`) record the revision they were computed at and
    are used only while it is still the current one; otherwise readers compute live.
    """

    __tablename__ = "kb_state"

    id: int = Field(default=1, primary_key=True, description="Always 1: the table holds one row.")
    revision: int = Field(default=0, description="Moves by one with every committed change to the KB.")
    summary_revision: int | None = Field(
        default=None, description="The revision evidence_summary was computed at (None: never computed)."
    )
    summary_built_at: datetime | None = Field(default=None, description="When evidence_summary was computed (UTC).")


class EvidenceSummary(SQLModel, table=True):
    """Counts behind one aggregate row, precomputed per condition and context.

    One row per (intervention or class, condition, context), and per (intervention or class,
    condition) over all its contexts (``context_key`` ``*``): studies cannot be summed across
    contexts, since one article may report several. Names, rates, intervals and flags are
    derived from these counts when read (:mod:`kb.aggregate`).
    """

    __tablename__ = "evidence_summary"

    condition_id: str = Field(primary_key=True, description="Condition the findings are about.")
    context_key: str = Field(
        primary_key=True, description="Disease context id; '' for an unspecified context, '*' for all contexts."
    )
    level: str = Field(primary_key=True, description="intervention or class.")
    group_id: str = Field(primary_key=True, description="Intervention or intervention class id.")
    studies: int = Field(description="Distinct articles with findings.")
    findings: int = Field(description="Findings counted.")
    dir_supporting: int = Field(description="Findings with a supporting response.")
    dir_mixed: int = Field(description="Findings with a mixed response.")
    dir_null: int = Field(description="Findings with no response.")
    dir_harmful: int = Field(description="Findings where the condition worsened.")
    dir_unclear: int = Field(description="Findings with an unclear response.")
    design_rank: int | None = Field(default=None, description="Rank of the best study design (kb.evidence).")
    primary_rank: int | None = Field(
        default=None, description="Rank of the best design among primary studies (reviews left out)."
    )
    patients: int | None = Field(default=None, description="Patients treated in primary studies.")
    evaluable: int | None = Field(default=None, description="Patients treated where responders are counted.")
    responders: int | None = Field(default=None, description="Responders among the evaluable patients.")
    latest_year: int | None = Field(default=None, description="Most recent publication year.")


# -- scheduled refresh ---------------------------------------------------------------------

RunStatus = Literal["running", "success", "nothing_new", "partial", "failed"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)


class RefreshWatermark(SQLModel, table=True):
    """How far a saved query has been searched: the last day of its last fully successful window.

    One row per (topic, saved query, date type). ``datetype`` is ``edat`` (entry date) or
    ``mdat`` (modification date); the row with query ``""`` and date type ``citedin`` records
    the last complete re-check of the topic's cited-by links.
    """

    __tablename__ = "refresh_watermark"

    topic_id: str = Field(primary_key=True, description="The topic the saved query belongs to.")
    query: str = Field(primary_key=True, description="The saved query's name ('' for topic-wide checks).")
    datetype: str = Field(primary_key=True, description="edat, mdat, or citedin (the cited-by re-check).")
    watermark: date = Field(description="Last day (inclusive) of the last window that succeeded as a whole.")
    updated_at: datetime | None = Field(default=None, description="When the watermark last moved (UTC).")


class RefreshRun(SQLModel, table=True):
    """One run of ``kb refresh``: when, what it searched, what it changed, how it ended.

    The site's changelog reads this table with plain SQL: ``windows`` is JSON text, a list of
    objects with keys ``query``, ``datetype``, ``mindate``, ``maxdate``, ``status`` and ``found``.
    """

    __tablename__ = "refresh_run"

    id: int | None = Field(default=None, primary_key=True, description="Run number (autoincrement).")
    topic_id: str = Field(index=True, description="The topic refreshed.")
    started_at: datetime = Field(description="When the run started (UTC).")
    finished_at: datetime | None = Field(default=None, description="When the run ended (UTC); empty while running.")
    status: str = Field(description="running, success, nothing_new, partial, or failed.")
    windows: str = Field(default="[]", description="JSON text: the date windows searched and how each ended.")
    requests: int = Field(default=0, description="E-utilities requests sent (retries included).")
    articles_new: int = Field(default=0, description="Articles added to the KB.")
    articles_updated: int = Field(default=0, description="Stored articles whose fields changed.")
    articles_deleted: int = Field(default=0, description="Articles removed because PubMed deleted them.")
    articles_retracted: int = Field(default=0, description="Articles newly marked as retracted.")
    findings_added: int = Field(default=0, description="Extracted findings added.")
    findings_changed: int = Field(default=0, description="Findings updated in place.")
    findings_removed: int = Field(default=0, description="Extracted findings removed (re-extraction or deletion).")
    message: str | None = Field(default=None, description="What went wrong, or a one-line summary.")


class RefreshLock(SQLModel, table=True):
    """The refresh lock: at most one row per name; whoever inserted it owns the KB's refresh.

    A holder refreshes ``heartbeat_at`` while it runs; a row whose heartbeat is old, or whose
    process is gone from the same host, is stale and may be taken over (see :mod:`kb.lock`).
    """

    __tablename__ = "refresh_lock"

    name: str = Field(primary_key=True, description="What is locked ('refresh': one refresh per KB at a time).")
    owner: str = Field(description="Random token of the holder; every update is conditional on it.")
    topic_id: str = Field(description="The topic the holder is refreshing.")
    host: str = Field(description="Host name of the holder.")
    pid: int = Field(description="Process id of the holder on that host.")
    acquired_at: datetime = Field(description="When the holder took the lock (UTC).")
    heartbeat_at: datetime = Field(description="When the holder last said it is alive (UTC).")


# -- PubMed bulk files ---------------------------------------------------------------------


class AppliedFile(SQLModel, table=True):
    """A PubMed baseline or update file ``kb ingest`` has applied, for one topic (or none).

    A rerun skips a file already applied for the same topic with the same checksum; update
    files are applied in the order of their numbers (``pubmed26n1335`` after ``pubmed26n1334``).
    """

    __tablename__ = "applied_file"

    name: str = Field(primary_key=True, description="The file's name, e.g. pubmed26n1335.xml.gz.")
    topic_id: str = Field(primary_key=True, description="The topic it was read for ('' for none).")
    series: str = Field(default="", index=True, description="NCBI's series of the name, e.g. pubmed26; '' if none.")
    number: int | None = Field(default=None, description="The file's number in its series, e.g. 1335.")
    sha256: str = Field(description="SHA-256 of the file's bytes as applied.")
    size: int = Field(description="The file's size in bytes.")
    records: int = Field(default=0, description="Records read (articles and deletions).")
    relevant: int = Field(default=0, description="Articles relevant to the topic (every article with no topic).")
    stored: int = Field(default=0, description="Articles added or changed in the KB.")
    findings: int = Field(default=0, description="Findings extracted from its relevant articles.")
    deleted: int = Field(default=0, description="Articles its DeleteCitation entries removed.")
    refused: int = Field(default=0, description="Records refused (an identifier not of its shape).")
    applied_at: datetime | None = Field(default=None, description="When it was applied (UTC).")


# -- several topics in one KB --------------------------------------------------------------


class TopicVocabulary(SQLModel, table=True):
    """One vocabulary entry as one source defines it: a topic's pack, or ``''`` for the general
    resources the extractors draw on (and entries a KB held before topics were recorded).

    The shared rows (``condition``, ``disease_context``, ``intervention``,
    ``intervention_class``) are the merge of every source's entry for their id (see
    :mod:`kb.vocab_merge`), so a topic's pack never overwrites what another topic defined.
    """

    __tablename__ = "topic_vocabulary"

    topic_id: str = Field(primary_key=True, description="The topic whose pack defines the entry; '' for general.")
    kind: str = Field(primary_key=True, description="class, intervention, condition or context.")
    entry_id: str = Field(primary_key=True, description="Id of the vocabulary row the entry is merged into.")
    entry: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSON, description="The row's fields as this source defines them."
    )


class ReviewDecision(SQLModel, table=True):
    """A person's decision on a machine finding, loaded from its topic pack's ``reviews.yaml``.

    Accepted and corrected findings are also curated findings; rejected ones are never
    extracted again. The site's Methods page reports the extractor's precision from these rows.
    """

    __tablename__ = "review_decision"

    topic_id: str = Field(primary_key=True, description="The topic whose pack records the decision.")
    review_id: str = Field(primary_key=True, description="The finding's identity for review (r- and 16 hex digits).")
    decision: str = Field(description="accept, correct or reject.")
    corrected: list[str] = Field(default_factory=list, sa_type=JSON, description="Fields a correction changed.")
    reviewer: str = Field(description="Who decided.")
    reviewed_on: date = Field(description="When.")
    reason: str | None = Field(default=None, description="Why a finding was rejected.")
