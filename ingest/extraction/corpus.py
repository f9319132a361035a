"""Articles and findings as JSON lines: the corpus format ``kb extract`` and ``kb eval`` use.

An input line holds one article: ``id``, ``title``, ``abstract`` and optionally ``pmid``,
``publication_types``, ``mesh`` and ``chemicals`` (lists of strings) and ``gold`` (the
hand-annotated findings). An output line holds one finding with the corpus labels:
``drug_norm`` (lower-case generic or procedure name; a combination as ``a + b`` in
alphabetical order), ``drug_class``, ``condition_norm`` (the topic's labels), counts,
``response``, ``study_design``, ``quote`` (the evidence sentence, an exact substring of the
abstract) and ``confidence``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.errors import IngestError
from ingest.extraction.text import ArticleText
from ingest.extractors import Extraction
from kb.topic import TopicPack

if TYPE_CHECKING:
    from ingest.extraction.lexicon import Lexicon


@dataclass(frozen=True, slots=True)
class CorpusArticle:
    """One input line: the article, and its gold findings when the file has them."""

    article: ArticleText
    gold: tuple[dict[str, Any], ...] | None
    line: int


def read_jsonl(path: Path) -> Iterator[CorpusArticle]:
    """Read articles from a JSON-lines file, one per line; blank lines are skipped.

    Raises:
        IngestError: the file cannot be read, a line is not a JSON object, or an article has
            no ``id`` or a field of the wrong type (the message names the file and line).
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from exc
    seen: set[str] = set()
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(data, dict):
                raise IngestError(f"{where}: expected a JSON object, found {type(data).__name__}")
            yield CorpusArticle(_article(data, where, seen), _gold(data, where), number)


def _article(data: dict[str, Any], where: str, seen: set[str]) -> ArticleText:
    article_id = data.get("id")
    if not isinstance(article_id, str) or not article_id:
        raise IngestError(f"{where}: every line needs a non-empty string 'id'")
    if article_id in seen:
        raise IngestError(f"{where}: id {article_id!r} appears twice")
    seen.add(article_id)
    texts = {}
    for key in ("title", "abstract"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise IngestError(f"{where}: '{key}' must be a string or null")
        texts[key] = value or ""
    lists = {}
    for key in ("publication_types", "mesh", "chemicals"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise IngestError(f"{where}: '{key}' must be a list of strings")
        lists[key] = tuple(value)
    return ArticleText(id=article_id, title=texts["title"], abstract=texts["abstract"], **lists)


def _gold(data: dict[str, Any], where: str) -> tuple[dict[str, Any], ...] | None:
    gold = data.get("gold")
    if gold is None:
        return None
    if not isinstance(gold, list) or not all(isinstance(g, dict) for g in gold):
        raise IngestError(f"{where}: 'gold' must be a list of objects")
    for g in gold:
        if not isinstance(g.get("drug_norm"), str) or not isinstance(g.get("condition_norm"), str):
            raise IngestError(f"{where}: every gold record needs string 'drug_norm' and 'condition_norm'")
    return tuple(gold)


class Labeller:
    """Turns extractions into corpus-format rows using a topic's names and labels.

    Names come from ``lexicon`` when given (the topic's vocabulary merged with the general
    interventions, route variants and unmapped names), else from the pack's vocabulary.
    """

    def __init__(self, pack: TopicPack, lexicon: Lexicon | None = None) -> None:
        from ingest.extraction.lexicon import Lexicon

        self._lexicon = lexicon or Lexicon(pack.vocabulary)
        vocabulary = self._lexicon.vocabulary
        self._class_names = {c.id: c.name for c in vocabulary.classes}
        self._combinations = {
            tuple(sorted(i.components)): i.id for i in vocabulary.interventions if i.kind == "combination"
        }
        self._conditions = {c.id: c.name for c in vocabulary.conditions}
        self._contexts = {c.id: c.name for c in vocabulary.contexts}
        self._labels = pack.spec.condition_labels

    def name(self, intervention: str) -> str:
        """The lower-case name of one intervention id."""
        return self._lexicon.intervention(intervention).name.lower()

    def drug_norm(self, interventions: tuple[str, ...]) -> str:
        """``diltiazem``; ``diltiazem + pamidronate`` (alphabetical) for a combination."""
        if len(interventions) == 1:
            return self.name(interventions[0])
        return " + ".join(sorted(self.name(i) for i in interventions))

    def unmapped(self, interventions: tuple[str, ...]) -> bool:
        """Whether any of the interventions is one no resource could normalise."""
        return any(self._lexicon.intervention(i).kind == "unmapped" for i in interventions)

    def drug_class(self, interventions: tuple[str, ...]) -> str:
        """The class name; the component classes joined with `` + `` for a combination."""
        classes = (self._class_names.get(self._lexicon.intervention(i).class_id or "") for i in interventions)
        return " + ".join(dict.fromkeys(c for c in classes if c))

    def combination_id(self, interventions: tuple[str, ...]) -> str | None:
        """The vocabulary's combination of exactly these components, if it has one."""
        return self._combinations.get(tuple(sorted(interventions)))

    def condition_norm(self, condition: str, context: str | None) -> str:
        """The topic's label for a condition in a disease context."""
        labels = self._labels.get(condition)
        if labels is not None:
            return labels.contexts.get(context or "", labels.default) if context else labels.default
        name = self._conditions[condition]
        return f"{name} ({self._contexts[context]})" if context else name

    def row(self, article: ArticleText, extraction: Extraction) -> dict[str, Any]:
        """One output line for one extraction."""
        return {
            "id": article.id,
            "drug": extraction.intervention_text or None,
            "drug_norm": self.drug_norm(extraction.interventions),
            "drug_class": self.drug_class(extraction.interventions) or None,
            "unmapped": self.unmapped(extraction.interventions),
            "condition_norm": self.condition_norm(extraction.condition_id, extraction.context_id),
            "n_treated": extraction.n_treated,
            "n_responded": extraction.n_responded,
            "response": extraction.response,
            "study_design": extraction.study_design,
            "quote": article.abstract[extraction.start : extraction.end],
            "start": extraction.start,
            "end": extraction.end,
            "confidence": extraction.confidence,
        }


def extract_rows(
    items: Iterable[CorpusArticle],
    pack: TopicPack,
    extractor_name: str | Callable[[ArticleText, Lexicon], list[Extraction]],
    *,
    lexicon: Lexicon | None = None,
) -> Iterator[tuple[CorpusArticle, dict[str, Any]]]:
    """Run an extractor over articles (from :func:`read_jsonl`); yield (article, output row).

    The extractor is a registered name or the function itself (a fold's retrained extractor).
    ``lexicon`` defaults to the pack's vocabulary with the general interventions
    (:func:`ingest.extraction.lexicon.topic_lexicon`).

    Raises:
        IngestError: the input is unreadable or malformed, or no extractor has that name.
    """
    from ingest.extraction.lexicon import topic_lexicon
    from ingest.extractors import get

    extractor = get(extractor_name) if isinstance(extractor_name, str) else extractor_name
    lexicon = lexicon or topic_lexicon(pack)
    labeller = Labeller(pack, lexicon)
    for item in items:
        for extraction in extractor(item.article, lexicon):
            yield item, labeller.row(item.article, extraction)
