"""The ranked extractor and its training: candidates, a model learned reproducibly, folds that
retrain without the held-out topic. The articles are written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ingest.cli import app
from ingest.extraction.confidence import Model, shipped_confidence
from ingest.extraction.corpus import read_jsonl
from ingest.extraction.lexicon import topic_lexicon
from ingest.extraction.protocol import training_sets
from ingest.extraction.text import ArticleText
from ingest.extraction.training import train
from ingest.extractors import rules
from ingest.extractors.ranked import extractor_with, scored_candidates, shipped_model
from kb.topic import load_topic

PACK = load_topic("calcinosis")
ARTICLES = [
    {
        "id": "r1",
        "title": "Verapamil for calcinosis cutis",
        "abstract": "A woman with calcinosis cutis took warfarin. After verapamil the calcinosis improved.",
        "gold": [{"drug_norm": "verapamil", "condition_norm": "calcinosis cutis (other/unspecified)"}],
    },
    {
        "id": "r2",
        "title": "Calcinosis cutis in a man",
        "abstract": "A man with calcinosis cutis took aspirin for years. Calcinosis was seen on radiographs.",
        "gold": [],
    },
    {
        "id": "r3",
        "title": "Sodium thiosulfate for calciphylaxis",
        "abstract": "A man with calciphylaxis on hemodialysis received sodium thiosulfate. The wounds healed.",
        "gold": [{"drug_norm": "sodium thiosulfate", "condition_norm": "calciphylaxis"}],
    },
    {  # the annotator read this as another context than the rules will: a wrong finding to learn from
        "id": "r4",
        "title": "Colchicine for calcinosis cutis",
        "abstract": "A woman with calcinosis cutis received colchicine. The calcinosis improved.",
        "gold": [{"drug_norm": "colchicine", "condition_norm": "calcinosis (dermatomyositis)"}],
    },
]


def _gold(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES), encoding="utf-8")
    return path


def test_every_intervention_an_article_names_is_a_candidate() -> None:
    article = ArticleText("x", ARTICLES[0]["title"], ARTICLES[0]["abstract"])  # type: ignore[arg-type]
    _, scored = scored_candidates(article, topic_lexicon(PACK))
    ids = sorted(c.ids for c, _ in scored)
    assert ids == [("verapamil",), ("warfarin",)]
    by_id = {c.ids: values for c, values in scored}
    assert by_id[("verapamil",)]["in_title"] == 1.0 and by_id[("warfarin",)]["in_title"] == 0.0


def test_training_is_reproducible_and_names_its_topics(tmp_path: Path) -> None:
    loaded = [(PACK, list(read_jsonl(_gold(tmp_path))))]
    first, second = train(training_sets(loaded)), train(training_sets(loaded))
    assert first.to_json() == second.to_json()
    assert first.trained_on == ("calcinosis",)
    assert 0.0 < first.threshold < 1.0


def test_a_fold_trains_without_the_held_out_topic(tmp_path: Path) -> None:
    loaded = [(PACK, list(read_jsonl(_gold(tmp_path))))]
    assert training_sets(loaded, held_out="calcinosis") == []
    assert [s.topic for s in training_sets(loaded, held_out="other")] == ["calcinosis"]


def test_a_confidence_learns_from_each_topic_read_as_a_new_one(tmp_path: Path) -> None:
    # What a user's new topic gets: the pack's conditions and contexts only, and none of the
    # general table's rows that this topic's reading taught.
    loaded = [(PACK, list(read_jsonl(_gold(tmp_path))))]
    (own,) = training_sets(loaded)
    (new,) = training_sets(loaded, as_new_topics=True)
    assert own.pack.vocabulary.interventions and not new.pack.vocabulary.interventions
    assert new.pack.vocabulary.conditions == own.pack.vocabulary.conditions
    text = "She was given high-flow oxygen."  # a name the calcinosis reading taught (from: calcinosis)
    assert [m.id for m in own.lexicon.find(text)] == ["oxygen-therapy"]
    assert "oxygen-therapy" not in [m.id for m in new.lexicon.find(text)]
    assert training_sets(loaded, held_out="calcinosis", as_new_topics=True) == []


def test_the_model_decides_what_is_kept_and_its_probability_is_the_confidence() -> None:
    article = ArticleText("x", ARTICLES[0]["title"], ARTICLES[0]["abstract"])  # type: ignore[arg-type]
    lexicon = topic_lexicon(PACK)
    keep_titled = Model(("in_title",), (10.0,), -5.0, 0.5)
    found = extractor_with(keep_titled)(article, lexicon)
    assert [e.interventions for e in found] == [("verapamil",)]
    assert found[0].confidence == round(keep_titled.probability({"in_title": 1.0}), 3)
    assert extractor_with(Model(("in_title",), (0.0,), -5.0, 0.5))(article, lexicon) == []


def test_the_shipped_models_load_and_kb_train_writes_both(tmp_path: Path) -> None:
    assert shipped_model().trained_on == ("calcinosis", "pyoderma-gangrenosum", "ssc-ild")
    assert shipped_confidence().trained_on == ("calcinosis", "pyoderma-gangrenosum", "ssc-ild")
    out = tmp_path / "models"
    result = CliRunner().invoke(
        app, ["train", "--gold", str(_gold(tmp_path)), "--topic", "calcinosis", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("ranked.json", "confidence.json"):
        assert Model.from_json(json.loads((out / name).read_text(encoding="utf-8"))).trained_on == ("calcinosis",)


def test_the_rules_confidence_is_the_models_probability_and_never_changes_what_is_found() -> None:
    article = ArticleText("x", ARTICLES[0]["title"], ARTICLES[0]["abstract"])  # type: ignore[arg-type]
    lexicon = topic_lexicon(PACK)
    heuristic = rules.extractor_with(None)(article, lexicon)
    titled = Model(("in_title",), (4.0,), -2.0, 0.5)
    learned = rules.extractor_with(titled)(article, lexicon)
    assert [e.interventions for e in learned] == [e.interventions for e in heuristic] != []
    assert {e.confidence for e in learned} <= {round(titled.probability({"in_title": v}), 3) for v in (0.0, 1.0)}
