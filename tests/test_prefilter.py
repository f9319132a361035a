"""RE2 prefilters (ingest.extraction.prefilter): a prefilter never says "no match" where
Python's engine finds one, on ASCII text or any other, so skipping the search it rules out
changes no result."""

from __future__ import annotations

import random
import re

import pytest

from conftest import corpus_texts, every_cue
from ingest.extraction.patterns import Cue, cue
from ingest.extraction.prefilter import Untranslatable, prefilter, translate

#: Texts at the edges of the classes: vertical tab, file separators, underscores, digits, a
#: final newline (where Python's $ matches too), capitals, words joined by hyphens; then letters,
#: digits and spaces beyond ASCII.
TEXTS = [
    "Eight of the ten patients improved after treatment; two did not respond.",
    "Complete resolution was seen in 3/4 cases (75%) at 12 months.",
    "no new lesions\n",
    "non-healing ulcer\x0bhealed\x1cthen_healed",
    "THE ULCERS HEALED IN FOUR PATIENTS, AND 2 OF 3 IMPROVED",
    "12\x1d patients\x1fwere treated with iv cyclophosphamide (n = 14).",
    "a 43-year-old woman; we report a case of calcinosis cutis.",
    "it has been shown that sodium thiosulfate is effective.\n\n",
    "",
    "Naïve patients\u00a0were treated; the ulcers héaled in ١٢ patients (75 %) – no new lesions.",
    "Eight of the ten patients improved\u2028two did not respond; ≥50% reduction in 3/4 cases.",
    "İSTANBUL: THE ULCERS HEALED IN FOUR PATIENTS ſo well; Kelvin",
    "a 43‑year‑old woman² was treated with iv cyclophosphamide (n\u2009=\u200914).",
    "we report a case of calcinosis cutis\u3000in a child\u00e9.",
]


CUES = every_cue()


def _agrees(c: Cue, text: str) -> bool:
    """Whether the cue's prefilter says "maybe" wherever its pattern matches ``text``."""
    pattern = c._folded if c._folded is not None else c._pattern
    target = text.lower() if c._folded is not None else text
    if c._prefilter is None or len(target) != len(text):  # lower-cased to another length: not folded
        return True
    return c._prefilter(target) or pattern.search(target) is None


def test_every_cue_of_the_extractors_has_a_prefilter() -> None:
    assert len(CUES) > 100
    assert any(name.startswith("cues.DESIGN_CUES") for name, _ in CUES)
    assert any(name.startswith("fields._cues().outcomes") for name, _ in CUES)
    assert [name for name, c in CUES if c._prefilter is None] == []
    without = [name for name, c in CUES if c._prefilter.__self__._unicode is None]  # type: ignore[attr-defined]
    assert len(without) < 10  # only cues that ignore case as written have no program for other text


@pytest.mark.parametrize("text", TEXTS)
def test_a_prefilter_says_maybe_wherever_the_cue_matches_on_written_texts(text: str) -> None:
    assert [name for name, c in CUES if not _agrees(c, text)] == []


def test_a_prefilter_says_maybe_wherever_the_cue_matches_on_every_corpus_sentence() -> None:
    texts = corpus_texts()
    # Seeded mutations of the sentences: characters at the classes' edges inserted or removed.
    rng = random.Random(20261202)
    sentences = [t for t in texts if t]
    edges = [" ", "\n", "\x0b", "\x1c", "_", "-", ".", "0", "9", "A", "z", "(", ")", "%", "/"]
    edges += ["é", "–", "\u00a0", "²", "١", "\u2028", "ſ", "K", "≥", "\u3000", "\u0301"]
    for _ in range(3000):
        value = list(rng.choice(sentences))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(value) + 1)
            if value and rng.random() < 0.4:
                del value[min(at, len(value) - 1)]
            else:
                value.insert(at, rng.choice(edges))
        texts.append("".join(value))
    assert sum(t.isascii() for t in texts) > 1000 and sum(not t.isascii() for t in texts) > 1000
    failures = [(name, text[:80]) for text in texts for name, c in CUES if not _agrees(c, text)]
    assert failures == []


def test_a_prefilter_rules_out_text_and_lets_the_cue_decide_the_rest() -> None:
    healed = cue(r"(?<!non-)\bheal(?:ed|ing)\b", re.IGNORECASE)
    assert healed._prefilter is not None
    assert not healed._prefilter("no change in the ulcer")
    assert healed._prefilter("a non-healing ulcer")  # the lookbehind is left to Python's engine
    assert healed.search("A non-healing ulcer") is None
    found = healed.search("The ulcer HEALED.")
    assert found is not None and found.span() == (10, 16)
    at_end = prefilter(re.compile(r"ends$"))
    assert at_end is not None and at_end.may_match("it ends\n")  # Python's $ matches before a final newline
    assert not at_end.may_match("it ended")


def test_translation_leaves_out_what_only_narrows_a_match() -> None:
    assert translate(r"(?<![^\W\d_])heal(?=ed)") == "heal"
    assert translate(r"ends$") == "ends"
    assert translate(r"\w+\s\d", re.IGNORECASE) == r"(?i)(?:[0-9A-Za-z_])+[\x09-\x0d\x1c-\x20][0-9]"
    assert translate(r"(?>ab)c*+") == "(?:ab)(?:c)*"
    assert translate(r"[^\W\d_]") == r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f0-9\x{5f}]"


def test_for_text_beyond_ascii_classes_admit_any_such_character_and_word_boundaries_go() -> None:
    assert translate(r"\bheal\w", any_text=True) == r"heal[0-9A-Za-z_\x{80}-\x{10ffff}]"
    assert translate(r"[^\s–]", any_text=True) == r"[^\x09-\x0d\x1c-\x20\x{2013}]"  # exclusions as named
    with pytest.raises(Untranslatable):
        translate(r"heal", re.IGNORECASE, any_text=True)
    healed = prefilter(re.compile(r"\bheal(?:ed|ing)\b"))
    assert healed is not None
    assert healed.may_match("the ulcer healed\u00a0fully") and healed.may_match("héaled, healing")
    assert not healed.may_match("no change in the ulcer – none")
    ends = prefilter(re.compile(r"\w\b"))
    assert ends is not None and ends.may_match("é ")  # a boundary Python's engine sees and RE2's does not
    shouting = prefilter(re.compile(r"\bHEALED\b", re.IGNORECASE))
    assert shouting is not None and shouting.may_match("naïve: it healed")  # left to Python's engine


def test_a_pattern_the_translation_does_not_cover_has_no_prefilter() -> None:
    with pytest.raises(Untranslatable):
        translate(r"(\w)\1")
    assert prefilter(re.compile(r"(\w)\1")) is None
    repeated = cue(r"(\w)\1")
    assert repeated._prefilter is None
    assert repeated.search("a pool") is not None  # searched by Python's engine as before
