"""Topic packs: everything that makes the knowledge base about one clinical question.

A topic pack is a folder holding ``topic.yaml`` (name, question, seed PMIDs, saved PubMed
queries, expansion depth), ``vocabulary.yaml`` (see :mod:`kb.vocabulary`) and
``curated.yaml`` (hand-curated articles and findings, loaded by :mod:`ingest.curated`;
optional, as a new topic has none yet).
The packs bundled with the package live in ``kb/topics/``; any other folder with the same
files can be passed by path, so a new topic needs no code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kb.errors import KBError, TopicError
from kb.vocabulary import Vocabulary, _read_yaml, load_vocabulary

BUNDLED_TOPICS = "kb.topics"


class SavedQuery(BaseModel):
    """A PubMed query that the literature refresh re-runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Stable name; refresh watermarks are kept per name.")
    term: str = Field(min_length=1, description="PubMed query in Entrez syntax.")
    since: str | None = Field(
        default=None, pattern=r"^\d{4}(/\d{2}(/\d{2})?)?$", description="Earliest entry date, YYYY[/MM[/DD]]."
    )


class Expansion(BaseModel):
    """How far to follow citations from the seeds and query results."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    refs_depth: int = Field(default=1, ge=0, le=3, description="Levels of references (what a paper cites) to follow.")
    cited_by_depth: int = Field(default=1, ge=0, le=3, description="Levels of citing papers to follow.")


class ConditionLabels(BaseModel):
    """How findings about one condition are labelled in exported records (``kb extract``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: str = Field(description="Label when the disease context is mixed or unspecified.")
    contexts: dict[str, str] = Field(default_factory=dict, description="Label per disease context id.")
    precedence: tuple[str, ...] = Field(
        default=(),
        description="Context ids ranked for articles that name several contexts of the condition: the "
        "one listed first wins (peristomal before inflammatory-bowel-disease), a narrower context "
        "ranking as its nearest listed broader one; a context not listed is never outranked, so it "
        "leaves the choice to their shared broader context or the default. Each id must be a context "
        "of the condition.",
    )

    @field_validator("precedence")
    @classmethod
    def _precedence_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            raise ValueError(f"precedence lists {', '.join(repeated)} more than once")
        return value

    def choose_context(
        self, candidates: Collection[str], parents: Mapping[str, str | None] | None = None
    ) -> str | None:
        """The context to label a finding with when an article names ``candidates``.

        1. A candidate that is a broader context (by ``parents``) of another candidate is
           dropped, the narrower one standing for it. One candidate left: that one.
        2. Several: each is ranked by the first of itself and its broader contexts that
           ``precedence`` lists. When every candidate is ranked, the best-ranked wins (the
           listed context itself when several candidates share that rank).
        3. Otherwise, when the candidates share a broader context, the narrowest shared one
           (dermatomyositis and polymyositis: myositis).
        4. Otherwise None: no precedence decides, and the caller uses :attr:`default`.
        """
        parents = parents or {}

        def lineage(context: str) -> list[str]:
            chain = [context]
            while (parent := parents.get(chain[-1])) and parent not in chain:
                chain.append(parent)
            return chain

        unique = set(candidates)
        broader = {a for c in unique for a in lineage(c)[1:]}
        narrow = sorted(unique - broader)
        if len(narrow) <= 1:
            return narrow[0] if narrow else None
        return self._by_precedence(narrow, lineage) or _shared_broader(narrow, lineage)

    def _by_precedence(self, narrow: list[str], lineage: Callable[[str], list[str]]) -> str | None:
        rank = {c: i for i, c in enumerate(self.precedence)}
        ranked: dict[str, int] = {}
        for c in narrow:
            hits = [rank[a] for a in lineage(c) if a in rank]
            if not hits:
                return None
            ranked[c] = hits[0]
        best = min(ranked.values())
        winners = [c for c, r in ranked.items() if r == best]
        return winners[0] if len(winners) == 1 else self.precedence[best]


def _shared_broader(narrow: list[str], lineage: Callable[[str], list[str]]) -> str | None:
    """The narrowest context that every one of ``narrow`` falls under, if any."""
    others = [set(lineage(c)) for c in narrow[1:]]
    return next((a for a in lineage(narrow[0])[1:] if all(a in o for o in others)), None)


class RelevanceRule(BaseModel):
    """Which records of PubMed's bulk files belong to the topic (``kb ingest --topic``).

    A record is relevant when its title or abstract names one of the topic's conditions (a
    name or synonym, case-insensitively, as whole words; an abbreviation, case-sensitively;
    ambiguous abbreviations never count), when one of its MeSH headings is a condition's
    descriptor or one listed here, or when its title or abstract names one of ``terms``.
    It is applied locally, record by record, before extraction: the saved E-utilities
    queries cannot run on a file (no MeSH explosion, no field tags), so the rule stands for
    them and is written to admit at least what they find.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: bool = Field(
        default=True,
        description="Match the vocabulary's conditions: their names, synonyms and abbreviations in the title "
        "or abstract, their MeSH descriptors in the headings.",
    )
    terms: tuple[str, ...] = Field(
        default=(), description="More words or phrases, matched case-insensitively as whole words in title or abstract."
    )
    mesh: tuple[str, ...] = Field(
        default=(), description="More MeSH descriptor UIs (D + 6 digits) to match in the headings."
    )

    @field_validator("mesh")
    @classmethod
    def _mesh_uis(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not (len(v) == 7 and v[0] == "D" and v[1:].isdigit())]
        if bad:
            raise ValueError(f"not MeSH descriptor UIs (D followed by 6 digits): {', '.join(bad)}")
        return value

    @field_validator("terms")
    @classmethod
    def _terms_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() for t in value):
            raise ValueError("a term is empty")
        return value


class TopicSpec(BaseModel):
    """The contents of ``topic.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Topic identifier.")
    title: str = Field(description="Title of the published site.")
    question: str = Field(description="The clinical question the topic answers, shown on the home page.")
    description: str = Field(description="A paragraph describing the scope of the topic.")
    condition: str = Field(description="Id of the topic's main condition in the vocabulary.")
    seeds: tuple[str, ...] = Field(default=(), description="Seed PMIDs.")
    queries: tuple[SavedQuery, ...] = Field(default=(), description="Saved PubMed queries for refreshes.")
    expansion: Expansion = Field(default_factory=Expansion, description="Citation expansion depth.")
    condition_labels: dict[str, ConditionLabels] = Field(
        default_factory=dict,
        description="Labels of condition and context in exported records; by default the condition's "
        "name, followed by the context's name in parentheses when there is one.",
    )
    relevance: RelevanceRule = Field(
        default_factory=RelevanceRule,
        description="Which records of PubMed's bulk files are the topic's (kb ingest --topic).",
    )


@dataclass(frozen=True, slots=True)
class TopicPack:
    """A loaded topic pack: its settings, vocabulary and the folder it came from."""

    spec: TopicSpec
    vocabulary: Vocabulary
    path: Path

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def curated_path(self) -> Path:
        """``curated.yaml`` in the pack's folder; the file is optional (no curated records)."""
        return self.path / "curated.yaml"

    def choose_context(self, condition: str, candidates: Collection[str]) -> str | None:
        """The disease context of ``condition`` to label a finding with, given the contexts an
        article names (see :meth:`ConditionLabels.choose_context`).

        Candidates that are not contexts of ``condition`` in the vocabulary are ignored, and
        so are broader contexts that are not the condition's; a condition without
        ``condition_labels`` has no precedence. The result is one of ``condition``'s contexts,
        or None for the mixed or unspecified default.
        """
        spec = next((c for c in self.vocabulary.conditions if c.id == condition), None)
        if spec is None:
            raise TopicError(f"topic {self.id!r} has no condition {condition!r}")
        own = [c for c in candidates if c in spec.contexts]
        parents = {c.id: c.parent for c in self.vocabulary.contexts if c.parent in spec.contexts}
        labels = self.spec.condition_labels.get(condition, ConditionLabels(default=spec.name))
        return labels.choose_context(own, parents)


def _check_precedence(path: Path, vocabulary: Vocabulary, condition: str, labels: ConditionLabels) -> None:
    own = next(c.contexts for c in vocabulary.conditions if c.id == condition)
    context_ids = {c.id for c in vocabulary.contexts}
    problems = [
        f"{c!r} is not a context in the vocabulary"
        if c not in context_ids
        else f"{c!r} is a context, but not one of condition {condition!r}"
        for c in labels.precedence
        if c not in own
    ]
    if problems:
        raise TopicError(
            f"{path}: condition_labels.{condition}.precedence: {'; '.join(problems)} "
            f"(contexts of {condition!r}: {', '.join(own) or 'none'})"
        )


def bundled_topics() -> list[str]:
    """Names of the topic packs shipped with the package."""
    root = resources.files(BUNDLED_TOPICS)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "topic.yaml").is_file())


TOPICS_PATH_ENV = "KB_TOPICS_PATH"
"""Environment variable: folders (separated by ``os.pathsep``) holding topic packs found by name."""


@dataclass(frozen=True, slots=True)
class FoundTopic:
    """A topic pack found by name: where, and whether another of the same name hides it."""

    name: str
    path: Path
    source: str
    """``KB_TOPICS_PATH`` or ``bundled``."""
    shadowed: bool = False


def topic_dirs() -> list[Path]:
    """The folders of ``KB_TOPICS_PATH``, in order (empty entries ignored)."""
    value = os.environ.get(TOPICS_PATH_ENV, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def discover_topics() -> list[FoundTopic]:
    """Every pack findable by name: those in ``KB_TOPICS_PATH`` folders first (in order), then the
    bundled ones; a later pack with a name already found is listed as shadowed."""
    found: list[FoundTopic] = []
    seen: set[str] = set()
    candidates: list[tuple[str, Path, str]] = []
    for folder in topic_dirs():
        if folder.is_dir():
            candidates += [
                (p.name, p, TOPICS_PATH_ENV) for p in sorted(folder.iterdir()) if (p / "topic.yaml").is_file()
            ]
    root = Path(str(resources.files(BUNDLED_TOPICS)))
    candidates += [(name, root / name, "bundled") for name in bundled_topics()]
    for name, path, source in candidates:
        found.append(FoundTopic(name, path, source, shadowed=name in seen))
        seen.add(name)
    return found


def find_topic(name_or_path: str | Path) -> Path:
    """The folder of a topic pack given by path, or by name (``KB_TOPICS_PATH``, then bundled).

    Raises:
        TopicError: no such pack (the message lists the names that can be given).
    """
    path = Path(name_or_path)
    if (path / "topic.yaml").is_file():
        return path
    for found in discover_topics():
        if found.name == str(name_or_path) and not found.shadowed:
            return found.path
    names = sorted({f.name for f in discover_topics()})
    where = ", ".join(str(d) for d in topic_dirs()) or f"none: set {TOPICS_PATH_ENV} to add folders"
    raise TopicError(
        f"no topic pack {str(name_or_path)!r}: give a pack's name ({', '.join(names) or 'none found'}) or a "
        f"folder containing topic.yaml (packs are found by name in the bundled packs and in {TOPICS_PATH_ENV} "
        f"folders: {where}; 'kb topic new NAME' writes a new one)"
    )


def load_topic(name_or_path: str | Path) -> TopicPack:
    """Load a topic pack by name (``calcinosis``; see :func:`find_topic`) or by folder path.

    Raises:
        TopicError: no such pack, or its files do not validate (the message lists why).
    """
    path = find_topic(name_or_path)
    try:
        spec = TopicSpec.model_validate(_read_yaml(path / "topic.yaml"))
        vocabulary = load_vocabulary(path / "vocabulary.yaml")
    except ValidationError as exc:
        raise TopicError(f"{path / 'topic.yaml'}: invalid topic:\n{exc}") from exc
    except KBError as exc:
        raise TopicError(str(exc)) from exc
    condition_ids = {c.id for c in vocabulary.conditions}
    if spec.condition not in condition_ids:
        raise TopicError(f"{path / 'topic.yaml'}: condition {spec.condition!r} is not in the vocabulary")
    context_ids = {c.id for c in vocabulary.contexts}
    for condition, labels in spec.condition_labels.items():
        unknown = ({condition} - condition_ids) | (set(labels.contexts) - context_ids)
        if unknown:
            raise TopicError(f"{path / 'topic.yaml'}: condition_labels name unknown ids: {', '.join(sorted(unknown))}")
        _check_precedence(path / "topic.yaml", vocabulary, condition, labels)
    return TopicPack(spec=spec, vocabulary=vocabulary, path=path)
