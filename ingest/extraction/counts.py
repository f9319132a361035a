"""The counting stage: patients treated and responding, for the group a sentence reports.

A sentence's own counts come first ("three of four patients", "12/21", "both cases", "all
12"), then a breakdown by outcome ("six remained stable, three improved, one deteriorated":
10 treated, 3 responding) unless the patients it counts over say otherwise; then those
patients ("Of 7 evaluable patients"); then those the article says were given the
intervention, the statement nearest the result first ("13 patients received infliximab",
"(72 CYC; 73 placebo)", "18 of whom received tacrolimus"); then the sentence's or the
article's cohort. Percentages give a share, never a count.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol

from ingest.extraction import cues
from ingest.extraction.lexicon import Mention
from ingest.extraction.patterns import cue
from ingest.extraction.text import Sentence


class CountedArticle(Protocol):
    """What counting reads of an article (the rules extractor's reading is one)."""

    text: str
    mentions: list[list[Mention]]
    n_treated: int | None

    def treated_in(self, sentence: Sentence) -> int | None:
        """:func:`treated_here` of one of the article's sentences."""
        ...


def stated_treated(text: str) -> int | None:
    """How many patients the abstract says were treated or reported, when it says so."""
    n = treated_here(text)
    if n:
        return n
    bracketed = re.search(r"\(\s*(?P<n>\d{1,4})\s*\)\s+patients\b", text)  # "in 85.7% (12) patients"
    return int(bracketed.group("n")) if bracketed else None


def counts(
    doc: CountedArticle, sentence: Sentence, clause: str, ids: tuple[str, ...] | None = None
) -> tuple[int | None, int | None, float | None]:
    """(treated, responded, responder fraction) stated in the sentence or known for the article:
    the patients the sentence counts over ("Of 7 evaluable patients"), else those given
    the interventions ``ids`` when the article says how many, rather than the whole cohort."""
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
    parts = breakdown(clause)
    if parts is not None:
        total, better = parts
        if stated is None or stated == total:
            return total, better, better / total
    treated = (
        stated or (treated_with(doc, ids, sentence.end) if ids else None) or doc.treated_in(sentence) or doc.n_treated
    )
    if treated is None:
        eq = [cues.number(m.group("n")) for m in cues.N_EQUALS.finditer(doc.text[: sentence.start])]
        treated = eq[-1] if eq and sentence.index > 0 else None
    share = percent(clause)
    responders = cues.RESPONDERS.search(clause) or cues.RESPONDED_IN.search(clause)
    if responders and (r := cues.number(responders.group("r"))) is not None and treated and r <= treated:
        return treated, r, r / treated
    if share is not None:
        return treated, None, share
    return treated, None, None


_GIVEN_BEFORE = cue(
    rf"\b(?P<n>{cues.NUMBER})\s+(?:(?:[\w-]+\s+){{0,3}}?{cues.PEOPLE}|of\s+(?:whom|them))\s+(?:\w+ly\s+)?(?:were\s+|was\s+|had\s+been\s+)?"
    r"(?:randomi[sz]ed\s+to|assigned\s+to|allocated\s+to|received|receiving|treated\s+with|given|started\s+on"
    r"|switched\s+to)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}?$",
    re.IGNORECASE,
)
_GIVEN_AFTER = cue(
    rf"^(?:\s*-?\s*(?:treated|group|arm)){{0,2}}\s*(?:\(|,)\s*n\s*=\s*(?P<n>\d{{1,5}})\s*[);]"
    rf"|^\s+(?:was|were)\s+(?:given|administered|used|started)\s+(?:to|in)\s+(?P<m>{cues.NUMBER})\s+(?:\w+\s+)?{cues.PEOPLE}",
    re.IGNORECASE,
)


#: An arm's count written before its drug: "Evaluable subjects (72 CYC; 73 placebo)", "68 of
#: 104 tocilizumab-treated patients" (a subgroup of an arm).
_ARM_COUNT = cue(r"[(;,]\s*(?P<n>\d{1,5})\s+$|\b(?P<m>\d{1,5})\s+of\s+(?:the\s+)?\d{1,5}\s+$")


def treated_with(doc: CountedArticle, ids: tuple[str, ...], before: int | None = None) -> int | None:
    """How many patients the article says were given the interventions ``ids``: "13 patients
    received infliximab", "the rituximab group (n = 24)"; None when it does not say. With
    ``before`` (an offset), the last count stated before it, the one nearest the result ("112
    analysed (59 ciclosporin …)", then "108 with outcome data (57 ciclosporin …)"); else the first."""
    wanted = set(ids)
    found: list[tuple[int, int]] = []
    for mentions in doc.mentions:
        for m in mentions:
            if m.kind != "intervention" or m.id not in wanted:
                continue
            given = _GIVEN_BEFORE.search(doc.text[max(0, m.start - 80) : m.start]) or _ARM_COUNT.search(
                doc.text[max(0, m.start - 12) : m.start]
            )
            after = _GIVEN_AFTER.match(doc.text[m.end : m.end + 80])
            for match in (given, after):
                if match:
                    value = match.groupdict().get("n") or match.groupdict().get("m")
                    if value and (n := cues.number(value)):
                        found.append((m.start, n))
                        break
    if not found:
        return None
    if before is not None:
        earlier = [n for at, n in found if at < before]
        if earlier:
            return earlier[-1]
    return found[0][1]


#: Outcome categories of a breakdown: better (responders), and the others.
_BETTER = r"improv\w*|responded|healed|resolved|cleared"
_OTHER = r"(?:remained\s+)?(?:stable|stabili[sz]ed|unchanged)|worsened|deteriorated|progressed|relapsed|died"
#: "six patients remained stable, three improved" and "improved in 3 (12.5%), remained stable in
#: 18 (75%)": a count and its category, either way round.
_COUNT_THEN_CATEGORY = cue(
    rf"\b(?P<n>{cues.NUMBER})\s+(?:\(\d+(?:\.\d+)?\s*%\)\s+)?(?:(?:[\w-]+\s+)?{cues.PEOPLE}\s+)?(?:had\s+|were\s+|was\s+)?"
    rf"(?P<c>{_BETTER}|{_OTHER})\b",
    re.IGNORECASE,
)
_CATEGORY_THEN_COUNT = cue(
    rf"\b(?P<c>{_BETTER}|{_OTHER})\s+in\s+(?P<n>{cues.NUMBER})\b(?!\s*(?:%|years?|months?|weeks?|days?))",
    re.IGNORECASE,
)
_IS_BETTER = re.compile(rf"^(?:{_BETTER})$", re.IGNORECASE)


@functools.lru_cache(maxsize=8)  # the outcome stage asks again about the clause counts() just read
def breakdown(clause: str) -> tuple[int, int] | None:
    """(patients, responders) of a clause that breaks its patients down by outcome ("six
    patients remained stable, three improved, and one deteriorated": 10, 3), or None. At least
    two categories; responders are those who got better."""
    items = [(m.group("c"), m.group("n")) for m in _COUNT_THEN_CATEGORY.finditer(clause)]
    if len(items) < 2:
        items = [(m.group("c"), m.group("n")) for m in _CATEGORY_THEN_COUNT.finditer(clause)]
    if len(items) < 2:
        return None
    counted = [(bool(_IS_BETTER.match(c)), cues.number(n)) for c, n in items]
    if any(n is None for _, n in counted) or len({c.lower().split()[-1] for c, _ in items}) < 2:
        return None
    total = sum(n or 0 for _, n in counted)
    better = sum(n or 0 for b, n in counted if b)
    return (total, better) if total else None


def treated_here(text: str) -> int | None:
    """The first non-zero count of patients treated or reported in ``text``."""
    for pattern in (cues.TREATED, cues.REPORTED):
        for m in pattern.finditer(text):
            if n := cues.number(m.group("n")):
                return n
    return None


def percent(text: str) -> float | None:
    """The first share of patients ``text`` states, between 0 and 1 (not a concentration)."""
    for m in cues.PERCENT.finditer(text):
        if not cues.PERCENT_OF_PATIENTS.match(text[m.end() : m.end() + 60]):
            continue  # a concentration ("10% sodium thiosulfate") or another quantity
        value = float(m.group("p")) if m.group("p") else float(cues.number(m.group("w")) or 0)
        if 0 <= value <= 100:
            return value / 100
    return None
