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

    __slots__ = ("_mesh", "_phrases", "_raw_always", "_raw_exact", "_raw_folded", "_raw_mesh", "_sensitive", "topic_id")

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
        # The raw-bytes test (may_match_raw): descriptor UIs and case-sensitive keys as bytes,
        # case-insensitive keys as ASCII bytes to find in the ASCII-lowered bytes.
        folded = [_ascii_part(p.key) for p in self._phrases]
        self._raw_always = any(not k for k in folded)
        self._raw_folded = _minimal({k for k in folded if k})
        self._raw_exact = _minimal({p.key.encode() for p in self._sensitive})
        self._raw_mesh = tuple(f'"{ui}"'.encode() for ui in self._mesh)

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

    def may_match_raw(self, record: bytes) -> bool:
        """Whether :meth:`may_match` could admit the article whose XML bytes these are, before any tree.

        A superset of :meth:`may_match`, on the bytes :meth:`may_match` reads the text of: a
        descriptor UI of the rule among the headings' bytes; a key in the bytes from the title
        to the end of the abstract, with inline markup (``<i>``, ``<sup>`` …) removed and
        character references replaced, as the parser joins and replaces them, and ASCII-lowered
        for the case-insensitive keys (their ASCII part, for a key with other letters). Bytes
        whose text could differ in other ways (MathML, whose layout spaces the parser drops;
        a comment; an entity reference; a character reference among the headings; the two
        characters whose lower case is ASCII) are let through for the element to decide.
        """
        headings = record.find(b"<MeshHeadingList")
        if headings >= 0:
            mesh = record[headings : record.find(b"</MeshHeadingList>", headings)]
            if b"&#" in mesh or any(ui in mesh for ui in self._raw_mesh):
                return True
        if self._raw_always:
            return True
        # The title and the abstract (AbstractText is only found in an Abstract); neither: no text.
        stop = headings if headings >= 0 else len(record)
        end = record.find(b"</Abstract>", 0, stop)
        if end < 0:
            end = record.find(b"</ArticleTitle>", 0, stop)
        if end < 0:
            return False
        text = record[max(record.find(b"<ArticleTitle", 0, end), 0) : end]
        if _INLINE.search(text) is not None:
            if _UNSURE.search(text) is not None:
                return True
            text = _INLINE_TAG.sub(b"", text)
        if b"&" in text:
            text = _CHAR_REF.sub(_character, text)
            if text.count(b"&") != sum(text.count(e) for e in _XML_ENTITIES):
                return True  # an entity reference the parser keeps or replaces
        if _LOWER_TO_ASCII.search(text) is not None:
            return True
        if any(key in text for key in self._raw_exact):
            return True
        lowered = text.lower()
        return any(key in lowered for key in self._raw_folded)


# PubMed's own elements are capitalised: a tag that is not is inline markup (or MathML).
_INLINE = re.compile(rb"<(?:/?[a-z]|[!?])")
_UNSURE = re.compile(rb"<(?:/?(?:mml:|math)|[!?])")
_INLINE_TAG = re.compile(rb"</?[a-z][^>]*>")
_CHAR_REF = re.compile(rb"&#(?:x([0-9a-fA-F]+)|([0-9]+));")
_XML_ENTITIES = (b"&amp;", b"&lt;", b"&gt;", b"&quot;", b"&apos;")
#: The UTF-8 of the two characters whose lower case is ASCII (U+0130 and U+212A).
_LOWER_TO_ASCII = re.compile(rb"\xc4\xb0|\xe2\x84\xaa")


def _character(ref: re.Match[bytes]) -> bytes:
    """The UTF-8 of the character a character reference stands for (as the parser replaces it)."""
    code = int(ref[1], 16) if ref[1] else int(ref[2])
    try:
        return chr(code).encode("utf-8", "surrogatepass")
    except (ValueError, OverflowError):
        return ref[0]  # not a character: the parser refuses the document


def _ascii_part(key: str) -> bytes:
    """The key's longest run of ASCII characters (all of it, for an ASCII key), as bytes."""
    runs = re.findall(r"[\x00-\x7f]+", key)
    return max(runs, key=len).encode() if runs else b""


def _minimal(keys: set[bytes]) -> tuple[bytes, ...]:
    """The keys, without those that contain another (finding the shorter one is enough)."""
    return tuple(sorted(k for k in keys if not any(o != k and o in k for o in keys)))


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
