"""Vocabularies and topic packs: lookups by any name, cross-references checked at load time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import MINI_TOPIC
from ingest.curated import load_curated
from ingest.errors import IngestError
from kb.errors import TopicError, VocabularyError
from kb.topic import bundled_topics, load_topic


def test_terms_resolve_by_id_name_synonym_brand_and_abbreviation(mini_pack) -> None:
    vocab = mini_pack.vocabulary
    assert vocab.resolve_intervention("Cardizem") == "diltiazem"
    assert vocab.resolve_intervention("  DILTIAZEM. ") == "diltiazem"
    assert vocab.resolve_class("CCB") == "calcium-channel-blocker"
    assert vocab.resolve_context("scleroderma") == "systemic-sclerosis"
    assert vocab.resolve_condition("calcinosis cutis") == "calcinosis"
    with pytest.raises(VocabularyError, match="unknown intervention 'aspirin'"):
        vocab.resolve_intervention("aspirin")


def _copy_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(MINI_TOPIC, pack)
    return pack


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_unknown_class_and_component_are_reported_together(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)

    def break_it(data: dict) -> None:
        data["interventions"][0]["class"] = "nope"
        data["interventions"][4]["components"] = ["diltiazem", "ghost"]

    _edit(pack / "vocabulary.yaml", break_it)
    with pytest.raises(TopicError) as info:
        load_topic(pack)
    assert "unknown class 'nope'" in str(info.value)
    assert "unknown component 'ghost'" in str(info.value)


def test_missing_topic_names_the_bundled_ones() -> None:
    with pytest.raises(TopicError, match="calcinosis"):
        load_topic("no-such-topic")


def test_curated_findings_must_cite_known_articles_and_terms(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)

    def break_it(data: dict) -> None:
        data["findings"][0]["article"] = "pubmed:999"
        data["findings"][1]["intervention"] = "unobtainium"
        data["findings"][2]["key"] = data["findings"][3]["key"]

    _edit(pack / "curated.yaml", break_it)
    with pytest.raises(IngestError) as info:
        load_curated(load_topic(pack))
    message = str(info.value)
    assert "pubmed:999, which is not in the articles list" in message
    assert "unknown intervention 'unobtainium'" in message
    assert "used twice" in message


def test_bundled_calcinosis_pack_is_valid_and_complete() -> None:
    assert "calcinosis" in bundled_topics()
    pack = load_topic("calcinosis")
    articles, findings = load_curated(pack)
    vocab = pack.vocabulary
    assert vocab.resolve_intervention("diltiazem") == "diltiazem"
    classes = {i.id: i.class_id for i in vocab.interventions}
    assert classes["diltiazem"] == "calcium-channel-blocker"
    assert {classes[d] for d in ("alendronate", "etidronate", "pamidronate")} == {"bisphosphonate"}
    for drug in ("sodium-thiosulfate", "minocycline", "colchicine", "rituximab", "surgical-excision"):
        assert drug in classes
    assert "38535057" in pack.spec.seeds
    assert any(a.id == "pubmed:38535057" for a in articles)
    assert len(findings) >= 64
    assert all(f.summary for f in findings)
    ssc_diltiazem = [
        f for f in findings if f.intervention_id == "diltiazem" and f.context_id == "systemic-sclerosis" and f.n_treated
    ]
    assert ssc_diltiazem, "the pack must hold a diltiazem finding in systemic sclerosis with counts"
