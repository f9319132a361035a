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
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from ingest.extraction.resources import (
    ROUTE_SEPARATOR,
    UNMAPPED_PREFIX,
    GeneralKnowledge,
    general_knowledge,
    slug,
    split_route,
)
from kb.vocabulary import ConditionSpec, ContextSpec, InterventionSpec, Vocabulary

if TYPE_CHECKING:
    from kb.topic import TopicPack

#: ``other`` marks words that look like a treatment but name a marker or a material here
#: (autoantibodies, calcium phosphate): matched so that nothing shorter inside them matches.
Kind = Literal["intervention", "condition", "context", "other"]
KINDS: tuple[Kind, ...] = ("intervention", "condition", "context")
NOT_TREATMENT = "not-treatment"

_TOKEN = re.compile(r"[^\W_]+")
_WORD = re.compile(r"\w+")  # _TOKEN's tokens in a text without an underscore
#: Words long enough to be a name built on an INN stem (four letters, then a stem of three or
#: more): runs of seven letters or more. Greedy from a run's first letter, this finds the same runs
#: as bounding it with lookarounds, without trying a lookbehind at every position.
_LONG_WORD = re.compile(r"[^\W\d_]{7,}")
#: Words allowed between a route and its drug: "IV pulse cyclophosphamide", "oral low-dose".
_ROUTE_FILLERS = frozenset(
    {"pulse", "pulsed", "monthly", "weekly", "daily", "low", "high", "dose", "of", "the", "with"}
)
#: Words between a term and its abbreviation that do not change what it names.
_GAP_FILLER = re.compile(r"\s*\b(?:therapy|therapies|treatment|infusions?|pulses?)\b", re.IGNORECASE)
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
    route: str | None = None  # a route written with the mention ("intralesional"), when general knowledge knows it


# A token is a plain tuple (start, end, text, lower): building a tuple is several times
# cheaper than building an object, and tokenising is most of the matching cost.
_Token = tuple[int, int, str, str]
_START: Final = 0
_END: Final = 1
_TEXT: Final = 2
_LOWER: Final = 3


def tokens(text: str) -> list[_Token]:
    """Word tokens of ``text`` (letters and digits; punctuation separates). A section heading
    a stored copy ran into the first word ("AbstractPyoderma") is a token of its own."""
    low = text.lower()
    # Without an underscore in the text, \w+ finds the same tokens, faster than [^\W_]+.
    pattern = _TOKEN if "_" in text else _WORD
    if len(low) != len(text):  # a letter that lower-cases to two characters: lower each word
        out = [(m.start(), m.end(), w, w.lower()) for m in pattern.finditer(text) for w in (m.group(),)]
    else:
        out = [(a, b, text[a:b], low[a:b]) for m in pattern.finditer(text) for a, b in (m.span(),)]
    run_in = {m.start(): m.end() for m in _RUN_IN.finditer(text)}
    if not run_in:
        return out
    split: list[_Token] = []
    for token in out:
        start = token[_START]
        cut = run_in.get(start)
        if cut is None or cut >= token[_END]:
            split.append(token)
            continue
        n = cut - start
        split.append((start, cut, token[_TEXT][:n], token[_LOWER][:n]))
        split.append((cut, token[_END], token[_TEXT][n:], token[_LOWER][n:]))
    return split


#: A heading a stored copy ran into the next word ("AbstractPyoderma", "BackgroundSystemic").
_RUN_IN: Final = re.compile(  # the lookahead names the headings' first letters (see _BREAK in text.py)
    r"(?=[ABIOMRCS])(?<![^\W_])(?:Abstract|Background|Introduction|Objectives?|Methods|Results|Conclusions?|Summary)(?=[A-Z][a-z])"
)


def _long_words(text: str, toks: list[_Token]) -> set[str]:
    """The distinct runs of seven letters or more in ``text`` (:data:`_LONG_WORD`), read from its
    tokens: each token is a run of letters and digits, so a token of letters only is a run
    itself and only a token with digits needs the pattern. A text whose tokens were split at a
    run-in heading ("AbstractPyoderma") is read with the pattern, as written."""
    if _RUN_IN.search(text):
        return set(_LONG_WORD.findall(text))
    words = {t[_TEXT] for t in toks if len(t[_TEXT]) >= 7}
    return {w for w in words if w.isalpha()} | {run for w in words if not w.isalpha() for run in _LONG_WORD.findall(w)}


def _key(term: str, lower: bool = True) -> tuple[str, ...]:
    return tuple(t.lower() if lower else t for t in _TOKEN.findall(term))


def _with_singulars(terms: tuple[str, ...]) -> tuple[str, ...]:
    """Class names with the singular of a plural last word added ("an interleukin-12/23
    inhibitor" names the class listed as "interleukin-12/23 inhibitors"); the scan already
    reads a plural in the text as a listed singular."""
    singular = tuple(t[:-1] for t in terms if t.endswith("s") and not t.endswith("ss") and len(t.split()[-1]) > 4)
    return (*terms, *singular)


def _holds(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    """Whether ``part`` occurs in ``words`` as consecutive words."""
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


def explains(short: str, before: str) -> bool:
    """Whether the words just before an abbreviation spell it, as a long form does: its letters
    and digits found right to left in order, the first at the start of a word (Schwartz and
    Hearst's test, 2003). "Soft tissue sarcoma (STS)" spells STS; "micophenolic acid (MMF)"
    does not."""
    chars = [c.lower() for c in short if c.isalnum()]
    if not chars:
        return False
    words = before.split()[-(len(chars) + 5) :]
    long_form = " ".join(words).lower()
    i = len(long_form) - 1
    for k in range(len(chars) - 1, -1, -1):
        c = chars[k]
        while i >= 0 and (long_form[i] != c or (k == 0 and i > 0 and long_form[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return False
        i -= 1
    return True


def merge_vocabularies(topic: Vocabulary, general: GeneralKnowledge | None) -> Vocabulary:
    """The topic's vocabulary with the general interventions and classes it does not override."""
    if general is None:
        return topic
    class_ids = {c.id for c in topic.classes}
    intervention_ids = {i.id for i in topic.interventions}
    return topic.model_copy(
        update={
            "classes": (*topic.classes, *(c for c in general.vocabulary.classes if c.id not in class_ids)),
            "interventions": (
                *topic.interventions,
                *(i for i in general.vocabulary.interventions if i.id not in intervention_ids),
            ),
        }
    )


class Lexicon:
    """A vocabulary compiled for fast matching in running text.

    ``vocabulary`` is the topic's; ``general`` (optional) the interventions shared by every
    topic (:func:`ingest.extraction.resources.general_knowledge`). A topic entry overrides a
    general one with the same id, and a name the topic gives one entry is never read as a
    general entry's name. With ``general``, :meth:`find` also notes the route written with a
    mention ("intralesional triamcinolone") and keeps words shaped like a drug name that no
    resource knows as *unmapped* interventions. An intervention the topic names keeps its name
    whatever the route, unless the topic also names the route's variant.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        general: GeneralKnowledge | None = None,
        *,
        choose: Callable[[str, Collection[str]], str | None] | None = None,
        precedence: Mapping[str, tuple[str, ...]] | None = None,
        question: str = "",
    ) -> None:
        self.topic_vocabulary = vocabulary
        #: The topic's question, lower-cased with single spaces: an outcome it names ("with
        #: what effect on lung function … and survival") is an outcome of the condition.
        self.question = " ".join(question.lower().split())
        self.general = general
        self._choose = choose
        self._precedence = {k: frozenset(v) for k, v in (precedence or {}).items()}
        vocabulary = merge_vocabularies(vocabulary, general)
        self.vocabulary = vocabulary
        self._specs: dict[str, InterventionSpec] = {i.id: i for i in vocabulary.interventions}
        self._names: dict[tuple[str, ...], list[tuple[Kind, str]]] = {}
        self._abbreviations: dict[tuple[str, ...], list[tuple[Kind, str]]] = {}
        self._ambiguous: set[tuple[str, ...]] = set()
        class_level: dict[str | None, str] = {}
        for i in vocabulary.interventions:  # the topic's first: it may name a class differently
            if i.kind == "class":
                class_level.setdefault(i.class_id, i.id)
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
        #: Words of the topic's condition names ("lung", "interstitial" for ILD): an outcome
        #: worded with them is about the condition, never "something else".
        self.condition_words: frozenset[str] = frozenset(
            word.lower() for c in vocabulary.conditions for term in c.terms() for word in _TOKEN.findall(term)
        )
        #: Contexts whose names spell one of the condition's ("peristomal pyoderma gangrenosum",
        #: "pyogenic arthritis, pyoderma gangrenosum and acne"): naming one names the condition.
        condition_keys = {_key(t) for c in vocabulary.conditions for t in c.terms() if len(_key(t)) > 1}
        self.contexts_naming_condition: frozenset[str] = frozenset(
            ctx.id
            for ctx in vocabulary.contexts
            if any(_holds(_key(t), k) for t in ctx.terms() for k in condition_keys)
        )
        #: The condition with the most contexts: the topic's broad one (calcinosis).
        self.broad_condition: str | None = (
            max(vocabulary.conditions, key=lambda c: len(c.contexts)).id if vocabulary.conditions else None
        )
        topic_ids = {i.id for i in self.topic_vocabulary.interventions}
        self._topic_ids = frozenset(topic_ids)
        topic_classes = {c.id for c in self.topic_vocabulary.classes}
        for spec in self.topic_vocabulary.interventions:
            self._add("intervention", spec.id, (spec.name, *spec.synonyms, *spec.brands), spec.abbreviations)
            self._ambiguous.update(_key(a, lower=False) for a in spec.ambiguous_abbreviations)
            self._add("intervention", spec.id, (), spec.ambiguous_abbreviations)
        for cls in self.topic_vocabulary.classes:  # a class named in text stands for its class-level entry
            if cls.id in class_level:
                terms = _with_singulars((cls.name, *cls.synonyms))
                self._add("intervention", class_level[cls.id], terms, cls.abbreviations)
        named: list[tuple[Kind, ConditionSpec | ContextSpec]] = [
            *(("condition", c) for c in vocabulary.conditions),
            *(("context", c) for c in vocabulary.contexts),
        ]
        for kind, entry in named:
            terms = (entry.name, *entry.synonyms)
            self._add(kind, entry.id, terms, (*entry.abbreviations, *entry.ambiguous_abbreviations))
            self._ambiguous.update(_key(a, lower=False) for a in entry.ambiguous_abbreviations)
        for term, target in vocabulary.mappings.items():  # a maintainer's mapping (kb vocab map)
            self._names[_key(term)] = [("intervention", target)]
        if general is not None:  # after the topic's names, and never over them
            self._add("other", NOT_TREATMENT, general.not_treatments, (), only_new=True)
            for spec in general.vocabulary.interventions:
                if spec.id not in topic_ids:
                    terms = (spec.name, *spec.synonyms, *spec.brands)
                    self._add("intervention", spec.id, terms, spec.abbreviations, only_new=True)
            for cls in general.vocabulary.classes:
                if cls.id not in topic_classes and cls.id in class_level:
                    terms = _with_singulars((cls.name, *cls.synonyms))
                    self._add("intervention", class_level[cls.id], terms, cls.abbreviations, only_new=True)
        self._routes = {_key(term): label for term, label in (general.routes.items() if general else ())}
        # A word built on an INN stem, with at least four letters before it ("concept" is not a name).
        self._stems = tuple(general.inn_stems) if general else ()
        # Stems by length, so a word's endings are looked up rather than each stem tried in turn.
        self._stems_by_length: dict[int, frozenset[str]] = {
            n: frozenset(s for s in self._stems if len(s) == n) for n in sorted({len(s) for s in self._stems})
        }
        self._longest = max((len(k) for k in (*self._names, *self._abbreviations)), default=1)
        self._name_prefixes = {k[:n] for k in self._names for n in range(1, len(k) + 1)}
        self._abbreviation_prefixes = {k[:n] for k in self._abbreviations for n in range(1, len(k) + 1)}
        # First words of every term: most tokens start none, and are passed over with one lookup.
        self._starts = frozenset(k[0] for k in self._names)
        self._abbreviation_starts = frozenset(k[0] for k in self._abbreviations)
        self._stem_words: dict[str, bool] = {}  # word → whether it ends in an INN stem
        self._spelling: dict[str, tuple[str, ...]] | None = None  # see _spelling_index
        self._mesh: dict[str, tuple[Kind, str]] = {}
        for spec in vocabulary.interventions:
            if spec.mesh:
                self._mesh[spec.mesh] = ("intervention", spec.id)
        for kind, entry in named:
            if entry.mesh:
                self._mesh[entry.mesh] = (kind, entry.id)

    def _add(
        self, kind: Kind, id_: str, names: Iterable[str], abbreviations: Iterable[str], *, only_new: bool = False
    ) -> None:
        for name in names:
            key = _key(name)
            if only_new and key in self._names:
                continue
            if key and (kind, id_) not in self._names.setdefault(key, []):
                self._names[key].append((kind, id_))
        for abbreviation in abbreviations:
            key = _key(abbreviation, lower=False)
            if only_new and key in self._abbreviations:
                continue
            if key and (kind, id_) not in self._abbreviations.setdefault(key, []):
                self._abbreviations[key].append((kind, id_))

    # -- abbreviations defined in the text ----------------------------------------------

    def definitions(
        self, text: str, toks: list[_Token] | None = None
    ) -> dict[tuple[str, ...], tuple[Kind, str] | None]:
        """Abbreviations the text defines, each mapped to the vocabulary entry it stands for.

        ``long form (SHORT)``: when a vocabulary term ends just before the parenthesis and
        starts with the abbreviation's first letter, SHORT means that entry; otherwise SHORT
        means something the vocabulary does not know (``None``), unless a vocabulary term
        ends there and the vocabulary has SHORT as an abbreviation of its own (then that
        meaning stands: "systemic sclerosis-related interstitial lung disease (SSc-ILD)").
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
            adjacent = False  # a vocabulary term ends just before the parenthesis
            for mention in self._scan(toks[max(0, stop - self._longest - 2) : stop], {}, abbreviations=False):
                gap = _GAP_FILLER.sub("", text[mention.end : m.start()])
                adjacent = adjacent or gap.strip(" -") == ""
                if gap.strip(" -") == "" and mention.text[:1].lower() == short[:1].lower():
                    meaning = (mention.kind, mention.id)
            if meaning is None and not adjacent and stop and self.general is not None:
                # "predonisolone (PSL)": a misspelt drug name defines its abbreviation too.
                word = toks[stop - 1]
                if (
                    not _GAP_FILLER.sub("", text[word[_END] : m.start()]).strip(" -")
                    and word[_LOWER][:1] == short[:1].lower()
                ):
                    meaning = self._misspelled(word[_LOWER]) if (word[_LOWER],) not in self._names else None
            long_form = text[max(0, m.start() - 12 * len(short)) : m.start()]  # the words that may spell it
            vocabulary_meaning = self._abbreviations.get(key) if key not in self._ambiguous else None
            if (
                meaning is not None
                and vocabulary_meaning
                and meaning not in vocabulary_meaning
                and not explains(short, long_form)
            ):
                # "mycophenolate (MMF)": the words before do not spell MMF, which the vocabulary
                # knows (mycophenolate mofetil); its meaning stands.
                continue
            known = meaning is None and bool(vocabulary_meaning)
            if known and (adjacent or not explains(short, long_form)):
                # "systemic sclerosis-related interstitial lung disease (SSc-ILD)": a term of the
                # vocabulary ends there; "micophenolic acid (MMF)": the words before do not spell
                # MMF. The vocabulary's own meaning stands.
                continue
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

        ``toks`` are the text's tokens when the caller has them already. With general
        knowledge, a route written with an intervention is noted on its mention (see
        :meth:`routed`), and words shaped like a drug name that nothing else matched are added
        as unmapped interventions.
        """
        toks = tokens(text) if toks is None else toks
        found = self._scan(toks, definitions or {}, abbreviations=True)
        if self.general is None:
            return found
        return self._unmapped(text, self._with_routes(toks, found), toks)

    # -- disease contexts --------------------------------------------------------------------

    def choose_context(self, condition: str, candidates: Collection[str]) -> str | None:
        """The context an article naming ``candidates`` is labelled with, by the topic's label
        precedence (:meth:`kb.topic.TopicPack.choose_context`); None when nothing decides."""
        return self._choose(condition, candidates) if self._choose else None

    def ranked_contexts(self, condition: str) -> frozenset[str]:
        """The contexts the topic's label precedence ranks for ``condition``."""
        return self._precedence.get(condition, frozenset())

    # -- general knowledge: interventions by id, routes, unmapped names ---------------------

    def intervention(self, intervention_id: str) -> InterventionSpec:
        """The entry of an intervention id, including route variants and unmapped ones.

        Raises:
            KeyError: the id is neither a known entry nor derived from one.
        """
        spec = self._specs.get(intervention_id)
        if spec is not None:
            return spec
        base_id, route = split_route(intervention_id)
        if route:
            base = self.intervention(base_id)
            return InterventionSpec(
                id=intervention_id,
                name=f"{base.name} ({route})",
                kind=base.kind,
                class_id=base.class_id,  # type: ignore[call-arg]  # the field's name; "class" is its alias
                atc=base.atc,
            )
        if intervention_id.startswith(UNMAPPED_PREFIX):
            name = intervention_id[len(UNMAPPED_PREFIX) :].replace("-", " ")
            return InterventionSpec(id=intervention_id, name=name, kind="unmapped")
        raise KeyError(intervention_id)

    def _with_routes(self, toks: list[_Token], mentions: list[Mention]) -> list[Mention]:
        general = self.general
        if not self._routes or general is None:
            return mentions
        token_starts = [t[_START] for t in toks]
        out = []
        for m in mentions:
            route = None
            if m.kind == "intervention" and ROUTE_SEPARATOR not in m.id:
                at = bisect.bisect_left(token_starts, m.start)
                first = at if at < len(toks) and toks[at][_START] == m.start else None
                end = bisect.bisect_left(token_starts, m.end) - 1
                last = end if end >= 0 and toks[end][_END] == m.end else None
                route = self._route_before(toks, first) if first is not None else None
                if route is None and last is not None and last + 1 < len(toks):
                    route = self._routes.get((toks[last + 1][_LOWER],))
                    route = route if route == "topical" else None  # "tacrolimus ointment"
            out.append(Mention(m.kind, m.id, m.start, m.end, m.text, m.abbreviation, route) if route else m)
        return out

    def _route_before(self, toks: list[_Token], first: int) -> str | None:
        """A route written just before a mention: "intralesional", "IV pulse", "oral low-dose"."""
        j = first - 1
        skipped = 0
        while j >= 0 and skipped <= 2 and toks[j + 1][_START] - toks[j][_END] <= 2:
            word = toks[j][_LOWER]
            route = self._routes.get((word,))
            if route:
                return route
            if word not in _ROUTE_FILLERS:
                return None
            skipped += 1
            j -= 1
        return None

    def routed(self, intervention_id: str, route: str | None) -> str:
        """The id of ``intervention_id`` given by ``route``: its route variant when the route
        distinguishes the intervention (see the general table), else the id itself."""
        if not route or self.general is None or not self.general.route_distinguishes(intervention_id, route):
            return intervention_id
        if intervention_id.startswith(UNMAPPED_PREFIX) or ROUTE_SEPARATOR in intervention_id:
            return intervention_id
        base = self.intervention(intervention_id)
        if base.kind == "combination":
            return intervention_id
        named = self._names.get(_key(f"{base.name} {route}")) or self._names.get(_key(f"{route} {base.name}"))
        for kind, id_ in named or ():
            if kind == "intervention":
                return id_  # the vocabulary has this route's entry ("topical corticosteroids")
        if intervention_id in self._topic_ids:
            return intervention_id  # the topic names this intervention and no route variant of it
        return f"{intervention_id}{ROUTE_SEPARATOR}{route}"

    def _has_inn_stem(self, word: str) -> bool:
        """Whether ``word`` ends in an INN stem with at least four letters before it (memoised
        per word: an abstract's words are mostly the words of the abstracts before it)."""
        known = self._stem_words.get(word)
        if known is None:
            known = any(len(word) >= n + 4 and word[-n:] in stems for n, stems in self._stems_by_length.items())
            if len(self._stem_words) < 200_000:
                self._stem_words[word] = known
        return known

    def _misspelled(self, word: str) -> tuple[Kind, str] | None:
        """The one drug name ``word`` is a misspelling of ("predonisolone"), or None.

        A misspelling is one letter added, dropped or changed, or two neighbours swapped, in a
        single-word drug name of at least eight letters with the same first letter; a word
        within that distance of two names is not guessed.
        """
        if len(word) < 8:
            return None
        index = self._spelling_index()
        found: set[tuple[Kind, str]] = set()
        for variant in (word, *(word[:i] + word[i + 1 :] for i in range(1, len(word)))):
            for name in index.get(variant, ()):  # a letter dropped from the name, or changed
                found.update(self._names[(name,)])
            if variant != word and (variant,) in self._names and variant[0] == word[0]:
                found.update(self._names[(variant,)])  # a letter added to the name
        found = {(k, i) for k, i in found if k == "intervention"}
        return next(iter(found)) if len(found) == 1 else None

    def _spelling_index(self) -> dict[str, tuple[str, ...]]:
        """Single-word intervention names of eight letters or more, by each one-letter deletion
        (keeping the first letter) and by themselves; built on first use."""
        if self._spelling is None:
            index: dict[str, list[str]] = {}
            for key, hits in self._names.items():
                if len(key) != 1 or len(key[0]) < 8 or not key[0].isalpha():
                    continue
                if not any(kind == "intervention" for kind, _ in hits):
                    continue
                name = key[0]
                for i in range(1, len(name)):
                    index.setdefault(name[:i] + name[i + 1 :], []).append(name)
            self._spelling = {k: tuple(v) for k, v in index.items()}
        return self._spelling

    def _unmapped(self, text: str, mentions: list[Mention], toks: list[_Token]) -> list[Mention]:
        if not self._stems:
            return mentions
        # The abstract's distinct long words are few: test those, then find where the rare hits are.
        hits = {
            w
            for w in _long_words(text, toks)
            if not w.isupper() and self._has_inn_stem(w.lower()) and (w.lower(),) not in self._names
        }
        covered = [(m.start, m.end) for m in mentions]
        extra = []
        for word in sorted(hits):
            spelled = self._misspelled(word.lower())
            kind: Kind = spelled[0] if spelled else "intervention"
            id_ = spelled[1] if spelled else UNMAPPED_PREFIX + slug(word.lower())
            for match in re.finditer(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", text):
                start = match.start()
                if any(a <= start < b for a, b in covered):
                    continue
                extra.append(Mention(kind, id_, start, match.end(), word))
        if not extra:
            return mentions
        return sorted([*mentions, *extra], key=lambda m: (m.start, m.end))

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
        names, name_prefixes, starts = self._names, self._name_prefixes, self._starts
        exact_prefixes, exact_starts = self._abbreviation_prefixes, self._abbreviation_starts
        if definitions:
            exact_prefixes = exact_prefixes | {k[:n] for k in definitions for n in range(1, len(k) + 1)}
            exact_starts = exact_starts | {k[0] for k in definitions}
        count, longest = len(toks), self._longest
        # The positions where some term can start, found in one pass (most words start none).
        candidates = [
            i
            for i, (_, _, exact_word, first) in enumerate(toks)
            if first in starts
            or exact_word in exact_starts
            or (len(first) > 3 and first[-1] == "s" and first[:-1] in starts)
        ]
        free = 0  # the first token not inside a mention found so far
        for i in candidates:
            if i < free:
                continue
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
                continue
            window = toks[i : best_end + 1]
            text = " ".join(t[_TEXT] for t in window)
            for kind, id_ in hits or ():
                out.append(Mention(kind, id_, window[0][_START], window[-1][_END], text, is_abbreviation))
            if len(window) > 1 and hits and all(kind == "context" for kind, _ in hits):
                # "hyperphosphatemic familial tumoral calcinosis" also names the condition.
                out.extend(m for m in self._scan(window[1:], {}, abbreviations=False) if m.kind == "condition")
            if len(window) > 1 and hits and all(kind == "condition" for kind, _ in hits):
                # "SSc-ILD", "scleroderma lung disease" also name the disease context.
                out.extend(m for m in self._scan(window[:-1], definitions, abbreviations=True) if m.kind == "context")
            free = best_end + 1
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


def topic_lexicon(pack: TopicPack, excluded_topics: frozenset[str] = frozenset()) -> Lexicon:
    """The lexicon extraction uses for a topic: its vocabulary over the general interventions.

    ``excluded_topics`` leaves out the general table's rows those topics taught (a
    leave-one-topic-out fold). Compiled lexicons are cached per vocabulary and exclusion.
    """
    labels = {k: v.model_dump_json() for k, v in pack.spec.condition_labels.items()}
    key = (pack.vocabulary.model_dump_json(), repr(sorted(labels.items())), pack.spec.question, excluded_topics)
    lexicon = _LEXICONS.get(key)
    if lexicon is None:
        if len(_LEXICONS) >= 8:
            _LEXICONS.pop(next(iter(_LEXICONS)))
        lexicon = _LEXICONS[key] = Lexicon(
            pack.vocabulary,
            general_knowledge(excluded_topics),
            choose=pack.choose_context,
            precedence={k: v.precedence for k, v in pack.spec.condition_labels.items()},
            question=pack.spec.question,
        )
    return lexicon


_LEXICONS: dict[tuple[str, str, str, frozenset[str]], Lexicon] = {}
