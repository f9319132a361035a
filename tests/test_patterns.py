"""Cue patterns (ingest.extraction.patterns): folded matching finds what IGNORECASE finds."""

from __future__ import annotations

import re

import pytest

from ingest.extraction import cues
from ingest.extraction.patterns import Cue, cue

TEXTS = [
    "Eight of the ten patients IMPROVED after Treatment; two did not respond.",
    "Complete Resolution was seen in 3/4 cases (75%).",
    "İstanbul: the lesions healed in FOUR patients.",  # "İ" lower-cases to two characters
    "No new lesions appeared.",
]


@pytest.mark.parametrize("name", ["POSITIVE", "NEGATED", "FRACTION_OF", "COMPLETE", "PERCENT", "FRACTION_SLASH"])
@pytest.mark.parametrize("text", TEXTS)
def test_a_cue_matches_where_the_ignorecase_pattern_does(name: str, text: str) -> None:
    c: Cue = getattr(cues, name)
    plain = re.compile(c.pattern, c.flags)
    assert [m.span() for m in c.finditer(text)] == [m.span() for m in plain.finditer(text)]
    assert (c.search(text) is None) == (plain.search(text) is None)


def test_only_lower_case_patterns_are_folded() -> None:
    assert cue(r"\bhealed\b", re.IGNORECASE)._folded is not None
    assert cue(r"\bMEDLINE\b", re.IGNORECASE)._folded is None  # an upper-case literal
    assert cue(r"\S+ed\b", re.IGNORECASE)._folded is not None  # an escape is not a literal
    assert cue(r"\bhealed\b")._folded is None  # case-sensitive as written


def test_sub_keeps_the_text_in_its_own_case() -> None:
    purpose = cue(r"\bto\s+improve\b", re.IGNORECASE)
    assert purpose.sub(" ", "We aimed TO IMPROVE Healing.") == "We aimed   Healing."
