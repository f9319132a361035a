"""The rule-based extractor: vocabulary mentions, response cues, counts and study design.

How an abstract becomes findings:

1. The article must be *about* a condition of the topic (named in the title, twice in the
   abstract, or in its MeSH headings); otherwise it yields nothing.
2. Article-level facts are settled once: the condition and disease context the article is
   framed by, its study design (publication types, then wording), the number of patients
   treated, and its main intervention (named in the title or in a "treated with" sentence).
3. Each sentence that can state a result (not an aim, a method or background of a primary
   study; not about prevention) and carries a response cue becomes a candidate finding for
   each intervention it names, or — when it names none, as in "Eight patients improved" —
   for the intervention the article or the preceding sentences are about. Interventions
   given together ("prednisolone and methotrexate" in a case, "combined with", "plus") form
   a combination; a list in a review ("diltiazem and bisphosphonates might be useful") gives
   one finding each.
4. The response comes from the cues of the intervention's clause, in precedence order:
   a responder fraction strictly between 0 and 100 % → mixed; worsening; failure or
   negated improvement → none; stopped or inconclusive → unclear; then partial, complete,
   improved. Hedging ("may be effective") keeps the direction.
5. Candidates for the same intervention and condition are merged: the best-supported
   sentence (explicit intervention, counts, condition named, no hedge) is kept.
6. Each finding's confidence is its probability under a model learned from the corpora over
   what the rules saw (:mod:`ingest.extraction.confidence`); :func:`extractor_with` takes
   another model, or None for the rules' own score.

Field cues are in :mod:`ingest.extraction.fields`; every cue pattern is a
:class:`ingest.extraction.patterns.Cue`.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingest.extraction import cues, fields
from ingest.extraction.confidence import Model, shipped_confidence
from ingest.extraction.design import study_design
from ingest.extraction.lexicon import Kind, Lexicon, Mention, tokens
from ingest.extraction.patterns import cue
from ingest.extraction.text import ArticleText, Sentence, clean, section_family, split_sentences
from ingest.extractors import Extraction, register

NAME = "rules"
VERSION = "2.2.0"

_PRIMARY = frozenset({"rct", "prospective_cohort", "retrospective_cohort", "case_series", "case_report", "other"})
_REVIEWS = frozenset({"review", "systematic_review"})
# Between two interventions given together: "and", "plus", "with", "combined with", "+".
_JOIN = cue(
    r"^[\s,]*(?:\[[^\]]*\]|\([^)]*\)|[\s,])*(?P<word>\+|plus|and|with|together\s+with|in\s+combination\s+with"
    r"|(?:was|were)?\s*combined\s+with|and\s+(?:[\w-]+\s+){1,4}?(?:of\s+)?)\s*(?:[\w-]+\s+){0,4}?$",
    re.IGNORECASE,
)
#: A series of at most this many patients reads "treated with A and B" as given together, as a case does.
_FEW_TOGETHER = 3
_COMBINATION_WORDS = cue(r"\b(?:combin\w+|plus|together\s+with|in\s+addition\s+to|\+)", re.IGNORECASE)
_POPULATION_AFTER = cue(
    r"^\s*\)?\s*(?:\([^)]{1,12}\)\s*)?(?:-?\s*(?:patients?|population|vintage|dependen\w+|access|units?|cent(?:er|re)s?)"
    r"|-\s*(?:associated|induced|related|triggered|provoked|sparing)|\s+(?:doses?|dosages?|requirements?)\s+(?:was|were|decreas|reduc|fell|tapered))\b",
    # "rituximab-associated PG": a cause; "steroid-sparing", "prednisone doses were reduced": less of it, not its effect
    re.I,
)
_POPULATION_BEFORE = cue(
    r"\b(?:on|undergoing|history\s+of|requiring|not\s+on|transition\w*\s+to|converted\s+to"
    r"|alternatives?\s+to|instead\s+of|other\s+than|declined|refused|contraindicat\w*\s+(?:to|for)"
    r"|(?:tapering|taper(?:ed)?|reduc\w+|decreas\w+|lower(?:ed|ing)?|withdrawal)\s+(?:\w+\s+){0,3}?(?:of|in|from)"
    r"|(?:mean|median|daily|cumulative|total)\s+(?:doses?|dosages?)\s+of)"
    r"\s+(?:[\w-]+\s+){0,3}$",  # "declined cyclophosphamide", "the doses of prednisone decreased": not given for it
    re.IGNORECASE,
)
_FIRST_PERSON = cue(r"\b(?:we|our|the\s+patient|this\s+patient|this\s+case|she|he)\b", re.IGNORECASE)
_TREATED_WITH = cue(
    r"\b(?:treated|treatment|therapy|managed|initiated|started|received|underwent|use|used|injections?|efficacy|effects?"
    r"|experience)\b",
    re.IGNORECASE,
)
_MIXED_POPULATION = cue(
    r"\b(?:connective\s+tissue\s+(?:diseases|disorders)|rheumatic\s+(?:diseases|conditions|disorders)"
    r"|autoimmune\s+(?:diseases|disorders|connective))\b",
    re.IGNORECASE,
)
#: A patient described as a child: "a 15-year-old male" (juvenile onset is before 18).
_CHILD_PATIENT = cue(r"\b(?:[1-9]|1[0-7])[- ]years?[- ]old\b", re.IGNORECASE)
_RESULT_FAMILIES = frozenset({"results", "conclusions", ""})
#: Any word that can state a response; a sentence without one cannot hold a finding.
_ANY_CUE = cue(
    "|".join(
        p.pattern
        for p in (
            cues.POSITIVE,
            cues.NEGATED,
            cues.WORSENED,
            cues.UNCLEAR,
            cues.COMPLETE,
            cues.NO_NEW,
            cues.FAILED_BEFORE,
        )
    ),
    re.IGNORECASE,
)
_ABOUT_TREATMENT = cue(r"\b(?:treat\w*|therap\w*|efficac\w*|effect\w*|promise|stopped|discontinu\w*|withdrawn)", re.I)


@dataclass(slots=True)
class _Group:
    """Interventions a sentence reports together (one id, or a combination's components)."""

    ids: tuple[str, ...]
    start: int
    end: int
    text: str


@dataclass(slots=True)
class _Candidate:
    group: _Group
    condition: str
    context: str | None
    response: str
    n_treated: int | None
    n_responded: int | None
    sentence: Sentence
    score: float
    signals: dict[str, float] = field(default_factory=dict)  # what the rules saw (features of confidence)

    def extraction(
        self, ids: tuple[str, ...], design: str, confidence: float, text: str, described: Described
    ) -> Extraction:
        """This candidate as an extractor's output, for interventions ``ids``."""
        return Extraction(
            interventions=ids,
            condition_id=self.condition,
            context_id=self.context,
            response=self.response,
            study_design=design,
            n_treated=self.n_treated,
            n_responded=self.n_responded,
            evidence=self.sentence.text,
            start=self.sentence.start,
            end=self.sentence.end,
            confidence=confidence,
            intervention_text=text,
            **described.of(self.group.ids, self.sentence.text),
        )


@dataclass(slots=True)
class _Article:
    """Everything settled once per article."""

    lexicon: Lexicon
    text: str
    title: str
    sentences: list[Sentence]
    mentions: list[list[Mention]]
    title_mentions: list[Mention]
    condition: str
    context: str | None
    design: str
    n_treated: int | None
    main: list[_Group] = field(default_factory=list)
    main_from_title: bool = False
    routes: dict[str, str] = field(default_factory=dict)  # intervention id → the route the article states
    counted: dict[int, int | None] = field(default_factory=dict)  # sentence index → _treated_here of it

    def treated_in(self, sentence: Sentence) -> int | None:
        """:func:`_treated_here` of one of the article's sentences, worked out once."""
        if sentence.index not in self.counted:
            self.counted[sentence.index] = _treated_here(sentence.text)
        return self.counted[sentence.index]


@register(NAME, VERSION)
def extract(article: ArticleText, lexicon: Lexicon) -> list[Extraction]:
    """Findings of one article (see the module documentation for the rules), each with the
    confidence the shipped model gives it (:mod:`ingest.extraction.confidence`)."""
    return extract_with(article, lexicon, shipped_confidence())


def extractor_with(model: Model | None) -> Callable[[ArticleText, Lexicon], list[Extraction]]:
    """The rules extractor with a confidence model (a fold's, or None for the rules' own
    heuristic score, which is what a confidence model learns from)."""
    return functools.partial(_extract_with_model, model=model)


def _extract_with_model(article: ArticleText, lexicon: Lexicon, *, model: Model | None) -> list[Extraction]:
    return extract_with(article, lexicon, model)


def extract_with(article: ArticleText, lexicon: Lexicon, model: Model | None) -> list[Extraction]:
    """Findings of one article, their confidence from ``model`` (None: the heuristic score)."""
    doc = _read(article, lexicon)
    if doc is None or cues.about_prevention(doc.title):  # about preventing it, not treating it
        return []
    return _merge(doc, candidate_findings(doc), model)


def candidate_findings(doc: _Article) -> list[_Candidate]:
    """Every candidate finding of an article, before candidates of one finding are merged."""
    candidates: list[_Candidate] = []
    recent: list[list[_Group]] = []
    for sentence, mentions in zip(doc.sentences, doc.mentions, strict=True):
        groups = _groups(doc, sentence, [m for m in mentions if m.kind == "intervention"])
        candidates.extend(_candidates(doc, sentence, mentions, groups, recent))
        recent = [*recent[-2:], groups] if groups else recent
    return candidates


def scored_findings(article: ArticleText, lexicon: Lexicon) -> list[tuple[Extraction, dict[str, float]]]:
    """The article's findings with the features a confidence model weighs (for training one)."""
    doc = _read(article, lexicon)
    if doc is None or cues.about_prevention(doc.title):
        return []
    candidates = candidate_findings(doc)
    merged, kept = _merge(doc, candidates, None), _kept(doc, candidates)
    return [(e, features(doc, c, kept)) for e, c in zip(merged, kept, strict=True)]


# -- reading the article ------------------------------------------------------------------


def read_article(article: ArticleText, lexicon: Lexicon) -> _Article | None:
    """The article as this extractor reads it (sentences, mentions, condition, context, design,
    counts, main interventions, routes), or None when it is not about one of the topic's
    conditions. Other extractors build on this reading."""
    return _read(article, lexicon)


def _read(article: ArticleText, lexicon: Lexicon) -> _Article | None:
    text = clean(article.abstract or "")
    title = clean(article.title or "")
    toks = tokens(text)
    definitions = {**lexicon.definitions(title), **lexicon.definitions(text, toks)}
    sentences = split_sentences(text)
    mentions = _by_sentence(sentences, lexicon.find(text, definitions, toks))
    title_mentions = lexicon.find(title, definitions)
    indexed = lexicon.from_mesh((*article.mesh, *article.chemicals))
    condition = _condition(lexicon, title_mentions, mentions, indexed)
    if condition is None:
        return None
    stated = _stated_treated(text)
    design = study_design(article.publication_types, title, sentences, stated)
    context = _context(
        lexicon, condition, title, text, title_mentions, mentions, indexed, sentences, review=design in _REVIEWS
    )
    doc = _Article(
        lexicon=lexicon,
        text=text,
        title=title,
        sentences=sentences,
        mentions=mentions,
        title_mentions=title_mentions,
        condition=condition,
        context=context,
        design=design,
        n_treated=1 if design == "case_report" else None if design in _REVIEWS else stated,
    )
    doc.main, doc.main_from_title = _main_interventions(doc)
    for m in (*title_mentions, *(m for ms in mentions for m in ms)):
        if m.route and m.kind == "intervention":
            doc.routes.setdefault(m.id, m.route)
    return doc


def _by_sentence(sentences: list[Sentence], mentions: list[Mention]) -> list[list[Mention]]:
    """Mentions grouped by the sentence holding them (a mention across two is dropped)."""
    out: list[list[Mention]] = [[] for _ in sentences]
    starts = [s.start for s in sentences]
    for m in mentions:
        i = bisect.bisect_right(starts, m.start) - 1
        if i >= 0 and m.end <= sentences[i].end:
            out[i].append(m)
    return out


def _condition(
    lexicon: Lexicon, title: list[Mention], body: list[list[Mention]], indexed: list[tuple[Kind, str]]
) -> str | None:
    """The condition the article is about, or None when it is not about one of the topic's."""
    votes: Counter[str] = Counter()
    in_title = {m.id for m in title if m.kind == "condition"}
    for m in title:
        if m.kind == "condition":
            votes[m.id] += 3
    for mentions in body:
        for m in mentions:
            if m.kind == "condition":
                votes[m.id] += 1
    for kind, id_ in indexed:
        if kind == "condition":
            votes[id_] += 2
    if not votes:
        return None
    # A named specific condition (tumoral calcinosis, calciphylaxis) is preferred to the
    # broad one it is a form of when both are in the title.
    broad = lexicon.broad_condition
    specific_in_title = [c for c in in_title if c != broad]
    if specific_in_title:
        return max(specific_in_title, key=lambda c: (votes[c], c))
    return max(votes, key=lambda c: (votes[c], c != broad, c))


def _context(
    lexicon: Lexicon,
    condition: str,
    title: str,
    text: str,
    title_mentions: list[Mention],
    body: list[list[Mention]],
    indexed: list[tuple[Kind, str]],
    sentences: list[Sentence] | None = None,
    *,
    review: bool = False,
) -> str | None:
    """The disease context the article's population is framed by; None when mixed or unsaid.

    A context named in background sentences ("PG often accompanies inflammatory bowel
    disease") weighs half as much as one naming the population, and one named *only* in a
    Background or Introduction section (not in the title, its objective or the MeSH headings)
    does not frame it. When several contexts are
    named, the topic's label precedence (``condition_labels.precedence``) decides where it ranks
    them (peristomal before inflammatory bowel disease). A review pools populations: a context
    its abstract names once, in its results ("patients with concurrent IBD may benefit"), does
    not frame it.
    """
    allowed = lexicon.condition_contexts.get(condition, frozenset())
    families = lexicon.context_family
    in_title = {families[m.id] for m in title_mentions if m.kind == "context" and m.id in allowed}
    if _MIXED_POPULATION.search(title):
        return None
    if len(in_title) > 1:
        return lexicon.choose_context(condition, {m.id for m in title_mentions if m.kind == "context"})
    votes: Counter[str] = Counter()
    for m in title_mentions:
        if m.kind == "context" and m.id in allowed:
            votes[m.id] += 6
    framed = False  # whether a context is named outside a labelled background section
    for i, mentions in enumerate(body):
        background = sentences is not None and _is_background(sentences[i])
        for m in mentions:
            if m.kind == "context" and m.id in allowed:
                votes[m.id] += 1 if background else 2
                framed = framed or sentences is None or not _BACKGROUND_LABEL.search(sentences[i].section)
    if not framed and not in_title:
        votes.clear()  # "PG often accompanies IBD": what the disease is like, not who was studied
    if review and not in_title and sentences is not None:
        named = [
            (i, m.id) for i, mentions in enumerate(body) for m in mentions if m.kind == "context" and m.id in allowed
        ]
        framing = any(i < 2 or section_family(sentences[i].section) in {"background", "methods"} for i, _ in named)
        if len(named) < 2 and not framing:
            votes.clear()
    for kind, id_ in indexed:
        if kind == "context" and id_ in allowed:
            votes[id_] += 4
    if not votes:
        return None
    ranked = lexicon.ranked_contexts(condition) & set(votes)
    by_family: Counter[str] = Counter()
    for id_, n in votes.items():
        by_family[families[id_]] += n
    if in_title:
        family = next(iter(in_title))
    else:
        family, top = by_family.most_common(1)[0]
        if top < 0.75 * sum(by_family.values()):
            return lexicon.choose_context(condition, set(votes))
    members = {id_: n for id_, n in votes.items() if families[id_] == family}
    # The more specific member (juvenile dermatomyositis) when it holds a fair share.
    specific = [i for i in members if i != family and members[i] * 2 >= sum(members.values())]
    chosen = specific[0] if specific else family
    child = lexicon.juvenile_form.get(family)
    if chosen == family and child and _CHILD_PATIENT.search(text):
        chosen = child
    if ranked - {chosen}:
        return lexicon.choose_context(condition, ranked | {chosen}) or chosen
    return chosen


#: Section labels of what is known before the study (an objective or aim names who is studied).
_BACKGROUND_LABEL = cue(r"\b(?:background|introduction)\b")


def _is_background(sentence: Sentence) -> bool:
    """A sentence of the background (a labelled section, or the opening of an unlabelled abstract)."""
    family = section_family(sentence.section)
    return family == "background" or (sentence.index == 0 and not family)


def _stated_treated(text: str) -> int | None:
    """How many patients the abstract says were treated or reported, when it says so."""
    n = _treated_here(text)
    if n:
        return n
    bracketed = re.search(r"\(\s*(?P<n>\d{1,4})\s*\)\s+patients\b", text)  # "in 85.7% (12) patients"
    return int(bracketed.group("n")) if bracketed else None


def _main_interventions(doc: _Article) -> tuple[list[_Group], bool]:
    """What the article is about treating with, and whether the title names it: from the
    title, else a "treated with" sentence."""
    title_sentence = Sentence(-1, 0, len(doc.title), doc.title, "title")
    titled = _groups(doc, title_sentence, [m for m in doc.title_mentions if m.kind == "intervention"])
    in_text: list[_Group] = []
    for sentence, mentions in zip(doc.sentences, doc.mentions, strict=True):
        interventions = [m for m in mentions if m.kind == "intervention"]
        if interventions and _TREATED_WITH.search(sentence.text):
            in_text = _groups(doc, sentence, interventions)
            break
    classes = {doc.lexicon.class_of.get(i) for g in titled for i in g.ids if _is_class_level(doc.lexicon, i)}
    if titled and len(classes) == len({i for g in titled for i in g.ids}):
        # The title names a class ("Bisphosphonates for …"); the text names the drug given.
        members = [g for g in in_text if all(doc.lexicon.class_of.get(i) in classes for i in g.ids)]
        if members:
            return members, False
    return (titled, True) if titled else (in_text, False)


def _is_class_level(lexicon: Lexicon, intervention: str) -> bool:
    return lexicon.class_level.get(lexicon.class_of.get(intervention, "")) == intervention


# -- interventions in a sentence ----------------------------------------------------------


def _groups(doc: _Article, sentence: Sentence, mentions: list[Mention]) -> list[_Group]:
    """The sentence's interventions: population descriptors dropped, appositives folded,
    interventions given together joined into combinations."""
    local = sentence.start
    kept: list[Mention] = []
    for m in mentions:
        after = sentence.text[m.end - local : m.end - local + 20]
        before = sentence.text[max(0, m.start - local - 30) : m.start - local]
        if _POPULATION_AFTER.match(after) or _POPULATION_BEFORE.search(before):
            continue
        if kept and kept[-1].id == m.id:
            if sentence.text[kept[-1].end - local : m.start - local].strip() != "(":  # not "X (abbreviation)"
                kept[-1] = m  # "X (500 mg) followed by X (40 mg), Y and Z": the list goes on from the last X
            continue
        kept.append(m)
    kept = _fold_appositives(doc.lexicon, kept, sentence)
    if not kept:
        return []
    few = doc.design == "case_report" or (doc.design == "case_series" and (doc.n_treated or 0) <= _FEW_TOGETHER)
    failed = failed_span(sentence) if doc.design in {"case_report", "case_series"} else None
    listed = _combination_list(sentence)
    # "A and B", "A, B and C" in a case are given together, unless they failed ("managed with A,
    # B and C without improvement": each failed on its own) or are a list of failed treatments.
    after = cues.FAILED_BEFORE.sub(" ", sentence.text[kept[-1].end - local :])  # "for those not responding to X"
    together = few and not cues.NEGATED.search(after)
    combine_and = together or bool(_COMBINATION_WORDS.search(sentence.text))
    groups: list[_Group] = []
    current = [kept[0]]
    for m in kept[1:]:
        if listed and listed[0] <= current[-1].start and m.end <= listed[1]:
            current.append(m)  # "a combination of A, B and C": one combination, commas and all
            continue
        between = sentence.text[current[-1].end - local : m.start - local]
        join = _JOIN.match(between)
        word = join.group("word").lower() if join else ""
        listed_as_failed = failed is not None and failed[0] <= current[-1].start and m.end <= failed[1]
        if listed_as_failed and not _COMBINATION_WORDS.search(between):
            join = None  # "refractory to prednisone and cyclosporine": each failed on its own
        if join and ((word != "and" and not word.startswith("and ")) or combine_and) and "or" not in between.split():
            current.append(m)
        elif together and not listed_as_failed and _LIST_COMMA.match(between) and _closes_with_and(sentence, kept, m):
            current.append(m)  # "treated with A, B and C" in a case: given together
        else:
            groups.append(_group(current, sentence))
            current = [m]
    groups.append(_group(current, sentence))
    return groups


#: What opens a list of treatments given together: "combination therapy with", "a combination
#: of", "triple therapy with", "a regimen of".
_COMBINATION_LEAD = cue(
    r"\bcombinations?\s+(?:\w+\s+){0,2}?(?:of|with)\b|\b(?:dual|double|triple|quadruple)\s+(?:\w+\s+)?"
    r"(?:therapy|treatment|regimen|combination)\s+(?:of|with)\b|\bregimen\s+of\b",
    re.IGNORECASE,
)


def _combination_list(sentence: Sentence) -> tuple[int, int] | None:
    """Offsets (in the text) of a list that a combination cue opens, up to where the sentence
    goes on ("… with A, B and C, which …"), or None."""
    lead = _COMBINATION_LEAD.search(sentence.text)
    if lead is None:
        return None
    end = cues.FAILED_LIST_END.search(sentence.text, lead.end())
    return sentence.start + lead.end(), sentence.start + (end.start() if end else len(sentence.text))


#: A comma between two items of a list (a parenthesis, "at 1 g/day", may sit before it).
_LIST_COMMA = cue(r"^\s*(?:[\w/.-]+\s+){0,2}?(?:\([^)]*\)\s*)?,\s*$", re.I)
#: The last joint of such a list: ", and", "and" (a parenthesis may sit before it).
_LIST_AND = cue(r"^\s*(?:[\w/.-]+\s+){0,2}?(?:\([^)]*\)\s*)?,?\s*and\s+$", re.I)


def _closes_with_and(sentence: Sentence, kept: list[Mention], m: Mention) -> bool:
    """Whether the list ``m`` continues ends with "and" before a later mention ("A, B and C")."""
    later = [n for n in kept if n.start >= m.end]
    for n in later[:3]:
        between = sentence.text[m.end - sentence.start : n.start - sentence.start]
        if _LIST_AND.match(between):
            return True
        if not _LIST_COMMA.match(between):
            return False
        m = n
    return False


def failed_span(sentence: Sentence) -> tuple[int, int] | None:
    """Offsets (in the text) of a list of treatments that failed before ("refractory to X, Y and
    Z", "despite X"), from its cue to where the sentence goes on to what happened next."""
    cue = cues.FAILED_BEFORE.search(sentence.text)
    if cue is None:
        return None
    end = cues.FAILED_LIST_END.search(sentence.text, cue.end())
    stop = end.start() if end else len(sentence.text)
    return sentence.start + cue.start(), sentence.start + stop


#: Between a drug and a class that describes it: ", a", ", an anti-IL-23", "(a".
_APPOSITIVE = cue(r"^\s*[,(]\s*(?:a|an|the)\s+(?:[\w-]+\s+){0,3}$", re.I)


def _fold_appositives(lexicon: Lexicon, mentions: list[Mention], sentence: Sentence) -> list[Mention]:
    """Drop a class named next to one of its members ("the JAK-inhibitor tofacitinib",
    "pamidronate, a second-generation bisphosphonate"), and a class in apposition to a drug
    ("tildrakizumab, a biologic agent")."""
    out: list[Mention] = []
    for i, m in enumerate(mentions):
        neighbours = [
            n for n in (mentions[i - 1] if i else None, mentions[i + 1] if i + 1 < len(mentions) else None) if n
        ]
        cls = lexicon.class_of.get(m.id)
        if (
            i
            and lexicon.class_level.get(cls or "") == m.id
            and _APPOSITIVE.match(sentence.text[mentions[i - 1].end - sentence.start : m.start - sentence.start])
        ):
            continue  # "tildrakizumab, a biologic agent": what the drug named before it is
        if lexicon.class_level.get(cls or "") == m.id and any(
            n.id != m.id
            and lexicon.class_of.get(n.id) == cls
            and len(sentence.text[min(m.end, n.end) - sentence.start : max(m.start, n.start) - sentence.start]) < 35
            for n in neighbours
        ):
            continue
        out.append(m)
    return out


def _group(mentions: list[Mention], sentence: Sentence) -> _Group:
    start, end = mentions[0].start, mentions[-1].end
    text = sentence.text[start - sentence.start : end - sentence.start]
    return _Group(tuple(sorted({m.id for m in mentions})), start, end, text)


# -- candidate findings -------------------------------------------------------------------


def _candidates(
    doc: _Article,
    sentence: Sentence,
    mentions: list[Mention],
    groups: list[_Group],
    recent: list[list[_Group]],
) -> list[_Candidate]:
    # Cheapest tests first: this runs for every sentence of every abstract.
    text = sentence.text
    family = section_family(sentence.section)
    primary = doc.design in _PRIMARY
    if family not in _RESULT_FAMILIES and not (family == "background" and not primary):
        return []
    explicit = bool(groups)
    if not explicit and doc.design in _REVIEWS:
        return []
    if not _ANY_CUE.search(text) or cues.NOT_A_RESULT.search(text) or cues.SPONTANEOUS.search(text):
        return []
    if cues.NORMATIVE.search(text) and not _states_counts(text):
        return []  # advice or a requirement, not an outcome
    if primary and cues.LITERATURE.search(text) and not _FIRST_PERSON.search(text):
        return []  # what the literature says, inside a report of the authors' own patients
    has_target = bool(cues.TARGET.search(text)) or any(m.kind == "condition" for m in mentions)
    names_context = any(m.kind == "context" for m in mentions)
    failed = failed_span(sentence) if explicit and doc.design in {"case_report", "case_series"} else None
    if failed and not any(failed[0] <= g.start and g.end <= failed[1] for g in groups):
        failed = None
    if sentence.index == 0 and not _FIRST_PERSON.search(text) and not _states_counts(text) and not failed:
        return []  # an abstract's opening sentence is background
    if not explicit:
        if not (has_target or doc.design == "case_report" or family == "results" or _states_counts(text)):
            return []
        groups = _anaphora(doc, sentence, recent)
        if not groups:
            return []
    if not has_target and names_context:
        return []
    out: list[_Candidate] = []
    for group in groups:
        span = _clause_of(sentence, group) if explicit else (sentence.start, sentence.end)
        clause = doc.text[span[0] : span[1]]
        if not has_target and _off_target(doc.lexicon, clause):
            continue  # this clause's outcome is of something else ("no improvement in the muscle disease")
        response: str | None
        if failed and failed[0] <= group.start and group.end <= failed[1]:
            response = "worsened" if cues.WORSENED.search(clause) else "none"  # a treatment that failed before
        else:
            if failed and span[0] <= failed[0] and failed[1] <= span[1]:  # read the clause without the failed list
                a, b = failed[0] - span[0], failed[1] - span[0]
                clause = clause[:a] + " " * (b - a) + clause[b:]
            response = _response(clause) or (_response(text) if explicit else None)
        if response is None:
            continue
        if response in {"improved", "complete", "partial"} and _is_comparator(sentence, groups, group):
            continue  # "reduced mortality with rituximab compared to TNF inhibitors": what it was compared with
        if response == "improved" and doc.design != "rct" and _only_slowed(clause):
            response = "none"  # "slows the decline" without a comparator: stabilisation
        if (
            response == "improved"
            and doc.design == "case_report"
            and _HEALED.search(clause)
            and not _SHORT_OF.search(clause)
        ):
            response = "complete"  # one patient whose ulcers healed: all treated resolved
        context = _clause_context(doc, span, mentions) if explicit else doc.context
        n_treated, n_responded, fraction = _counts(doc, sentence, clause, group)
        response = _with_counts(response, n_treated, n_responded, fraction, bool(_COMPARED.search(clause)))
        if response in {"none", "worsened"} and fraction == 1.0:
            n_responded = 0  # "both cases ... without improvement": all of them, none responding
        if doc.design == "case_report" and n_treated == 1 and n_responded is None:
            n_responded = (
                1
                if response in {"complete", "partial", "improved"}
                else 0
                if response in {"none", "worsened"}
                else None
            )
        counted = n_responded is not None or fraction is not None
        hedged = bool(cues.HEDGE.search(clause))
        score = 0.4 + 0.15 * explicit + 0.25 * counted + 0.1 * has_target
        score += {"results": 0.1, "conclusions": 0.03}.get(family, 0.0) - 0.1 * hedged
        signals = {
            "explicit": float(explicit),
            "counted": float(counted),
            "names_condition": float(has_target),
            "hedged": float(hedged),
            "failed_before": float(bool(failed and failed[0] <= group.start and group.end <= failed[1])),
            "first_person": float(bool(_FIRST_PERSON.search(text))),
            f"section_{family or 'none'}": 1.0,
            f"response_{response}": 1.0,
        }
        out.append(
            _Candidate(
                group, doc.condition, context, response, n_treated, n_responded, sentence, round(score, 2), signals
            )
        )
    return out


#: What introduces the comparator of a result: "compared to", "versus", "than".
_COMPARATOR_BEFORE = cue(r"\b(?:compared\s+(?:with|to)|in\s+comparison\s+(?:with|to)|versus|vs|than|over)\W*$", re.I)


def _is_comparator(sentence: Sentence, groups: list[_Group], group: _Group) -> bool:
    """Whether ``group`` is what another intervention of the sentence was compared with (it
    follows "compared to", "versus" or "than", a few words after an earlier group)."""
    earlier = [g for g in groups if g.end <= group.start]
    if not earlier:
        return False
    between = sentence.text[earlier[-1].end - sentence.start : group.start - sentence.start]
    words = between.split()
    return len(words) <= 8 and _COMPARATOR_BEFORE.search(" ".join(words[-4:]) + " ") is not None


#: Slowing a decline: a benefit against a comparator, stabilisation without one.
_SLOWED = cue(r"\bslow(?:ed|s|ing)?\s+(?:the\s+)?(?:rate\s+of\s+)?(?:decline|progression|deterioration)\b", re.I)


def _only_slowed(clause: str) -> bool:
    """Whether the clause's only favourable words are a slowed decline."""
    slowed = _SLOWED.search(clause)
    if slowed is None:
        return False
    rest = clause[: slowed.start()] + " " * (slowed.end() - slowed.start()) + clause[slowed.end() :]
    return cues.POSITIVE.search(rest) is None and cues.COMPLETE.search(rest) is None


#: Words of a full resolution ("the ulcers healed", "induced remission").
_HEALED = cue(
    r"\b(?:healed|resolved|cleared|disappeared|(?:complete|sustained|full|induced|achieved)\s+remission)\b", re.I
)
#: Words that make it less than full: "partially healed", "improved and nearly resolved".
_SHORT_OF = cue(
    r"\b(?:partial\w*|almost|near\w*|improv\w*|reduc\w*|decreas\w*|smaller|some|most|except|persist\w*|residual|recur\w*"
    r"|relaps\w*|remaining|but|however|although)\b",
    re.I,
)


def _off_target(lexicon: Lexicon, text: str) -> bool:
    """Whether the sentence states an outcome of something else (another organ, the underlying
    disease, a laboratory value); words of the topic's own condition never count as that."""
    return any(not {t[3] for t in tokens(m.group())} & lexicon.condition_words for m in cues.OFF_TARGET.finditer(text))


def _states_counts(text: str) -> bool:
    """Whether a sentence gives responder counts ("Eight patients improved", "3/5", "two of four")."""
    return bool(cues.RESPONDERS.search(text) or cues.FRACTION_SLASH.search(text) or cues.FRACTION_OF.search(text))


def _anaphora(doc: _Article, sentence: Sentence, recent: list[list[_Group]]) -> list[_Group]:
    """What a sentence that names no intervention is about: the article's main intervention
    when its title names one, else the last sentences' interventions, else the main one if
    it was named before this sentence. Several members of one class stand for the class."""
    if doc.main and doc.main_from_title:
        chosen = doc.main
    elif recent:
        chosen = recent[-1]
    elif doc.main and doc.main[0].end <= sentence.start:
        chosen = doc.main
    else:
        return []
    if len(chosen) > 1:
        classes = {doc.lexicon.class_of.get(i) for g in chosen for i in g.ids}
        level = doc.lexicon.class_level.get(classes.pop() or "") if len(classes) == 1 else None
        if level:
            return [_Group((level,), chosen[0].start, chosen[-1].end, "")]
    return chosen


def _clause_of(sentence: Sentence, group: _Group) -> tuple[int, int]:
    """Offsets (in the text) of the clause holding the intervention; the whole sentence
    when it has one clause."""
    at = group.start - sentence.start
    for a, b in sentence.clauses():
        if a <= at < b:
            return sentence.start + a, sentence.start + b
    return sentence.start, sentence.end


def _clause_context(doc: _Article, clause: tuple[int, int], mentions: list[Mention]) -> str | None:
    """A clause naming exactly one disease context of the condition speaks for that context."""
    allowed = doc.lexicon.condition_contexts.get(doc.condition, frozenset())
    start, end = clause
    named = {m.id for m in mentions if m.kind == "context" and m.id in allowed and start <= m.start and m.end <= end}
    if len(named) == 1:
        return named.pop()
    if len(named) > 1:
        return None if len({doc.lexicon.context_family[c] for c in named}) > 1 else doc.context
    return doc.context


def _response(text: str) -> str | None:
    """The response a clause states, or None when it states none."""
    if cues.about_prevention(text):  # keep only the parts that are not about prevention
        text = ",".join(part for part in text.split(",") if not cues.about_prevention(part))
    text = cues.PURPOSE.sub(" ", text)
    if not text.strip():
        return None
    favourable_despite_negation = bool(cues.NO_NEW.search(text))
    if _BREAKDOWN.search(text) and cues.POSITIVE.search(text) and (cues.WORSENED.search(text) or _WORSE.search(text)):
        return "mixed"  # "six improved, eight were stable and thirteen worsened": outcomes split by patient
    if cues.WORSENED.search(text):
        return "worsened"
    negated = cues.NEGATED.search(text)
    if negated and not (favourable_despite_negation and cues.NO_NEW.search(negated.group())):
        return "none"
    positive = cues.POSITIVE.search(text) or favourable_despite_negation or cues.COMPLETE.search(text)
    if cues.UNCLEAR.search(text) and (positive or _ABOUT_TREATMENT.search(text)):
        return "unclear"
    stable = cues.STABLE.search(text)
    if stable:
        rest = text[: stable.start()] + " " * (stable.end() - stable.start()) + text[stable.end() :]
        if not (cues.POSITIVE.search(rest) or cues.COMPLETE.search(rest) or cues.NO_NEW.search(rest)):
            return "none"  # stabilisation, halted progression: no improvement (the corpora's convention too)
    if not positive:
        return None
    if cues.PARTIAL.search(text):
        return "partial"
    if cues.COMPLETE.search(text):
        return "complete"
    return "improved"


#: A benefit stated against a comparator arm.
_COMPARED = cue(
    r"\b(?:superior\s+to|better\s+than|compared\s+(?:with|to)\s+(?:the\s+)?placebo|than\s+(?:with\s+)?placebo"
    r"|versus\s+placebo|vs\.?\s+placebo|over\s+placebo)\b",
    re.I,
)
#: Counts or shares of patients, as an outcome breakdown states them ("6 (22%)", "in 8 patients").
_BREAKDOWN = cue(rf"\b{cues.NUMBER}\s*\(\s*\d+(?:\.\d+)?\s*%|\b\d+(?:\.\d+)?\s*%.*\b\d+(?:\.\d+)?\s*%", re.I)
_WORSE = cue(r"\bworse(?:ned)?\b|\bdeclined\b|\bprogressed\b", re.I)


def _counts(
    doc: _Article, sentence: Sentence, clause: str, group: _Group | None = None
) -> tuple[int | None, int | None, float | None]:
    """(treated, responded, responder fraction) stated in the sentence or known for the article:
    the patients the sentence counts over ("Of 7 evaluable patients"), else those given
    ``group``'s intervention when the article says how many, rather than the whole cohort."""
    text = sentence.text
    for m in (*cues.FRACTION_SLASH.finditer(clause), *cues.FRACTION_OF.finditer(clause)):
        r, n = cues.number(m.group("r")), cues.number(m.group("n"))
        if r is not None and n and r <= n:
            return n, r, r / n
    if cues.BOTH.search(clause):
        return 2, 2, 1.0
    all_n = cues.ALL_N.search(clause)
    if all_n and (n := cues.number(all_n.group("n"))):
        return n, n, 1.0
    denominator = cues.DENOMINATOR.search(text)
    stated = cues.number(denominator.group("n") or denominator.group("t")) if denominator else None
    treated = stated or (_treated_with(doc, group) if group else None) or doc.treated_in(sentence) or doc.n_treated
    if treated is None:
        eq = [cues.number(m.group("n")) for m in cues.N_EQUALS.finditer(doc.text[: sentence.start])]
        treated = eq[-1] if eq and sentence.index > 0 else None
    percent = _percent(clause)
    responders = cues.RESPONDERS.search(clause) or cues.RESPONDED_IN.search(clause)
    if responders and (r := cues.number(responders.group("r"))) is not None and treated and r <= treated:
        return treated, r, r / treated
    if percent is not None:
        return treated, None, percent
    return treated, None, None


_GIVEN_BEFORE = cue(
    rf"\b(?P<n>{cues.NUMBER})\s+(?:[\w-]+\s+){{0,3}}?{cues.PEOPLE}\s+(?:were\s+|was\s+|had\s+been\s+)?"
    r"(?:randomi[sz]ed\s+to|assigned\s+to|allocated\s+to|received|receiving|treated\s+with|given|started\s+on"
    r"|switched\s+to)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}?$",
    re.IGNORECASE,
)
_GIVEN_AFTER = cue(
    rf"^(?:\s*-?\s*(?:treated|group|arm)){{0,2}}\s*\(\s*n\s*=\s*(?P<n>\d{{1,5}})\s*\)"
    rf"|^\s+(?:was|were)\s+(?:given|administered|used|started)\s+(?:to|in)\s+(?P<m>{cues.NUMBER})\s+(?:\w+\s+)?{cues.PEOPLE}",
    re.IGNORECASE,
)


#: An arm's count written before its drug: "Evaluable subjects (72 CYC; 73 placebo)".
_ARM_COUNT = cue(r"[(;,]\s*(?P<n>\d{1,5})\s+$")


def _treated_with(doc: _Article, group: _Group) -> int | None:
    """How many patients the article says were given the group's intervention: "13 patients
    received infliximab", "the rituximab group (n = 24)"; None when it does not say."""
    ids = set(group.ids)
    for mentions in doc.mentions:
        for m in mentions:
            if m.kind != "intervention" or m.id not in ids:
                continue
            before = _GIVEN_BEFORE.search(doc.text[max(0, m.start - 80) : m.start]) or _ARM_COUNT.search(
                doc.text[max(0, m.start - 12) : m.start]
            )
            after = _GIVEN_AFTER.match(doc.text[m.end : m.end + 80])
            for found in (before, after):
                if found:
                    value = found.groupdict().get("n") or found.groupdict().get("m")
                    if value and (n := cues.number(value)):
                        return n
    return None


def _treated_here(text: str) -> int | None:
    """The first non-zero count of patients treated or reported in ``text``."""
    for pattern in (cues.TREATED, cues.REPORTED):
        for m in pattern.finditer(text):
            if n := cues.number(m.group("n")):
                return n
    return None


def _percent(text: str) -> float | None:
    for m in cues.PERCENT.finditer(text):
        if not cues.PERCENT_OF_PATIENTS.match(text[m.end() : m.end() + 60]):
            continue  # a concentration ("10% sodium thiosulfate") or another quantity
        value = float(m.group("p")) if m.group("p") else float(cues.number(m.group("w")) or 0)
        if 0 <= value <= 100:
            return value / 100
    return None


def _with_counts(
    response: str, treated: int | None, responded: int | None, fraction: float | None, compared: bool = False
) -> str:
    """The count rule: a responder fraction strictly between 0 and 100 % is a mixed response,
    except a benefit over a comparator ("superior to placebo (46% vs 6%)"), which is improved."""
    if compared and response in {"complete", "partial", "improved"}:
        return "improved"
    if fraction is not None and 0 < fraction < 1 and response in {"complete", "partial", "improved", "none"}:
        return "mixed"
    if responded == 0 and treated and response in {"improved", "complete", "partial"}:
        return "none"
    return response


# -- merging --------------------------------------------------------------------------------


def _kept(doc: _Article, candidates: list[_Candidate]) -> list[_Candidate]:
    """The best-supported candidate of each (interventions, condition, context), in text order;
    a class is dropped where the article names one of its members."""
    best: dict[tuple[tuple[str, ...], str, str | None], _Candidate] = {}
    lexicon = doc.lexicon
    named_classes = {
        lexicon.class_of.get(i) for c in candidates for i in c.group.ids if not _is_class_level(lexicon, i)
    }
    for c in candidates:
        if all(_is_class_level(lexicon, i) for i in c.group.ids) and all(
            lexicon.class_of.get(i) in named_classes for i in c.group.ids
        ):
            continue  # the class stands for a member the article names: keep the member's finding
        key = (c.group.ids, c.condition, c.context)
        if key not in best or c.score > best[key].score:
            best[key] = c
    return sorted(best.values(), key=lambda c: (c.sentence.start, c.group.ids))


def _merge(doc: _Article, candidates: list[_Candidate], model: Model | None) -> list[Extraction]:
    out = []
    described = describe(doc)
    kept = _kept(doc, candidates)
    for c in kept:
        ids = tuple(sorted(doc.lexicon.routed(i, doc.routes.get(i)) for i in c.group.ids))
        confidence = min(c.score, 0.95) if model is None else round(model.probability(features(doc, c, kept)), 3)
        out.append(c.extraction(ids, doc.design, confidence, c.group.text, described))
    return out


def features(doc: _Article, candidate: _Candidate, kept: list[_Candidate]) -> dict[str, float]:
    """What the rules saw when they made a finding, as named numbers: the candidate's signals
    (explicit mention, counts, section, hedge, response, …) and the article's (design, whether
    the title or the main intervention is this one, how many findings the article gives)."""
    lexicon = doc.lexicon
    ids = candidate.group.ids
    titled = {m.id for m in doc.title_mentions if m.kind == "intervention"}
    main = {i for g in doc.main for i in g.ids}
    mentioned = sum(1 for ms in doc.mentions if any(m.id in ids for m in ms))
    kinds = {lexicon.intervention(i).kind for i in ids}
    values = dict(candidate.signals)
    values.update(
        {
            f"design_{doc.design}": 1.0,
            "in_title": float(bool(titled & set(ids))),
            "main": float(bool(main & set(ids))),
            "combination": float(len(ids) > 1),
            "class_level": float(all(_is_class_level(lexicon, i) for i in ids)),
            "procedure": float("procedure" in kinds),
            "unmapped": float("unmapped" in kinds),
            "context_named": float(candidate.context is not None),
            "log_sentences_naming": math.log1p(mentioned),
            "log_findings": math.log1p(len(kept)),
            "rules_score": candidate.score,
        }
    )
    return values


@dataclass(frozen=True, slots=True)
class Described:
    """The descriptive fields of an article's findings (:mod:`ingest.extraction.fields`)."""

    age_group: str
    harms: dict[str, list[str]]

    def of(self, ids: tuple[str, ...], sentence: str) -> dict[str, Any]:
        """Keyword arguments of an :class:`Extraction` for interventions ``ids`` reported in ``sentence``."""
        return {
            "age_group": self.age_group,
            "outcome": fields.outcome_measure(sentence),
            "adverse_events": fields.combine_harms(t for i in ids for t in self.harms.get(i, ())),
        }


def describe(doc: _Article) -> Described:
    """The age group of the article's patients and the harms reported for each intervention."""
    per_sentence = [{m.id for m in ms if m.kind == "intervention"} for ms in doc.mentions]
    main = {i for g in doc.main for i in g.ids}
    harms = fields.harms_by_intervention(fields.adverse_events(doc.sentences), per_sentence, main)
    return Described(fields.age_group(doc.title, doc.text), harms)
