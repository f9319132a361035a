"""The grouping stage: which interventions a sentence reports, alone or given together.

A sentence's intervention mentions become groups: population descriptors ("hemodialysis
patients", "on warfarin"), causes ("rituximab-associated"), declined and tapered drugs are
dropped; a class written next to one of its members, or in apposition to a drug, is folded
into it; interventions given together ("A plus B", "a combination of A, B and C", "treated
with A and B" in a case) form one combination; treatments that failed before ("refractory to
A, B and C") stay apart, each with its own finding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.extraction import cues
from ingest.extraction.lexicon import Lexicon, Mention
from ingest.extraction.patterns import cue
from ingest.extraction.text import Sentence


class GroupedArticle(Protocol):
    """What grouping reads of an article (the rules extractor's reading is one)."""

    lexicon: Lexicon
    design: str
    n_treated: int | None


# Between two interventions given together: "and", "plus", "with", "combined with", "+".
_JOIN = cue(
    r"^[\s,-]*(?:\[[^\]]*\]|\([^)]*\)|[\s,])*(?:(?:pulse|pulsed|therapy|treatment|infusions?|injections?)\s+){0,2}"
    r"(?P<word>\+|plus|and|with|together\s+with|in\s+combination\s+with"
    r"|(?:was|were)?\s*combined\s+with|and\s+(?:[\w-]+\s+){1,4}?(?:of\s+)?)\s*(?:[\w-]+\s+){0,4}?$",
    re.IGNORECASE,
)
#: A series of at most this many patients reads "treated with A and B" as given together, as a case does.
_FEW_TOGETHER = 3
#: After "A-B": a combination named by its parts joined with a hyphen ("the glucocorticoid-
#: cyclosporine combination", "a cyclophosphamide–azathioprine regimen").
_HYPHENATED_COMBINATION = cue(r"^\s*(?:combinations?|combined|regimens?)\b", re.IGNORECASE)
_COMBINATION_WORDS = cue(r"\b(?:combin\w+|plus|together\s+with|in\s+addition\s+to|\+)", re.IGNORECASE)
_POPULATION_AFTER = cue(
    r"^\s*\)?\s*(?:\([^)]{1,12}\)\s*)?(?:-?\s*(?:patients?|population|vintage|dependen\w+|access|units?|cent(?:er|re)s?)"
    r"|\s*(?:/\s*\d+\s*)?(?:inhibitors?|antagonists?|blockers?|blockade)|\s+(?:are|is|was|were)\s+contraindicated"
    r"|-\s*(?:associated|induced|related|triggered|provoked|sparing|free)|\s+(?:doses?|dosages?|requirements?)\s+(?:was|were|decreas|reduc|fell|tapered))\b",
    # "an interleukin 12/23 inhibitor": the drug's target, not the drug; "rituximab-associated
    # PG": a cause; "steroid-sparing", "prednisone doses were reduced": less of it, not its effect
    re.I,
)
#: Between a condition and what it arose after: " following breast", " developing after".
_FOLLOWED = cue(r"^\s*(?:[\w-]+\s+){0,2}?(?:following|after)\s+(?:[\w-]+\s+){0,2}$", re.IGNORECASE)
_ENROLLED_AFTER = cue(r"^-(?:refractory|resistant|unresponsive|recalcitrant)\b", re.IGNORECASE)
_POPULATION_BEFORE = cue(
    r"\b(?:on|undergoing|history\s+of|requiring|not\s+on|transition\w*\s+to|converted\s+to"
    r"|alternatives?\s+to|instead\s+of|other\s+than|declined|refused|contraindicat\w*\s+(?:to|for)"
    r"|(?:tapering|taper(?:ed)?|reduc\w+|decreas\w+|lower(?:ed|ing)?|withdrawal)\s+(?:\w+\s+){0,3}?(?:of|in|from)"
    r"|(?:mean|median|daily|cumulative|total)\s+(?:doses?|dosages?)\s+of)"
    r"\s+(?:[\w-]+\s+){0,3}$",  # "declined cyclophosphamide", "the doses of prednisone decreased": not given for it
    re.IGNORECASE,
)


@dataclass(slots=True)
class Group:
    """Interventions a sentence reports together (one id, or a combination's components)."""

    ids: tuple[str, ...]
    start: int
    end: int
    text: str


def one_case(doc: GroupedArticle) -> bool:
    """Whether the article reports one or two patients of the authors' own (a case report, or
    a series of at most two): what their treatments did is a finding, where in a larger study
    the same words ("refractory to X") describe who was enrolled."""
    return doc.design == "case_report" or (doc.n_treated is not None and doc.n_treated <= 2)


def is_class_level(lexicon: Lexicon, intervention: str) -> bool:
    return lexicon.class_level.get(lexicon.class_of.get(intervention, "")) == intervention


def sentence_groups(
    doc: GroupedArticle, sentence: Sentence, mentions: list[Mention], conditions: Sequence[Mention] = ()
) -> list[Group]:
    """The sentence's interventions: population descriptors dropped, appositives folded,
    interventions given together joined into combinations. ``conditions`` are the sentence's
    condition and context mentions: an intervention the condition followed ("pyoderma
    gangrenosum following breast surgery") caused it and is dropped."""
    local = sentence.start
    ends = [c.end for c in conditions]
    single = one_case(doc)
    kept: list[Mention] = []
    for m in mentions:
        after = sentence.text[m.end - local : m.end - local + 20]
        before = sentence.text[max(0, m.start - local - 30) : m.start - local]
        if _POPULATION_AFTER.match(after) or _POPULATION_BEFORE.search(before):
            continue
        if not single and _ENROLLED_AFTER.match(after):
            continue  # "steroid-refractory PG" in a series or trial: who was enrolled
        if any(end <= m.start and _FOLLOWED.match(sentence.text[end - local : m.start - local]) for end in ends):
            continue  # "PG following breast surgery": what the condition followed
        if kept and kept[-1].id == m.id:
            if sentence.text[kept[-1].end - local : m.start - local].strip() != "(":  # not "X (abbreviation)"
                kept[-1] = m  # "X (500 mg) followed by X (40 mg), Y and Z": the list goes on from the last X
            continue
        kept.append(m)
    kept = _fold_appositives(doc.lexicon, kept, sentence)
    if not kept:
        return []
    few = doc.design == "case_report" or (doc.design == "case_series" and (doc.n_treated or 0) <= _FEW_TOGETHER)
    failed = failed_span(sentence) if single or doc.design == "case_series" else None
    listed = _combination_list(sentence)
    # Two treatments that failed together ("despite azathioprine and prednisone") were given
    # together; a longer list ("refractory to A, B, C and D") is of treatments tried in turn.
    failed_list = [k for k in kept if failed and failed[0] <= k.start and k.end <= failed[1]]
    # "A and B", "A, B and C" in a case are given together, unless they failed ("managed with A,
    # B and C without improvement": each failed on its own) or are a list of failed treatments.
    after = cues.FAILED_BEFORE.sub(" ", sentence.text[kept[-1].end - local :])  # "for those not responding to X"
    together = few and not cues.NEGATED.search(after)
    combine_and = together or bool(_COMBINATION_WORDS.search(sentence.text))
    groups: list[Group] = []
    current = [kept[0]]
    for m in kept[1:]:
        if listed and listed[0] <= current[-1].start and m.end <= listed[1]:
            current.append(m)  # "a combination of A, B and C": one combination, commas and all
            continue
        between = sentence.text[current[-1].end - local : m.start - local]
        join = _JOIN.match(between)
        word = join.group("word").lower() if join else ""
        listed_as_failed = failed is not None and failed[0] <= current[-1].start and m.end <= failed[1]
        if listed_as_failed and len(failed_list) > 2 and not _COMBINATION_WORDS.search(between):
            join = None  # "refractory to prednisone, cyclosporine and infliximab": each failed on its own
        if between.strip() in {"-", "\u2013"} and _HYPHENATED_COMBINATION.match(sentence.text[m.end - local :]):
            current.append(m)  # "glucocorticoid-cyclosporine combination"
        elif join and ((word != "and" and not word.startswith("and ")) or combine_and) and "or" not in between.split():
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
    Z", "despite X"), from its cue to where the sentence goes on to what happened next; or of
    one written before its failure ("steroid- and cyclophosphamide-resistant")."""
    cue = cues.FAILED_BEFORE.search(sentence.text)
    if cue is None:
        suffixed = _FAILED_SUFFIX.search(sentence.text)
        return (sentence.start + suffixed.start(), sentence.start + suffixed.end()) if suffixed else None
    end = cues.FAILED_LIST_END.search(sentence.text, cue.end())
    stop = end.start() if end else len(sentence.text)
    return sentence.start + cue.start(), sentence.start + stop


#: Treatments named before their failure: "steroid-refractory", "steroid and
#: cyclophosphamide-resistant", "IVIG-unresponsive".
_FAILED_SUFFIX = cue(
    r"\b(?:[\w]+-?(?:\s*,\s*|\s+(?:and|or|and/or)\s+)){0,3}[\w]+-(?:refractory|resistant|unresponsive|recalcitrant)\b",
    re.IGNORECASE,
)


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


def _group(mentions: list[Mention], sentence: Sentence) -> Group:
    start, end = mentions[0].start, mentions[-1].end
    text = sentence.text[start - sentence.start : end - sentence.start]
    return Group(tuple(sorted({m.id for m in mentions})), start, end, text)
