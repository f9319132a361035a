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

The stages live apart, each testable alone: grouping in :mod:`ingest.extraction.groups`,
responses in :mod:`ingest.extraction.response`, counts in :mod:`ingest.extraction.counts`,
design in :mod:`ingest.extraction.design`, the descriptive fields in
:mod:`ingest.extraction.fields`; every cue pattern is a :class:`ingest.extraction.patterns.Cue`.
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

from ingest.extraction import counts as counting
from ingest.extraction import cues, fields
from ingest.extraction import response as outcome
from ingest.extraction.confidence import Model, shipped_confidence
from ingest.extraction.design import study_design
from ingest.extraction.groups import Group, failed_span, is_class_level, one_case, sentence_groups
from ingest.extraction.lexicon import Kind, Lexicon, Mention, tokens
from ingest.extraction.patterns import cue
from ingest.extraction.text import ArticleText, Sentence, blanked, clean, section_family, split_sentences
from ingest.extractors import Extraction, register

NAME = "rules"
VERSION = "2.3.1"

_PRIMARY = frozenset({"rct", "prospective_cohort", "retrospective_cohort", "case_series", "case_report", "other"})
_REVIEWS = frozenset({"review", "systematic_review"})
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


@dataclass(slots=True)
class _Candidate:
    group: Group
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
    main: list[Group] = field(default_factory=list)
    main_from_title: bool = False
    routes: dict[str, str] = field(default_factory=dict)  # intervention id → the route the article states
    counted: dict[int, int | None] = field(default_factory=dict)  # sentence index → _treated_here of it
    title_groups: list[Group] = field(default_factory=list)  # the title's interventions, grouped
    comparators: frozenset[str] = frozenset()  # a trial's comparator arm ("ciclosporin … compared with prednisolone")

    def treated_in(self, sentence: Sentence) -> int | None:
        """:func:`_treated_here` of one of the article's sentences, worked out once."""
        if sentence.index not in self.counted:
            self.counted[sentence.index] = counting.treated_here(sentence.text)
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
    recent: list[list[Group]] = []
    before: tuple[Sentence, list[Group], int] | None = None  # the last sentence, its groups, its candidates
    for sentence, mentions in zip(doc.sentences, doc.mentions, strict=True):
        groups = sentence_groups(
            doc,
            sentence,
            [m for m in mentions if m.kind == "intervention"],
            [m for m in mentions if m.kind != "intervention"],
        )
        found = _candidates(doc, sentence, mentions, groups, recent)
        if not groups and doc.comparators and any(not set(c.group.ids) <= doc.comparators for c in found):
            # "The adjusted mean difference showed no between-group difference": a trial's result
            # for its experimental arm; its comparator's, stated for each arm, would name it.
            found = [c for c in found if not set(c.group.ids) <= doc.comparators]
        if before and before[1] and not before[2] and _failed_back(doc, sentence, groups):
            candidates.extend(_failed_earlier(doc, before[0], before[1]))
        candidates.extend(found)
        recent = [*recent[-2:], groups] if groups else recent
        before = (sentence, groups, len(found))
    return candidates


#: A case's failure of the treatment a sentence before listed: "Due to resistance to the
#: implemented treatment", "As these therapies failed", "Because of poor response to it".
_FAILED_BACK = cue(
    r"\b(?:resistan(?:ce|t)|refractor(?:y|iness)|(?:no|poor|inadequate|insufficient)\s+response|not\s+respond\w*"
    r"|unresponsive(?:ness)?|failure)\s+(?:of\s+|to\s+)(?:the\s+|this\s+|that\s+|these\s+|such\s+)"
    r"(?:implemented\s+|previous\s+|prior\s+|above\s+|initial\s+|conventional\s+)?(?:treatments?|therap(?:y|ies)|regimens?)\b"
    r"|\b(?:these|those|the)\s+(?:treatments?|therapies|drugs|agents)\s+(?:all\s+)?(?:failed|were\s+ineffective)\b",
    re.IGNORECASE,
)


def _failed_back(doc: _Article, sentence: Sentence, groups: list[Group]) -> bool:
    """Whether a case's sentence says the treatment listed just before failed (before naming
    any treatment of its own)."""
    if not one_case(doc):
        return False
    cue_found = _FAILED_BACK.search(sentence.text)
    return cue_found is not None and all(g.start - sentence.start >= cue_found.end() for g in groups)


def _failed_earlier(doc: _Article, sentence: Sentence, groups: list[Group]) -> list[_Candidate]:
    """ "No response" findings for the treatments ``sentence`` listed, which a later sentence
    says failed: each on its own when more than two were listed (tried in turn), else together."""
    ids = [i for g in groups for i in g.ids]
    if len(ids) > 2:
        groups = [Group((i,), g.start, g.end, g.text) for g in groups for i in g.ids]
    out = []
    for group in groups:
        span = _clause_of(sentence, group)
        context = _clause_context(doc, span, doc.mentions[sentence.index])
        signals = {"explicit": 1.0, "failed_before": 1.0, "response_none": 1.0}
        out.append(_Candidate(group, doc.condition, context, "none", 1, 0, sentence, 0.55, signals))
    return out


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
    toks, title_toks = tokens(text), tokens(title)
    definitions = {**lexicon.definitions(title, title_toks), **lexicon.definitions(text, toks)}
    sentences = split_sentences(text)
    mentions = _by_sentence(sentences, lexicon.find(text, definitions, toks))
    title_mentions = lexicon.find(title, definitions, title_toks)
    indexed = lexicon.from_mesh((*article.mesh, *article.chemicals))
    condition = _condition(lexicon, title_mentions, mentions, indexed)
    if condition is None:
        return None
    stated = counting.stated_treated(text)
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
    title_sentence = Sentence(-1, 0, len(title), title, "title")
    doc.title_groups = sentence_groups(doc, title_sentence, [m for m in title_mentions if m.kind == "intervention"])
    doc.main, doc.main_from_title = _main_interventions(doc)
    if design == "rct":
        doc.comparators = _comparators(doc)
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


def _main_interventions(doc: _Article) -> tuple[list[Group], bool]:
    """What the article is about treating with, and whether the title names it: from the
    title, else a "treated with" sentence."""
    titled = doc.title_groups
    in_text: list[Group] = []
    for sentence, mentions in zip(doc.sentences, doc.mentions, strict=True):
        interventions = [m for m in mentions if m.kind == "intervention"]
        if interventions and _TREATED_WITH.search(sentence.text):
            in_text = sentence_groups(doc, sentence, interventions)
            break
    classes = {doc.lexicon.class_of.get(i) for g in titled for i in g.ids if is_class_level(doc.lexicon, i)}
    if titled and len(classes) == len({i for g in titled for i in g.ids}):
        # The title names a class ("Bisphosphonates for …"); the text names the drug given.
        members = [g for g in in_text if all(doc.lexicon.class_of.get(i) in classes for i in g.ids)]
        if members:
            return members, False
    return (titled, True) if titled else (in_text, False)


# -- candidate findings -------------------------------------------------------------------


def _candidates(
    doc: _Article,
    sentence: Sentence,
    mentions: list[Mention],
    groups: list[Group],
    recent: list[list[Group]],
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
    if not _ANY_CUE.search(text) or cues.not_a_result(text) or cues.SPONTANEOUS.search(text):
        return []
    if cues.NORMATIVE.search(text) and not _states_counts(text):
        return []  # advice or a requirement, not an outcome
    if primary and cues.LITERATURE.search(text) and not _FIRST_PERSON.search(text):
        return []  # what the literature says, inside a report of the authors' own patients
    naming = doc.lexicon.contexts_naming_condition
    has_target = bool(cues.TARGET.search(text)) or any(
        m.kind == "condition" or (m.kind == "context" and m.id in naming) for m in mentions
    )
    names_context = any(m.kind == "context" and m.id not in naming for m in mentions)
    # Treatments that failed before are a finding of a case ("refractory to X, Y and Z"); in a
    # series or cohort they describe who was enrolled, not what the study found.
    failed = failed_span(sentence) if explicit else None
    if failed and not any(failed[0] <= g.start and g.end <= failed[1] for g in groups):
        failed = None
    enrolled = failed is not None and not one_case(doc)
    if (
        sentence.index == 0
        and not _FIRST_PERSON.search(text)
        and not _states_counts(text)
        and not (failed and not enrolled)
    ):
        return []  # an abstract's opening sentence is background
    if not explicit:
        if not (has_target or doc.design == "case_report" or family == "results" or _states_counts(text)):
            return []
        groups = _anaphora(doc, sentence, recent)
        if not groups:
            return []
    if not has_target and names_context:
        return []
    # The sentence read without its list of failed treatments, for a group outside that list.
    rest = blanked(text, failed[0] - sentence.start, failed[1] - sentence.start) if failed else text
    out: list[_Candidate] = []
    for group in groups:
        span = _clause_of(sentence, group) if explicit else (sentence.start, sentence.end)
        clause = doc.text[span[0] : span[1]]
        if not has_target and _off_target(doc.lexicon, clause):
            continue  # this clause's outcome is of something else ("no improvement in the muscle disease")
        response: str | None
        if failed and failed[0] <= group.start and group.end <= failed[1]:
            if enrolled:
                continue  # "patients resistant to A and B": who was enrolled
            response = "worsened" if cues.WORSENED.search(clause) else "none"  # a treatment that failed before
        else:
            if failed and span[0] <= failed[0] and failed[1] <= span[1]:  # read the clause without the failed list
                clause = blanked(clause, failed[0] - span[0], failed[1] - span[0])
            response = outcome.read_response(clause) or (outcome.read_response(rest) if explicit else None)
        if response is None:
            continue
        if response in {"improved", "complete", "partial"} and _is_comparator(sentence, groups, group):
            continue  # "reduced mortality with rituximab compared to TNF inhibitors": what it was compared with
        if response == "improved" and doc.design != "rct" and outcome.only_slowed(clause):
            response = "none"  # "slows the decline" without a comparator: stabilisation
        if response == "improved" and doc.design == "case_report" and outcome.healed_fully(clause):
            response = "complete"  # one patient whose ulcers healed: all treated resolved
        context = _clause_context(doc, span, mentions) if explicit else doc.context
        n_treated, n_responded, fraction = counting.counts(doc, sentence, clause, group.ids)
        response = outcome.with_counts(
            response, n_treated, n_responded, fraction, bool(outcome.COMPARED.search(clause))
        )
        if (
            response == "worsened"
            and n_treated
            and n_responded
            and n_responded < n_treated
            and counting.breakdown(clause)
        ):
            response = "mixed"  # "three improved, six remained stable and one deteriorated": the count rule
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


#: Between a trial's experimental arm and its comparator, as its title or objective names them.
_VERSUS = cue(
    r"^\W*(?:\w+\s+){0,3}?(?:compared\s+(?:with|to)|versus|vs\.?|superior\s+to|better\s+than|or)\s+(?:the\s+|oral\s+|intravenous\s+)?$",
    re.I,
)


def _comparators(doc: _Article) -> frozenset[str]:
    """The comparator arm of a trial of two active treatments: what the title or the first
    sentences set the experimental one against ("whether ciclosporin is superior to
    prednisolone", "mycophenolate versus cyclophosphamide"), when it is one of two."""
    places = [(doc.title, 0, doc.title_groups)]
    places += [
        (s.text, s.start, sentence_groups(doc, s, [m for m in ms if m.kind == "intervention"]))
        for s, ms in zip(doc.sentences[:2], doc.mentions[:2], strict=False)
    ]
    for text, start, groups in places:
        if len(groups) == 2:
            between = text[groups[0].end - start : groups[1].start - start]
            if _VERSUS.match(between) and not set(groups[0].ids) & set(groups[1].ids):
                return frozenset(groups[1].ids)
    return frozenset()


#: What introduces the comparator of a result: "compared to", "versus", "than".
_COMPARATOR_BEFORE = cue(r"\b(?:compared\s+(?:with|to)|in\s+comparison\s+(?:with|to)|versus|vs|than|over)\W*$", re.I)


def _is_comparator(sentence: Sentence, groups: list[Group], group: Group) -> bool:
    """Whether ``group`` is what another intervention of the sentence was compared with (it
    follows "compared to", "versus" or "than", a few words after an earlier group)."""
    earlier = [g for g in groups if g.end <= group.start]
    if not earlier:
        return False
    between = sentence.text[earlier[-1].end - sentence.start : group.start - sentence.start]
    words = between.split()
    return len(words) <= 8 and _COMPARATOR_BEFORE.search(" ".join(words[-4:]) + " ") is not None


def _off_target(lexicon: Lexicon, text: str) -> bool:
    """Whether the sentence states an outcome of something else (another organ, the underlying
    disease, a laboratory value); words of the topic's own condition, and outcomes its question
    names ("… and survival"), never count as that."""
    return any(
        not {t[3] for t in tokens(m.group())} & lexicon.condition_words
        and not re.search(rf"\b{re.escape(' '.join(m.group().lower().split()))}\b", lexicon.question)
        for m in cues.OFF_TARGET.finditer(text)
    )


def _states_counts(text: str) -> bool:
    """Whether a sentence gives responder counts ("Eight patients improved", "3/5", "two of four")."""
    return bool(cues.RESPONDERS.search(text) or cues.FRACTION_SLASH.search(text) or cues.FRACTION_OF.search(text))


def _anaphora(doc: _Article, sentence: Sentence, recent: list[list[Group]]) -> list[Group]:
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
            return [Group((level,), chosen[0].start, chosen[-1].end, "")]
    return chosen


def _clause_of(sentence: Sentence, group: Group) -> tuple[int, int]:
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


# -- merging --------------------------------------------------------------------------------


def _kept(doc: _Article, candidates: list[_Candidate]) -> list[_Candidate]:
    """The best-supported candidate of each (interventions, condition, context), in text order;
    a class is dropped where the article names one of its members."""
    best: dict[tuple[tuple[str, ...], str, str | None], _Candidate] = {}
    lexicon = doc.lexicon
    named_classes = {lexicon.class_of.get(i) for c in candidates for i in c.group.ids if not is_class_level(lexicon, i)}
    for c in candidates:
        if all(is_class_level(lexicon, i) for i in c.group.ids) and all(
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
            "class_level": float(all(is_class_level(lexicon, i) for i in ids)),
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
