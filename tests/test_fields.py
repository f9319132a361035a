"""The descriptive fields of a finding (ingest.extraction.fields): age group, outcome measure,
adverse events. The corpora do not score these, so each is tested on sentences written here."""

from __future__ import annotations

import pytest

from ingest.extraction import fields
from ingest.extraction.lexicon import topic_lexicon
from ingest.extraction.text import ArticleText, split_sentences
from ingest.extractors import get
from kb.topic import load_topic


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("", "A 9-year-old boy had painful nodules on both elbows.", "children"),
        ("", "We describe a 58-year-old woman with limited disease.", "adults"),
        ("", "Eleven patients aged 6 to 71 years were treated.", "mixed"),
        ("", "The mean age was 47 years; all were treated for two years.", "adults"),
        ("Ulcers in juvenile disease", "Four patients responded to the infusions.", "children"),
        ("", "Three adults and two children received the drug.", "mixed"),
        ("", "An 18-month-old infant was admitted.", "children"),
        ("", "The lesions regressed in every patient.", "unknown"),
        # a stated age decides over words: "juvenile-onset" in an adult
        ("", "A 34-year-old man with juvenile-onset disease improved.", "adults"),
    ],
)
def test_age_group(title: str, text: str, expected: str) -> None:
    assert fields.age_group(title, text) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Forced vital capacity rose by 4% after a year of treatment.", "lung function"),
        ("FVC and DLCO were stable at 12 months.", "lung function"),
        ("The ulcer healed completely within six weeks.", "healing"),
        ("Pain decreased and the nodules became smaller in size.", "pain"),
        ("The deposits shrank on radiographs taken at six months.", "size"),
        ("HRCT extent of fibrosis did not change.", "imaging"),
        ("Two patients died of respiratory failure.", "survival"),
        ("No recurrence was seen during follow-up.", "recurrence"),
        ("Eight of ten patients reached remission.", "remission"),
        ("The patient was given the drug twice a week.", None),
    ],
)
def test_outcome_measure_is_the_first_named(sentence: str, expected: str | None) -> None:
    assert fields.outcome_measure(sentence) == expected


def _harms(text: str) -> list[str]:
    return [h.text for h in fields.adverse_events(split_sentences(text))]


def test_adverse_events_read_as_written() -> None:
    text = (
        "Results: Nine patients improved. Two patients withdrew because of nausea. "
        "One developed a herpes zoster infection, which resolved."
    )
    assert _harms(text) == ["Two patients withdrew because of nausea", "One developed a herpes zoster infection"]


def test_a_statement_of_no_harm_reads_none_reported() -> None:
    assert _harms("Results: No serious adverse events were observed.") == [fields.NONE_REPORTED]
    assert _harms("Conclusions: The infusions were well tolerated.") == [fields.NONE_REPORTED]


def test_stopping_after_healing_and_background_harms_are_not_harms() -> None:
    assert _harms("Results: Treatment was stopped after the lesions healed.") == []
    assert _harms("Background: Side effects limit the use of these drugs. Results: Six patients improved.") == []


def test_combined_harms_keep_stated_ones_over_none_reported() -> None:
    assert fields.combine_harms(["none reported", "mild diarrhoea", "mild diarrhoea"]) == "mild diarrhoea"
    assert fields.combine_harms(["none reported"]) == "none reported"
    assert fields.combine_harms([]) is None


def test_harms_belong_to_the_intervention_named_or_else_the_main_one() -> None:
    sentences = split_sentences("Results: Drug A caused a skin rash. Two stopped because of headache.")
    found = fields.harms_by_intervention(fields.adverse_events(sentences), [{"a"}, set()], {"b"})
    assert found == {"a": ["Drug A caused a skin rash"], "b": ["Two stopped because of headache"]}


def test_the_rules_extractor_fills_the_fields() -> None:
    lexicon = topic_lexicon(load_topic("calcinosis"))
    article = ArticleText(
        "pubmed:1",
        "Sodium thiosulfate for calcinosis cutis in a child",
        "We report a 10-year-old girl with juvenile dermatomyositis and calcinosis cutis. "
        "She was treated with intralesional sodium thiosulfate. "
        "The calcinosis decreased in size after three months. "
        "The injections were well tolerated.",
    )
    (finding,) = get("rules")(article, lexicon)
    assert finding.age_group == "children"
    assert finding.outcome == "size"
    assert finding.adverse_events == fields.NONE_REPORTED
