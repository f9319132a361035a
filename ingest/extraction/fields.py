"""Descriptive fields of a finding: the patients' age group, the outcome measure, and harms.

Three small stages, each a pure function over text, with their cues kept as data in
``data/fields.yaml`` (how abstracts say "children", "FVC" or "withdrew because of nausea";
nothing about one topic):

* :func:`age_group` reads an article (title and abstract) and says whether its patients are
  ``adults``, ``children``, ``mixed`` or ``unknown``: words naming either group, and stated
  ages ("a 12-year-old girl", "aged 4-67 years", "mean age 52").
* :func:`outcome_measure` names what one evidence sentence measured ("lung function",
  "healing", "size", …): the measure named first in the sentence.
* :func:`adverse_events` finds the sentences of an abstract that report adverse events or
  withdrawals, and says for each the harm as written ("withdrew because of nausea") or
  ``none reported`` ("No adverse events occurred", "was well tolerated").

None of them is scored by the development corpora; their tests are sentences the project
wrote (``tests/test_fields.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from ingest.errors import IngestError
from ingest.extraction.cues import NUMBER, number
from ingest.extraction.patterns import Cue, cue
from ingest.extraction.text import Sentence, section_family
from kb.vocabulary import safe_load_yaml

TABLE: Final = Path(__file__).parent / "data" / "fields.yaml"

AgeGroup = Literal["adults", "children", "mixed", "unknown"]
#: The value of :func:`adverse_events` for a sentence saying there were none.
NONE_REPORTED: Final = "none reported"
#: The longest harm text kept (the clause is cut at a word boundary before it).
_MAX_HARM = 160


@dataclass(frozen=True, slots=True)
class _Cues:
    children: Cue
    adults: Cue
    adult_from: int
    outcomes: tuple[tuple[str, Cue], ...]
    harm: Cue
    no_harm: Cue
    not_harm: Cue


def _words(patterns: list[str]) -> Cue:
    return cue(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def _cues() -> _Cues:
    try:
        data: Any = safe_load_yaml(TABLE.read_text(encoding="utf-8"))
        ages, harms = data["age_group"], data["adverse_events"]
        return _Cues(
            children=_words(ages["children"]),
            adults=_words(ages["adults"]),
            adult_from=int(ages["adult_from"]),
            outcomes=tuple((row["measure"], _words(row["patterns"])) for row in data["outcome"]),
            harm=_words(harms["cues"]),
            no_harm=cue("|".join(harms["none"]), re.IGNORECASE),
            not_harm=cue("|".join(harms["not_harm"]), re.IGNORECASE),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, re.error) as exc:
        raise IngestError(f"cannot read the field cues {TABLE}: {exc}") from exc


# -- age group ------------------------------------------------------------------------------

_AGE = cue(
    rf"\b(?P<n>{NUMBER})[- ](?P<unit>years?|yrs?|months?|weeks?|days?)[- ]old\b"
    rf"|\baged?\s+(?:of\s+)?(?P<a>\d{{1,3}})(?:\s*(?:-|–|to)\s*(?P<b>\d{{1,3}}))?\s*(?P<unit2>years?|yrs?|months?)?"
    rf"|\bmean\s+(?:\(\w+\)\s+)?age\s+(?:was\s+|of\s+)?(?P<m>\d{{1,3}})",
    re.IGNORECASE,
)


#: Units of age per year, by their first letter (years, months, weeks, days).
_PER_YEAR: Final = {"y": 1, "m": 12, "w": 52, "d": 365}


def stated_ages(text: str) -> list[float]:
    """Ages in years that ``text`` states (each end of a range counts)."""
    ages: list[float] = []
    for m in _AGE.finditer(text):
        if m["n"]:
            value = number(m["n"])
            if value is not None:
                ages.append(value / _PER_YEAR[m["unit"].lower()[0]])
        elif m["a"]:
            months = (m["unit2"] or "").lower().startswith("month")
            for part in (m["a"], m["b"]):
                if part:
                    ages.append(int(part) / 12 if months else int(part))
        elif m["m"]:
            ages.append(int(m["m"]))
    return ages


def age_group(title: str, text: str) -> AgeGroup:
    """Whether an article's patients are adults, children, both, or not said.

    Stated ages decide when there are any (a range across ``adult_from`` is ``mixed``);
    otherwise words naming either group do.
    """
    cues = _cues()
    both = f"{title}\n{text}"
    ages = stated_ages(both)
    if ages:
        young = any(a < cues.adult_from for a in ages)
        old = any(a >= cues.adult_from for a in ages)
        return "mixed" if young and old else "children" if young else "adults"
    young = cues.children.search(both) is not None
    old = cues.adults.search(both) is not None
    if young and old:
        return "mixed"
    return "children" if young else "adults" if old else "unknown"


# -- outcome measure ------------------------------------------------------------------------


def outcome_measure(sentence: str) -> str | None:
    """The outcome measure ``sentence`` reports: the one it names first, or None."""
    best: tuple[int, str] | None = None
    for measure, pattern in _cues().outcomes:
        m = pattern.search(sentence)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), measure)
    return best[1] if best else None


# -- adverse events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Harm:
    """A sentence reporting harms: the harm as written, or :data:`NONE_REPORTED`."""

    sentence: Sentence
    text: str


def adverse_events(sentences: list[Sentence]) -> list[Harm]:
    """The sentences reporting adverse events or withdrawals, outside background sections.

    A sentence that says there were none gives :data:`NONE_REPORTED`; otherwise the harm is
    the clause from the first cue to the clause's end ("two withdrew because of nausea").
    """
    cues = _cues()
    out = []
    for sentence in sentences:
        if section_family(sentence.section) not in {"results", "conclusions", ""}:
            continue
        text = sentence.text
        if cues.no_harm.search(text):
            out.append(Harm(sentence, NONE_REPORTED))
            continue
        m = cues.harm.search(text)
        if m is None or cues.not_harm.search(text):
            continue
        out.append(Harm(sentence, _clause_around(text, m.start(), m.end())))
    return out


_CLAUSE_END = re.compile(r"[;.]\s|[;.]$|,\s+(?:but|whereas|while|although|which|who)\b")
_CLAUSE_START = re.compile(r"(?:^|[;:]\s|,\s+(?:and|but|whereas|while)\s|\.\s)")


def _clause_around(text: str, start: int, end: int) -> str:
    """The clause of ``text`` holding [start, end), cut to at most ``_MAX_HARM`` characters."""
    begin = 0
    for m in _CLAUSE_START.finditer(text, 0, start):
        begin = m.end()
    stop = _CLAUSE_END.search(text, end)
    clause = text[begin : stop.start() if stop else len(text)].strip(" ,;.")
    if len(clause) > _MAX_HARM:
        clause = clause[:_MAX_HARM].rsplit(" ", 1)[0] + "…"
    return clause


def harms_by_intervention(harms: list[Harm], sentence_ids: list[set[str]], main_ids: set[str]) -> dict[str, list[str]]:
    """The harm texts of each intervention, in the order of the abstract.

    ``sentence_ids`` holds, per sentence index, the intervention ids mentioned there; a harm
    sentence naming no intervention belongs to the article's main interventions
    (``main_ids``).
    """
    found: dict[str, list[str]] = {}
    for harm in harms:
        ids = sentence_ids[harm.sentence.index] if harm.sentence.index < len(sentence_ids) else set()
        for i in ids or main_ids:
            texts = found.setdefault(i, [])
            if harm.text not in texts:
                texts.append(harm.text)
    return found


def combine_harms(texts: Iterable[str]) -> str | None:
    """One field value from harm texts: the stated harms joined with ``"; "``, else
    :data:`NONE_REPORTED` when a sentence said there were none, else None."""
    unique = list(dict.fromkeys(texts))
    stated = [t for t in unique if t != NONE_REPORTED]
    return "; ".join(stated) if stated else NONE_REPORTED if unique else None
