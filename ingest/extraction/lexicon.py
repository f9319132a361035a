"""Find vocabulary terms in text: interventions, conditions and disease contexts.

Terms are matched on word tokens, longest first, so "tumoral calcinosis" wins over
"calcinosis" and "sodium thiosulfate" over "thiosulfate". Names, synonyms and brand names
match case-insensitively (with a simple plural fold: "bisphosphonate" also finds
"bisphosphonates"); abbreviations match case-sensitively.

Abbreviations are resolved in context. An abbreviation the text defines — "sodium
thiosulfate (STS)", "peritoneal dialysis (PD)" — means what the text says: it finds the
defined term when that is in the vocabulary and nothing otherwise, even when the vocabulary
knows the same letters for something else. An abbreviation the vocabulary marks as
ambiguous (DM is also diabetes mellitus) is used only where the text defines it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from kb.vocabulary import ConditionSpec, ContextSpec, Vocabulary

Kind = Literal["intervention", "condition", "context"]
KINDS: tuple[Kind, ...] = ("intervention", "condition", "context")

_TOKEN = re.compile(r"[^\W_]+")
_DEFINITION = re.compile(r"\(\s*(?P<short>[^\W_][\w/-]{0,9}?)s?\s*[);,]")


@dataclass(frozen=True, slots=True)
class Mention:
    """A vocabulary entry found in a text, with its character offsets."""

    kind: Kind
    id: str
    start: int
    end: int
    text: str
    abbreviation: bool = False


# A token is a plain tuple (start, end, text, lower): building a tuple is several times
# cheaper than building an object, and tokenising is most of the matching cost.
_Token = tuple[int, int, str, str]
_START: Final = 0
_END: Final = 1
_TEXT: Final = 2
_LOWER: Final = 3


def tokens(text: str) -> list[_Token]:
    """Word tokens of ``text`` (letters and digits; punctuation separates)."""
    return [(m.start(), m.end(), w, w.lower()) for m in _TOKEN.finditer(text) for w in (m.group(),)]


def _key(term: str, lower: bool = True) -> tuple[str, ...]:
    return tuple(t.lower() if lower else t for t in _TOKEN.findall(term))


class Lexicon:
    """A vocabulary compiled for fast matching in running text."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._names: dict[tuple[str, ...], list[tuple[Kind, str]]] = {}
        self._abbreviations: dict[tuple[str, ...], list[tuple[Kind, str]]] = {}
        self._ambiguous: set[tuple[str, ...]] = set()
        class_level = {i.class_id: i.id for i in vocabulary.interventions if i.kind == "class"}
        #: intervention id → its class id; class id → the intervention that names the class.
        self.class_of: dict[str, str] = {i.id: i.class_id for i in vocabulary.interventions if i.class_id}
        self.class_level: dict[str, str] = {k: v for k, v in class_level.items() if k}
        #: context id → its broadest ancestor (juvenile dermatomyositis → dermatomyositis).
        self.context_family: dict[str, str] = {c.id: c.parent or c.id for c in vocabulary.contexts}
        #: context id → its juvenile form, when the vocabulary has one (dermatomyositis → JDM).
        self.juvenile_form: dict[str, str] = {
            c.parent: c.id for c in vocabulary.contexts if c.parent and "juvenile" in c.name.lower()
        }
        #: condition id → ids of the disease contexts it is reported in.
        self.condition_contexts: dict[str, frozenset[str]] = {
            c.id: frozenset(c.contexts) for c in vocabulary.conditions
        }
        #: The condition with the most contexts: the topic's broad one (calcinosis).
        self.broad_condition: str | None = (
            max(vocabulary.conditions, key=lambda c: len(c.contexts)).id if vocabulary.conditions else None
        )
        for spec in vocabulary.interventions:
            self._add("intervention", spec.id, (spec.name, *spec.synonyms, *spec.brands), spec.abbreviations)
            self._ambiguous.update(_key(a, lower=False) for a in spec.ambiguous_abbreviations)
            self._add("intervention", spec.id, (), spec.ambiguous_abbreviations)
        for cls in vocabulary.classes:  # a class named in text stands for its class-level entry
            if cls.id in class_level:
                self._add("intervention", class_level[cls.id], (cls.name, *cls.synonyms), cls.abbreviations)
        named: list[tuple[Kind, ConditionSpec | ContextSpec]] = [
            *(("condition", c) for c in vocabulary.conditions),
            *(("context", c) for c in vocabulary.contexts),
        ]
        for kind, entry in named:
            terms = (entry.name, *entry.synonyms)
            self._add(kind, entry.id, terms, (*entry.abbreviations, *entry.ambiguous_abbreviations))
            self._ambiguous.update(_key(a, lower=False) for a in entry.ambiguous_abbreviations)
        self._longest = max((len(k) for k in (*self._names, *self._abbreviations)), default=1)
        self._name_prefixes = {k[:n] for k in self._names for n in range(1, len(k) + 1)}
        self._abbreviation_prefixes = {k[:n] for k in self._abbreviations for n in range(1, len(k) + 1)}
        self._mesh: dict[str, tuple[Kind, str]] = {}
        for spec in vocabulary.interventions:
            if spec.mesh:
                self._mesh[spec.mesh] = ("intervention", spec.id)
        for kind, entry in named:
            if entry.mesh:
                self._mesh[entry.mesh] = (kind, entry.id)

    def _add(self, kind: Kind, id_: str, names: Iterable[str], abbreviations: Iterable[str]) -> None:
        for name in names:
            key = _key(name)
            if key and (kind, id_) not in self._names.setdefault(key, []):
                self._names[key].append((kind, id_))
        for abbreviation in abbreviations:
            key = _key(abbreviation, lower=False)
            if key and (kind, id_) not in self._abbreviations.setdefault(key, []):
                self._abbreviations[key].append((kind, id_))

    # -- abbreviations defined in the text ----------------------------------------------

    def definitions(
        self, text: str, toks: list[_Token] | None = None
    ) -> dict[tuple[str, ...], tuple[Kind, str] | None]:
        """Abbreviations the text defines, each mapped to the vocabulary entry it stands for.

        ``long form (SHORT)``: when a vocabulary term ends just before the parenthesis and
        starts with the abbreviation's first letter, SHORT means that entry; otherwise SHORT
        means something the vocabulary does not know (``None``).
        """
        found: dict[tuple[str, ...], tuple[Kind, str] | None] = {}
        toks = tokens(text) if toks is None else toks
        ends = [t[_END] for t in toks]
        for m in _DEFINITION.finditer(text):
            short = m.group("short")
            if not any(c.isupper() for c in short) or short.lower() == short:
                continue
            key = _key(short, lower=False)
            if key in found and found[key] is not None:
                continue
            stop = bisect.bisect_right(ends, m.start())
            meaning: tuple[Kind, str] | None = None
            for mention in self._scan(toks[max(0, stop - self._longest - 2) : stop], {}, abbreviations=False):
                gap = text[mention.end : m.start()]
                if gap.strip(" -") == "" and mention.text[:1].lower() == short[:1].lower():
                    meaning = (mention.kind, mention.id)
            found[key] = meaning
        return found

    # -- matching -------------------------------------------------------------------------

    def find(
        self,
        text: str,
        definitions: dict[tuple[str, ...], tuple[Kind, str] | None] | None = None,
        toks: list[_Token] | None = None,
    ) -> list[Mention]:
        """Every vocabulary mention in ``text``, longest match first, left to right.

        ``toks`` are the text's tokens when the caller has them already.
        """
        return self._scan(tokens(text) if toks is None else toks, definitions or {}, abbreviations=True)

    def _scan(
        self,
        toks: list[_Token],
        definitions: dict[tuple[str, ...], tuple[Kind, str] | None],
        *,
        abbreviations: bool,
    ) -> list[Mention]:
        # Walk forward from each token only while the words so far begin some term (the
        # prefix sets), so a position that starts no term costs one set lookup.
        out: list[Mention] = []
        names, name_prefixes = self._names, self._name_prefixes
        exact_prefixes = self._abbreviation_prefixes
        if definitions:
            exact_prefixes = exact_prefixes | {k[:n] for k in definitions for n in range(1, len(k) + 1)}
        i, count, longest = 0, len(toks), self._longest
        while i < count:
            best_end, hits, is_abbreviation = -1, None, False
            key: tuple[str, ...] = ()
            stop = count if count - i < longest else i + longest
            for j in range(i, stop):
                if j > i and toks[j][_START] - toks[j - 1][_END] > 2:
                    break  # a term does not span a sentence break or a parenthesis
                word = toks[j][_LOWER]
                found = names.get((*key, word))
                if found is None and len(word) > 3 and word.endswith("s"):
                    found = names.get((*key, word[:-1]))  # plural of a listed singular
                key = (*key, word)
                if found:
                    best_end, hits = j, found
                if key not in name_prefixes:
                    break
            if abbreviations:
                exact: tuple[str, ...] = ()
                for j in range(i, stop):
                    if j > i and toks[j][_START] - toks[j - 1][_END] > 2:
                        break
                    exact = (*exact, toks[j][_TEXT])
                    if exact not in exact_prefixes:
                        break
                    if j >= best_end:
                        if exact in definitions:
                            meaning = definitions[exact]
                            best_end, hits, is_abbreviation = j, ([meaning] if meaning else []), True
                        elif exact in self._abbreviations and exact not in self._ambiguous:
                            best_end, hits, is_abbreviation = j, self._abbreviations[exact], True
            if best_end < 0:
                i += 1
                continue
            window = toks[i : best_end + 1]
            text = " ".join(t[_TEXT] for t in window)
            for kind, id_ in hits or ():
                out.append(Mention(kind, id_, window[0][_START], window[-1][_END], text, is_abbreviation))
            if len(window) > 1 and hits and all(kind == "context" for kind, _ in hits):
                # "hyperphosphatemic familial tumoral calcinosis" also names the condition.
                out.extend(m for m in self._scan(window[1:], {}, abbreviations=False) if m.kind == "condition")
            i = best_end + 1
        return out

    def from_mesh(self, headings: Iterable[str]) -> list[tuple[Kind, str]]:
        """Vocabulary entries named by MeSH headings or chemicals (descriptor UIs or names)."""
        out: list[tuple[Kind, str]] = []
        for heading in headings:
            if heading in self._mesh:
                out.append(self._mesh[heading])
                continue
            # MeSH names are often inverted ("Scleroderma, Systemic"): try both orders.
            parts = [p.strip() for p in heading.split(",")]
            for variant in (heading, " ".join(reversed(parts))):
                hits = self._names.get(_key(variant))
                if hits:
                    out.extend(hits)
                    break
        return out
