"""The outcome stage: what response a clause states, and the count rule.

:func:`read_response` reads one clause, with cues in precedence order: a breakdown of
outcomes by patient → mixed; worsening; failure or negated improvement → none; stopped or
inconclusive → unclear; stabilisation or halted progression → none; then partial, complete,
improved (hedging keeps the direction). :func:`with_counts` applies the corpora's count rule,
and the two study-aware refinements (:func:`only_slowed`, :func:`healed_fully`) are the
rules extractor's to apply, as they depend on the design.
"""

from __future__ import annotations

import re

from ingest.extraction import cues
from ingest.extraction.patterns import cue
from ingest.extraction.text import blanked

_ABOUT_TREATMENT = cue(r"\b(?:treat\w*|therap\w*|efficac\w*|effect\w*|promise|stopped|discontinu\w*|withdrawn)", re.I)


def read_response(text: str) -> str | None:
    """The response a clause states, or None when it states none."""
    if cues.about_prevention(text):  # keep only the parts that are not about prevention
        text = ",".join(part for part in text.split(",") if not cues.about_prevention(part))
    text = _MEASURE.sub(" ", cues.PURPOSE.sub(" ", text))
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
        rest = blanked(text, stable.start(), stable.end())
        if not (cues.POSITIVE.search(rest) or cues.COMPLETE.search(rest) or cues.NO_NEW.search(rest)):
            return "none"  # stabilisation, halted progression: no improvement (the corpora's convention too)
    if not positive:
        return None
    if cues.PARTIAL.search(text):
        return "partial"
    if cues.COMPLETE.search(text):
        return "complete"
    return "improved"


#: The name of an outcome measure, which says nothing of its result: "the speed of healing was
#: -0.21 cm²/day", "time to complete remission", "rates of response".
_MEASURE = cue(
    r"\b(?:speed|time|rates?|duration|velocity|probability|likelihood)\s+(?:of|to)\s+(?:\w+\s+)?"
    r"(?:healing|resolution|remission|response|improvement|clearance|closure)\b",
    re.I,
)
#: A benefit stated against a comparator arm.
COMPARED = cue(
    r"\b(?:superior\s+to|better\s+than|compared\s+(?:with|to)\s+(?:the\s+)?placebo|than\s+(?:with\s+)?placebo"
    r"|versus\s+placebo|vs\.?\s+placebo|over\s+placebo)\b",
    re.I,
)
#: Counts or shares of patients, as an outcome breakdown states them ("6 (22%)", "in 8 patients").
_BREAKDOWN = cue(rf"\b{cues.NUMBER}\s*\(\s*\d+(?:\.\d+)?\s*%|\b\d+(?:\.\d+)?\s*%.*\b\d+(?:\.\d+)?\s*%", re.I)
_WORSE = cue(r"\bworse(?:ned)?\b|\bdeclined\b|\bprogressed\b", re.I)


def with_counts(
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


#: Slowing a decline: a benefit against a comparator, stabilisation without one.
_SLOWED = cue(r"\bslow(?:ed|s|ing)?\s+(?:the\s+)?(?:rate\s+of\s+)?(?:decline|progression|deterioration)\b", re.I)


def only_slowed(clause: str) -> bool:
    """Whether the clause's only favourable words are a slowed decline."""
    slowed = _SLOWED.search(clause)
    if slowed is None:
        return False
    rest = blanked(clause, slowed.start(), slowed.end())
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


#: A turn in a clause: what comes after it is what happened next.
_TURN = cue(r"\b(?:but|however|although|whereas)\b", re.I)


def healed_fully(clause: str) -> bool:
    """Whether the clause says the lesions healed or went into remission, and not partly
    ("no improvement with X; however, Y induced remission" reads from the turn on)."""
    healed = _HEALED.search(clause)
    if healed is None:
        return False
    turns = [t.end() for t in _TURN.finditer(clause, 0, healed.start())]
    return not _SHORT_OF.search(clause, turns[-1] if turns else 0)
