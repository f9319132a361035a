"""The study-design stage: what kind of study an article reports, from its publication types,
then its title's wording, then its abstract's.

The designs are those of :class:`kb.models.Finding`: rct, prospective_cohort,
retrospective_cohort, case_series, case_report, systematic_review, review, other. The rules
are read in order; the first that applies decides (see :func:`study_design`).
"""

from __future__ import annotations

import re

from ingest.extraction import cues
from ingest.extraction.patterns import cue
from ingest.extraction.text import Sentence

_SINGLE_SUBJECT = cue(
    r"\b(?:a|an)\s+(?:\w+\s+)?(?:boy|girl|woman|man|lady|child|infant)\b"
    # "A young male patient with …, who was treated with X, is herein presented"
    r"|\b(?:a|an)\s+(?:[\w-]+\s+){0,3}?(?:patient|man|woman|boy|girl|child)\b[^.]{0,200}?\b(?:is|was)\s+(?:herein\s+|here\s+)?"
    r"(?:presented|reported|described)\b",
    re.IGNORECASE,
)
_FEW_IN = cue(r"\bin\s+(?P<n>two|three|four|five|six|seven|eight|nine|[2-9])\s+(?:\w+\s+)?patients\b", re.I)
#: Up to this many patients treated, without a cohort or trial design, is a case series.
_SMALL_SERIES = 20


def study_design(publication_types: tuple[str, ...], title: str, sentences: list[Sentence], treated: int | None) -> str:
    """Study design from publication types, then the title's wording, then the abstract's;
    ``treated`` is the number of patients the abstract says were treated, if it says."""
    from_types = [
        cues.PUBLICATION_TYPE_DESIGNS[t.lower()]
        for t in publication_types
        if t.lower() in cues.PUBLICATION_TYPE_DESIGNS
    ]
    order = [d for d, _ in cues.DESIGN_CUES]
    # What the literature reports ("Recent case reports and small series suggest …") is not
    # what this study is.
    text = " ".join(s.text for s in sentences if not cues.LITERATURE.search(s.text) or _THIS_STUDY.search(s.text))
    own = own_cases(text)
    if own is not None and not cues.DESIGN_CUES[0][1].search(title) and _LITERATURE_REVIEW.search(f"{title} {text}"):
        # A report of the authors' own patients followed by a review of the literature.
        return "case_report" if own == 1 else "case_series"
    if (
        cues.DESIGN_CUES[0][1].search(title)
        or cues.DESIGN_CUES[0][1].search(text)
        or cues.LITERATURE_SEARCH.search(text)
    ):
        return "systematic_review"
    if from_types and min(from_types, key=order.index) in {"systematic_review", "rct", "review"}:
        return min(from_types, key=order.index)
    for design, pattern in cues.DESIGN_CUES[1:]:
        if design == "prospective_cohort":
            if re.search(r"\bprospective", title, re.IGNORECASE):
                return design
            continue
        if pattern.search(title):
            if design == "review" and _OWN_STUDY.search(text):
                break  # "Experience from a Single Centre and Literature Review": the study comes first
            return _several(design, f"{title} {text}")
    if from_types:
        return min(from_types, key=order.index)
    if cues.REVIEW_SELF.search(text) and not _OWN_STUDY.search(text):
        return "review"
    if cues.DESIGN_CUES[1][1].search(text) or _TRIAL.search(text):  # the study is (an analysis of) a randomised trial
        return "rct"
    for design, pattern in cues.DESIGN_CUES[2:5]:  # case series, case report, retrospective
        if pattern.search(text):
            if design == "retrospective_cohort" and own is not None and own <= _FEW_CASES:
                return "case_report" if own == 1 else "case_series"  # a few cases described, looking back
            return _several(design, f"{title} {text}")
    if re.search(r"\bwe\s+reviewed\s+(?:the\s+)?(?:patients|records|charts|cases)\b", text, re.IGNORECASE):
        return "retrospective_cohort"
    if cues.DESIGN_CUES[5][1].search(text):
        return "prospective_cohort"
    few = cues.FEW_PATIENTS.search(text) or _FEW_IN.search(text)
    if few:
        n = cues.number(few.group("n")) if few.group("n").lower() not in {"a", "an", "one", "this"} else 1
        return "case_series" if n and n > 1 else "case_report"
    if cues.SINGLE_PATIENT.search(text) or _SINGLE_SUBJECT.search(text):
        return _several("case_report", f"{title} {text}")
    if _PROSPECTIVE.search(text):
        return "prospective_cohort"
    if _COHORT.search(text):
        return "retrospective_cohort"
    if treated and 2 <= treated <= _SMALL_SERIES:
        return "case_series"  # a few patients treated, without a cohort or trial design
    if (
        cues.DESIGN_CUES[6][1].search(title)
        or cues.DESIGN_CUES[6][1].search(text)
        or re.search(r"\bwe\s+recommend\b", text, re.IGNORECASE)
    ):
        return "review"
    return "other"


#: Two or more cases of one report: "Two Case Reports", "both cases", "patient 2".
_SEVERAL_CASES = cue(
    r"\b(?:two|three|four|five|[2-5])\s+(?:case\s+reports|cases|patients)\b|\bboth\s+(?:cases|patients)\b"
    r"|\b(?:patient|case)\s+(?:2|two|ii)\b|\bsecond\s+(?:patient|case)\b",
    re.IGNORECASE,
)


def _several(design: str, text: str) -> str:
    """A case report of several patients ("Two Case Reports", "both cases") is a case series."""
    return "case_series" if design == "case_report" and _SEVERAL_CASES.search(text) else design


#: A randomised trial described in the text (an analysis of one included).
_TRIAL = cue(
    r"\b(?:placebo|randomly\s+(?:assigned|allocated)|double[- ]blind(?:ed)?)\b"
    r"|\bpost[- ]hoc\s+analys[ie]s\s+of\s+(?:\w+\s+){0,6}?(?:trials?|study)\b",
    re.IGNORECASE,
)
#: Patients enrolled and followed forward: an uncontrolled trial or a prospective cohort.
_PROSPECTIVE = cue(
    r"\b(?:open[- ]label|single[- ]arm|pilot\s+study|phase\s+(?:1|2|i|ii)\b|were\s+enrolled|enrolled\s+\d+"
    r"|were\s+followed(?:\s+up)?\s+for)\b",
    re.IGNORECASE,
)
#: The authors' own patients, studied: "our experience", "we retrospectively reviewed the records".
_OWN_STUDY = cue(
    r"\b(?:our\s+(?:own\s+)?(?:experience|patients|cohort|series)"
    r"|(?:we|were)\s+(?:retrospectively\s+|prospectively\s+)?(?:reviewed|analy[sz]ed|studied|included|enrolled)"
    r"\s+(?:the\s+)?(?:medical\s+|clinical\s+)?(?:records|charts|data|files|\d+|patients))\b",
    re.IGNORECASE,
)
#: A sentence about this very study ("The purpose of this review", "we report").
_THIS_STUDY = cue(r"\b(?:we|our|this|the\s+present|here(?:in)?)\b", re.IGNORECASE)
#: A defined population looked at as a whole: a cohort.
_COHORT = cue(r"\b(?:cohort|observational|database|single[- ]cent(?:er|re)|multi-?cent(?:er|re))\b", re.IGNORECASE)
_LITERATURE_REVIEW = cue(
    r"\b(?:review\s+of\s+(?:the\s+)?(?:\w+\s+)?literature|literature\s+review|reviewed\s+the\s+(?:\w+\s+){0,2}?literature"
    r"|(?:in\s+)?this\s+review"
    r"|review\s+of\s+(?:\w+\s+){0,3}(?:cases|reports))\b",
    re.IGNORECASE,
)
#: Up to this many of their own patients, authors describe a series rather than a cohort.
_FEW_CASES = 10


def own_cases(text: str) -> int | None:
    """How many of their own patients the authors report ("We report two cases", "a 45-year-old
    woman"), when the abstract says; None otherwise."""
    few = cues.FEW_PATIENTS.search(text)
    if few:
        word = few.group("n").lower()
        return 1 if word in {"a", "an", "one", "this"} else cues.number(word)
    if cues.SINGLE_PATIENT.search(text) or _SINGLE_SUBJECT.search(text):
        return 1
    return None
