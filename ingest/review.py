"""The review queue: machine findings are *unreviewed* until a person accepts, corrects or rejects them.

A finding's identity for review (:func:`review_id`) is its article, intervention, condition,
context and outcome measure: not the extractor's name or version, so a decision still applies
after re-extraction. Decisions are written into the topic pack, in ``reviews.yaml`` beside
``curated.yaml`` (:func:`save_decisions`):

- ``accepted``: accepted or corrected findings, each a curated record with the reviewer, the
  date and the fields corrected; loaded by :func:`ingest.curated.load_curated`;
- ``rejected``: rejections with their reason, so re-extraction never brings one back
  (:func:`decided_ids`, which the pipeline skips);
- ``articles``: the bibliographic facts of the articles they cite, so a rebuild from scratch
  has them.

A pack may be bundled in the repository, so the evidence sentence is stored as where it is
(``evidence``: article, character span and a SHA-256 of the sentence), never as text; the
sentence is shown from the article when the KB holds its abstract and the hash matches.

The same decisions come from a terminal (``kb review``, :mod:`ingest.review_tui`) or from a
spreadsheet (``kb review export`` / ``kb review apply``, :mod:`ingest.review_sheet`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import IngestError
from kb.errors import KBError
from kb.models import FINDING_CONTENT_FIELDS
from kb.topic import TopicPack
from kb.vocabulary import _read_yaml

REVIEWS_FILE = "reviews.yaml"

#: The finding fields a reviewer may correct, in the order they are shown and exported: the
#: content fields from the intervention to the outcome measure.
EDITABLE: tuple[str, ...] = FINDING_CONTENT_FIELDS[
    FINDING_CONTENT_FIELDS.index("intervention_id") : FINDING_CONTENT_FIELDS.index("outcome") + 1
]
INT_FIELDS = frozenset({"n_treated", "n_responded"})

_HEADER = (
    "# Review decisions on this topic's machine findings, written by `kb review` (terminal) or\n"
    "# `kb review apply` (spreadsheet). Accepted and corrected findings are loaded as curated\n"
    "# records; rejected ones are never extracted again. Evidence is recorded as where the\n"
    "# sentence is (article, character span, SHA-256 of the sentence), never as its text.\n"
)


def review_id(
    article_id: str, intervention_id: str, condition_id: str, context_id: str | None, outcome: str | None
) -> str:
    """A finding's stable identity for review: independent of the extractor and its version."""
    key = "\x1f".join((article_id, intervention_id, condition_id, context_id or "", outcome or ""))
    return "r-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def review_id_of(row: Any) -> str:
    """:func:`review_id` of a finding (record, row or mapping with the finding's field names)."""
    values = row if isinstance(row, Mapping) else {n: getattr(row, n) for n in _IDENTITY}
    return review_id(*(values.get(n) for n in _IDENTITY))  # type: ignore[arg-type]


_IDENTITY = ("article_id", "intervention_id", "condition_id", "context_id", "outcome")


def sentence_hash(sentence: str) -> str:
    """SHA-256 of an evidence sentence (hex), as the pack records it."""
    return hashlib.sha256(sentence.encode("utf-8")).hexdigest()


class EvidenceSpan(BaseModel):
    """Where an evidence sentence is: its character span in the article's abstract, and its hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=0, description="Offset of the sentence's first character in the abstract.")
    end: int = Field(ge=0, description="Offset just past its last character.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the sentence (UTF-8).")

    def sentence_in(self, abstract: str | None) -> str | None:
        """The sentence, read from ``abstract``, if it is there unchanged."""
        if not abstract or self.end > len(abstract):
            return None
        sentence = abstract[self.start : self.end]
        return sentence if sentence_hash(sentence) == self.sha256 else None


class ReviewedArticle(BaseModel):
    """Bibliographic facts of an article a decision cites (no abstract)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="The article's id (CURIE), as in the KB.")
    pmid: str | None = Field(default=None, description="PubMed identifier.")
    doi: str | None = Field(default=None, description="DOI.")
    title: str | None = Field(default=None, description="Title as published.")
    journal: str | None = Field(default=None, description="Journal or conference.")
    year: int | None = Field(default=None, description="Year of publication.")
    authors: tuple[str, ...] = Field(default=(), description="Authors.")
    publication_types: tuple[str, ...] = Field(default=(), description="PubMed publication types.")


class _Decided(BaseModel):
    """What every decision records: the finding decided on (its identity's fields), who, when, where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_id: str = Field(pattern=r"^r-[0-9a-f]{16}$", description="Identity of the machine finding decided on.")
    reviewer: str = Field(min_length=1, description="Who decided.")
    reviewed_on: date = Field(description="When (YYYY-MM-DD).")
    article_id: str = Field(description="The article the finding is from.")
    intervention_id: str = Field(description="Intervention id (the topic's or a general one).")
    condition_id: str = Field(description="Condition id.")
    context_id: str | None = Field(default=None, description="Disease context id; empty when mixed or unstated.")
    outcome: str | None = Field(default=None, description="The outcome measure, where there is one.")
    evidence: EvidenceSpan | None = Field(default=None, description="Where the evidence sentence is (never its text).")


class Accepted(_Decided):
    """An accepted or corrected machine finding: a curated record from now on."""

    decision: Literal["accept", "correct"] = Field(description="accept (unchanged) or correct (fields changed).")
    corrected: tuple[str, ...] = Field(default=(), description="The fields the reviewer changed.")
    route: str | None = Field(default=None, description="Route, when it distinguishes the intervention.")
    age_group: str = Field(default="unknown", description="adults, children, mixed or unknown.")
    n_treated: int | None = Field(default=None, ge=0, description="Patients treated.")
    n_responded: int | None = Field(default=None, ge=0, description="Patients responding.")
    response: str = Field(description="The response (see Methods).")
    study_design: str = Field(description="The article's design.")
    extractor: str | None = Field(default=None, description="What made the machine finding (name version).")
    components: tuple[str, ...] = Field(
        default=(),
        description="Component ids of a combination no vocabulary defines (so a rebuild from scratch can add it).",
    )


class Rejected(_Decided):
    """A rejected machine finding: re-extraction never brings it back."""

    reason: str = Field(min_length=1, description="Why it was rejected.")


def accept(
    row: Mapping[str, Any],
    fields: Mapping[str, Any],
    *,
    reviewer: str,
    today: date,
    components: Mapping[str, tuple[str, ...]] | None = None,
) -> Accepted:
    """The decision to accept a machine finding (``row``, as :func:`ingest.review_sheet.unreviewed`
    gives it) with the reviewer's ``fields``: a correction when any differs from the machine's."""
    changed = tuple(n for n in EDITABLE if fields[n] != row[n])
    return Accepted(
        review_id=row["review_id"],
        decision="correct" if changed else "accept",
        corrected=changed,
        reviewer=reviewer,
        reviewed_on=today,
        article_id=row["article_id"],
        evidence=evidence_span(row["abstract"], row["evidence_start"], row["evidence_end"]),
        extractor=f"{row['extractor']} {row['extractor_version']}",
        components=(components or {}).get(fields["intervention_id"], ()),
        **{n: fields[n] for n in EDITABLE},
    )


def reject(row: Mapping[str, Any], reason: str, *, reviewer: str, today: date) -> Rejected:
    """The decision to reject a machine finding (``row``, as for :func:`accept`)."""
    return Rejected(
        review_id=row["review_id"],
        reason=reason,
        reviewer=reviewer,
        reviewed_on=today,
        evidence=evidence_span(row["abstract"], row["evidence_start"], row["evidence_end"]),
        **{n: row[n] for n in _IDENTITY},
    )


class Reviews(BaseModel):
    """The contents of a pack's ``reviews.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    articles: tuple[ReviewedArticle, ...] = Field(default=(), description="Articles the decisions cite (no abstract).")
    accepted: tuple[Accepted, ...] = Field(default=(), description="Accepted or corrected findings: curated records.")
    rejected: tuple[Rejected, ...] = Field(default=(), description="Rejected findings: never extracted again.")


def load_reviews(pack: TopicPack) -> Reviews:
    """Read a pack's ``reviews.yaml`` (none yet: no decisions).

    Raises:
        IngestError: the file does not validate (the message lists every problem).
    """
    path = pack.path / REVIEWS_FILE
    if not path.is_file():
        return Reviews()
    try:
        return Reviews.model_validate(_read_yaml(path) or {})
    except (ValidationError, KBError) as exc:
        raise IngestError(f"{path}: invalid review decisions:\n{exc}") from exc


def decided_ids(pack: TopicPack) -> frozenset[str]:
    """Review ids of every machine finding a person accepted, corrected or rejected."""
    reviews = load_reviews(pack)
    return frozenset(a.review_id for a in reviews.accepted) | frozenset(r.review_id for r in reviews.rejected)


@dataclass(slots=True)
class Decisions:
    """New decisions to record: accepted or corrected findings, rejections, and their articles."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    articles: list[ReviewedArticle] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.accepted) + len(self.rejected)


def save_decisions(pack: TopicPack, new: Decisions) -> Path:
    """Add decisions to the pack's ``reviews.yaml`` (a later decision on a finding replaces an
    earlier one); returns the file's path.

    Raises:
        IngestError: the existing file is invalid, or cannot be written.
    """
    old = load_reviews(pack)
    changed = {a.review_id for a in new.accepted} | {r.review_id for r in new.rejected}
    accepted = [a for a in old.accepted if a.review_id not in changed] + new.accepted
    rejected = [r for r in old.rejected if r.review_id not in changed] + new.rejected
    articles = {a.id: a for a in old.articles}
    for article in new.articles:
        articles.setdefault(article.id, article)
    cited = {a.article_id for a in accepted} | {r.article_id for r in rejected}
    data = {
        "articles": [_plain(a) for i, a in sorted(articles.items()) if i in cited],
        "accepted": [_plain(a) for a in sorted(accepted, key=lambda a: (a.article_id, a.review_id))],
        "rejected": [_plain(r) for r in sorted(rejected, key=lambda r: (r.article_id, r.review_id))],
    }
    path = pack.path / REVIEWS_FILE
    text = _HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot write {path}: {exc.strerror}") from exc
    return path


def _plain(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True)


def evidence_span(abstract: str | None, start: int | None, end: int | None) -> EvidenceSpan | None:
    """The span of a machine finding's evidence sentence, when the abstract holds it."""
    if abstract is None or start is None or end is None or end > len(abstract):
        return None
    return EvidenceSpan(start=start, end=end, sha256=sentence_hash(abstract[start:end]))


def summary_of(decision: Accepted) -> str:
    """A one-line summary of a reviewed finding, in the project's words (for the curated record)."""
    context = f" ({decision.context_id})" if decision.context_id else ""
    counts = ""
    if decision.n_treated is not None:
        responded = f"{decision.n_responded}/" if decision.n_responded is not None else ""
        counts = f", {responded}{decision.n_treated} patients"
    verb = "accepted" if decision.decision == "accept" else "corrected"
    return (
        f"{decision.intervention_id} for {decision.condition_id}{context}: response {decision.response}{counts}; "
        f"machine finding {verb} by {decision.reviewer} on {decision.reviewed_on.isoformat()}."
    )


def precision(reviews: Iterable[Reviews]) -> dict[str, Any]:
    """What the reviews so far say of the extractor: accepted unchanged, corrected, rejected, and
    how often each field was corrected."""
    accepted = corrected = rejected = 0
    per_field: dict[str, int] = dict.fromkeys(EDITABLE, 0)
    for r in reviews:
        rejected += len(r.rejected)
        for a in r.accepted:
            if a.decision == "accept":
                accepted += 1
            else:
                corrected += 1
                for name in a.corrected:
                    per_field[name] = per_field.get(name, 0) + 1
    return {"accepted": accepted, "corrected": corrected, "rejected": rejected, "fields": per_field}
