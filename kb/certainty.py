"""Certainty of a treatment row's evidence, GRADE-inspired: pure functions, no I/O.

GRADE rates a body of evidence high, moderate, low or very low: randomised trials start
high, observational studies low, and the rating moves down for risk of bias, imprecision,
inconsistency, indirectness and publication bias. The KB knows enough for four of those
judgements, from the counts of an aggregate row (:mod:`kb.aggregate`), and applies them as
rules (the site's Methods page states them):

- **start** from the strongest *primary* design the row counts (a review contributes no
  patients of its own): a randomised trial starts *high*, a prospective or retrospective
  cohort *low*, a case series, case report or other design *very low*; a row with no
  primary study at all is *very low*;
- **imprecision**: down one level when fewer than :data:`PRECISE_PATIENTS` patients were
  treated, when no responder count can be pooled, or when the Wilson 95 % interval is wider
  than :data:`WIDE_INTERVAL`; down two when the number treated is not reported or is below
  :data:`FEW_PATIENTS`;
- **inconsistency**: down one when supporting findings sit alongside null or harmful ones
  (the row is ``contradicted``);
- **indirectness**: down one when the findings come from mixed or unspecified populations
  (no disease context).

This is a screen, not a GRADE assessment: risk of bias and publication bias are not judged,
and a person rating the evidence for a guideline would read the studies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Certainty levels, highest first.
CERTAINTY_LEVELS: tuple[str, ...] = ("high", "moderate", "low", "very low")

#: Where each primary design starts.
START_LEVEL: dict[str, str] = {
    "rct": "high",
    "prospective_cohort": "low",
    "retrospective_cohort": "low",
    "case_series": "very low",
    "case_report": "very low",
    "other": "very low",
}

#: Fewer patients treated than this is imprecise (down one level).
PRECISE_PATIENTS = 50
#: Fewer patients treated than this (or none reported) is very imprecise (down two levels).
FEW_PATIENTS = 10
#: A Wilson 95 % interval wider than this (as a proportion) is imprecise.
WIDE_INTERVAL = 0.5


def _patients(n: int) -> str:
    return f"{n} patient{'s' if n != 1 else ''}"


def certainty_rank(level: str | None) -> int:
    """Position of a certainty level in :data:`CERTAINTY_LEVELS` (0 is high); 4 for None."""
    return CERTAINTY_LEVELS.index(level) if level in CERTAINTY_LEVELS else len(CERTAINTY_LEVELS)


def rate_certainty(row: Mapping[str, Any], *, indirect: bool = False) -> tuple[str, list[str]]:
    """The certainty of one aggregate row and the reasons it is not higher.

    Args:
        row: an aggregate row: ``primary_design``, ``patients``, ``evaluable``, ``ci_low``,
            ``ci_high`` and ``contradicted`` are read (missing keys count as not reported).
        indirect: the row's findings come from mixed or unspecified populations.

    Returns:
        A level of :data:`CERTAINTY_LEVELS` and the reasons, in the order of the rules
        (empty for a row that keeps its start level).
    """
    design = row.get("primary_design")
    reasons: list[str] = []
    if design is None:
        start = "very low"
        reasons.append("no primary study: reviews only")
    else:
        start = START_LEVEL.get(str(design), "very low")
        if start != "high":
            reasons.append(f"best primary design is {str(design).replace('_', ' ')} (starts {start})")
    down = 0
    patients, evaluable = row.get("patients"), row.get("evaluable")
    low, high = row.get("ci_low"), row.get("ci_high")
    if patients is None or patients < FEW_PATIENTS:
        down += 2
        reasons.append("very imprecise: " + ("patients not reported" if patients is None else _patients(patients)))
    elif patients < PRECISE_PATIENTS or not evaluable or low is None or high is None or high - low > WIDE_INTERVAL:
        down += 1
        if patients < PRECISE_PATIENTS:
            reasons.append(f"imprecise: {_patients(patients)}")
        elif not evaluable or low is None or high is None:
            reasons.append("imprecise: no responder count to pool")
        else:
            reasons.append(f"imprecise: 95% CI {100 * low:.0f}–{100 * high:.0f}%")
    if row.get("contradicted"):
        down += 1
        reasons.append("inconsistent: supporting findings alongside null or harmful ones")
    if indirect:
        down += 1
        reasons.append("indirect: mixed or unspecified populations")
    level = CERTAINTY_LEVELS[min(len(CERTAINTY_LEVELS) - 1, CERTAINTY_LEVELS.index(start) + down)]
    return level, reasons
