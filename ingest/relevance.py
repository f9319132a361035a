"""The local relevance rule: is a record of PubMed's bulk files about a topic?

A topic pack states its rule (:class:`kb.topic.RelevanceRule`); :class:`RelevanceFilter`
compiles it once and answers, for one parsed record, which part of the rule admitted it
(``"mesh:D002114"``, ``"text:calcinosis"``) or None. It runs before extraction, which is
about twenty times slower, on every record of every file, so it is built for speed: each
phrase is first looked for as a substring of the lower-cased title and abstract (one C
call), and only a phrase found there is checked for word boundaries by a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ingest.pubmed_records import PubmedArticle
from ingest.pubmed_text import mixed_text
from kb.topic import TopicPack
from kb.vocabulary import normalise_term


@dataclass(frozen=True, slots=True)
class _Phrase:
    key: str  # the phrase's longest word, looked for as a substring (lower-cased, unless case matters)
    pattern: re.Pattern[str]  # the phrase as whole words
    label: str  # how it is reported: "text:calcinosis"


class RelevanceFilter:
    """A topic's relevance rule, compiled; :meth:`match` is pure and thread-safe."""

    __slots__ = ("_mesh", "_phrases", "_sensitive", "topic_id")

    def __init__(self, pack: TopicPack) -> None:
        rule = pack.spec.relevance
        self.topic_id = pack.id
        names: list[str] = list(rule.terms)
        abbreviations: list[str] = []
        mesh: list[str] = list(rule.mesh)
        if rule.conditions:
            for condition in pack.vocabulary.conditions:
                names += [condition.name, *condition.synonyms]
                abbreviations += condition.abbreviations
                if condition.mesh:
                    mesh.append(condition.mesh)
        self._mesh = {ui: f"mesh:{ui}" for ui in mesh}
        self._phrases = _phrases(names, case_sensitive=False)
        self._sensitive = _phrases(abbreviations, case_sensitive=True)

    def match(self, article: PubmedArticle) -> str | None:
        """The part of the rule that admits ``article`` (MeSH first, then text), or None."""
        for heading in article.mesh_headings:
            label = self._mesh.get(heading.descriptor_ui or "")
            if label is not None:
                return label
        text = f"{article.title or ''}\n{article.abstract or ''}"
        lowered = text.lower()
        for phrase in self._phrases:
            if phrase.key in lowered and phrase.pattern.search(lowered):
                return phrase.label
        for phrase in self._sensitive:
            if phrase.key in text and phrase.pattern.search(text):
                return phrase.label
        return None

    def may_match(self, elem: Any) -> bool:
        """Whether :meth:`match` could admit the ``PubmedArticle`` element, before it is built.

        A superset of :meth:`match`: a descriptor UI of the rule among its headings, or a
        phrase's key word in its title, abstract texts or their labels (the text the built
        record's title and abstract are made of, with the same markup rules).
        """
        for descriptor in elem.iterfind(_DESCRIPTORS):
            if descriptor.get("UI") in self._mesh:
                return True
        parts = [_raw(t) for t in elem.iterfind(_TITLE)]
        for section in elem.iterfind(_SECTIONS):
            parts.append(section.get("Label") or "")
            parts.append(_raw(section))
        text = "\n".join(parts)
        lowered = text.lower()
        return any(p.key in lowered for p in self._phrases) or any(p.key in text for p in self._sensitive)


_DESCRIPTORS = "MedlineCitation/MeshHeadingList/MeshHeading/DescriptorName"
_TITLE = "MedlineCitation/Article/ArticleTitle"
_SECTIONS = "MedlineCitation/Article/Abstract/AbstractText"


def _raw(el: Any) -> str:
    return (mixed_text(el) if len(el) else el.text) or ""


def _phrases(terms: list[str], *, case_sensitive: bool) -> tuple[_Phrase, ...]:
    """One entry per distinct phrase, longest first (the most specific one is reported)."""
    seen: dict[str, _Phrase] = {}
    for term in terms:
        folded = " ".join(term.split()) if case_sensitive else normalise_term(term)
        if not folded or folded in seen:
            continue
        words = r"\s+".join(re.escape(w) for w in folded.split(" "))
        pattern = re.compile(rf"(?<!\w){words}(?!\w)")
        # The longest word is the rarest: the substring test lets fewer texts through to the regex.
        seen[folded] = _Phrase(max(folded.split(" "), key=len), pattern, f"text:{folded}")
    return tuple(sorted(seen.values(), key=lambda p: (-len(p.label), p.label)))
