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


def test_a_start_lookahead_is_added_only_where_the_first_characters_are_few() -> None:
    assert cue(r"\b(?:report|describe)\w*", re.IGNORECASE)._pattern.pattern.startswith("(?=[")
    assert cue(r"\b\w+ed\b", re.IGNORECASE)._pattern.pattern == r"\b\w+ed\b"  # any letter can start it
    assert cue(r"(?:very\s+)?good", re.IGNORECASE)._pattern.pattern == r"(?:very\s+)?good"  # optional start


def test_every_cue_finds_what_its_pattern_as_written_finds_on_every_corpus_sentence() -> None:
    """Folding, start lookaheads, required words and RE2 prefilters together change no match:
    every cue of the extractors (module attributes and the cues in their tables), on every
    corpus abstract and sentence."""
    from conftest import corpus_texts, every_cue

    texts = corpus_texts()
    checked = 0
    for name, value in every_cue():
        plain = re.compile(value.pattern, value.flags)
        for text in texts:
            assert [m.span() for m in value.finditer(text)] == [m.span() for m in plain.finditer(text)], name
            assert (value.search(text) is None) == (plain.search(text) is None), name
        checked += 1
    assert checked > 100


def test_a_cue_knows_the_words_one_of_which_every_match_holds() -> None:
    assert cue(r"\b(?:improv\w+|heal(?:ed|ing))\b", re.IGNORECASE)._words == ("heal", "improv")
    assert cue(r"\b(?P<n>\d+)\s+patients?\s+(?:were\s+)?treated\b", re.IGNORECASE)._words == ("patient",)
    assert cue(r"\b(?:very\s+)?\w+ly\b", re.IGNORECASE)._words is None  # no literal every match needs
    assert cue(r"\b(?:a|an)\s+case\b", re.IGNORECASE)._words == ("case",)
    assert cue(r"\bno\b", re.IGNORECASE)._words is None  # too short to be worth testing
    assert cue(r"\bhealed\b")._words is None  # matched as written: case rules of its own


def test_a_text_without_the_required_words_is_not_searched_and_matches_nothing() -> None:
    c = cue(r"\b(?P<n>\d+)\s+patients?\s+(?:were\s+)?treated\b", re.IGNORECASE)
    assert c._folded is not None  # a named group is not an upper-case literal
    assert c.search("12 patients improved") is None
    assert list(c.finditer("12 patients improved")) == []
    assert c.sub("#", "12 patients improved") == "12 patients improved"
    found = c.search("Then 12 Patients were TREATED.")
    assert found is not None and found.group("n") == "12"
