"""The bundled topic packs: they load, new ones hold only what a user writes (no intervention
lists), their labels are the development corpora's, and label precedence chooses one context."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ingest.curated import load_curated
from kb.errors import TopicError
from kb.topic import ConditionLabels, bundled_topics, load_topic

KB = Path(sys.executable).with_name("kb")

# The condition_norm labels of each development corpus (shared/corpus/README.md), without
# the free-form "other: ..." ones.
CORPUS_LABELS = {
    "pyoderma-gangrenosum": {
        "pyoderma gangrenosum (inflammatory bowel disease)",
        "pyoderma gangrenosum (rheumatoid arthritis)",
        "pyoderma gangrenosum (hematologic disease)",
        "pyoderma gangrenosum (syndromic: PAPA/PASH/PAPASH)",
        "pyoderma gangrenosum (peristomal)",
        "pyoderma gangrenosum (other/unspecified)",
    },
    "ssc-ild": {
        "interstitial lung disease (systemic sclerosis)",
        "interstitial lung disease (myositis)",
        "interstitial lung disease (rheumatoid arthritis)",
        "interstitial lung disease (other/unspecified CTD)",
    },
}

# Packs written before the shared intervention resources existed.
WITH_INTERVENTIONS = {"calcinosis"}


@pytest.mark.parametrize("name", bundled_topics())
def test_every_bundled_pack_loads_with_its_curated_records(name: str) -> None:
    pack = load_topic(name)
    assert pack.id == name
    assert pack.spec.condition in {c.id for c in pack.vocabulary.conditions}
    load_curated(pack)


def test_the_new_packs_are_bundled() -> None:
    assert set(CORPUS_LABELS) <= set(bundled_topics())


@pytest.mark.parametrize("name", sorted(set(bundled_topics()) - WITH_INTERVENTIONS))
def test_new_packs_hold_no_intervention_lists(name: str) -> None:
    pack = load_topic(name)
    assert pack.vocabulary.interventions == ()
    assert pack.vocabulary.classes == ()
    raw = yaml.safe_load((pack.path / "vocabulary.yaml").read_text(encoding="utf-8"))
    assert set(raw) <= {"conditions", "contexts"}, "a topic's vocabulary names only its conditions and contexts"
    _articles, findings = load_curated(pack)
    assert findings == []


@pytest.mark.parametrize("name", sorted(CORPUS_LABELS))
def test_condition_labels_are_the_corpus_labels(name: str) -> None:
    pack = load_topic(name)
    labels = pack.spec.condition_labels[pack.spec.condition]
    assert {labels.default, *labels.contexts.values()} == CORPUS_LABELS[name]


@pytest.mark.parametrize("name", sorted(CORPUS_LABELS))
def test_every_context_of_the_condition_has_its_own_label(name: str) -> None:
    pack = load_topic(name)
    condition = next(c for c in pack.vocabulary.conditions if c.id == pack.spec.condition)
    labels = pack.spec.condition_labels[condition.id]
    assert set(labels.contexts) == set(condition.contexts)
    assert {c.id for c in pack.vocabulary.contexts} == set(condition.contexts)


def test_the_packs_label_what_the_corpora_describe() -> None:
    pg = load_topic("pyoderma-gangrenosum")
    vocab = pg.vocabulary
    assert vocab.resolve_condition("postoperative pyoderma gangrenosum") == "pyoderma-gangrenosum"
    assert vocab.resolve_context("Crohn disease") == "crohns-disease"
    assert vocab.resolve_context("PASH syndrome") == "papa-pash-syndromes"
    assert vocab.resolve_context("parastomal pyoderma gangrenosum") == "peristomal"
    assert vocab.resolve_context("haematological malignancy") == "hematologic-disease"
    ild = load_topic("ssc-ild")
    assert ild.vocabulary.resolve_condition("SSc-ILD") == "interstitial-lung-disease"
    assert ild.vocabulary.resolve_context("anti-synthetase syndrome") == "antisynthetase-syndrome"
    assert ild.vocabulary.resolve_context("UCTD") == "undifferentiated-connective-tissue-disease"
    labels = ild.spec.condition_labels["interstitial-lung-disease"]
    assert labels.contexts["anti-mda5-dermatomyositis"] == "interstitial lung disease (myositis)"
    assert labels.contexts["mixed-connective-tissue-disease"] == labels.default


def test_pg_and_ra_are_ambiguous_abbreviations() -> None:
    pg = load_topic("pyoderma-gangrenosum").vocabulary
    assert "PG" in pg.conditions[0].ambiguous_abbreviations
    assert "PG" not in pg.conditions[0].abbreviations
    ra = next(c for c in pg.contexts if c.id == "rheumatoid-arthritis")
    assert ra.ambiguous_abbreviations == ("RA",)


# -- precedence ----------------------------------------------------------------------------


def test_choose_context_by_precedence() -> None:
    labels = ConditionLabels(default="x", precedence=("a", "b"))
    assert labels.choose_context(["b", "a"]) == "a"
    assert labels.choose_context({"a"}) == "a"
    assert labels.choose_context(["c"]) == "c", "a single context needs no precedence"
    assert labels.choose_context(["a", "c"]) is None, "an unlisted context is never outranked"
    assert labels.choose_context([]) is None
    parents = {"a1": "a", "a2": "a"}
    assert labels.choose_context(["a1", "b"], parents) == "a1", "a narrower context ranks as its parent"
    assert labels.choose_context(["a1", "a"], parents) == "a1", "the narrower context stands for its parent"
    assert labels.choose_context(["a1", "a2", "b"], parents) == "a", "a tie goes to the listed context"
    parents |= {"c1": "c", "c2": "c", "c": "d", "e": "d"}
    assert labels.choose_context(["c1", "c2"], parents) == "c", "unranked siblings: their parent"
    assert labels.choose_context(["c1", "e"], parents) == "d", "unranked cousins: the narrowest shared context"
    assert labels.choose_context(["c1", "a1"], parents) is None
    assert ConditionLabels(default="x").choose_context(["a", "b"]) is None


def test_pg_peristomal_takes_precedence_over_bowel_disease() -> None:
    pg = load_topic("pyoderma-gangrenosum")
    choose = pg.choose_context
    condition = "pyoderma-gangrenosum"
    assert choose(condition, ["crohns-disease", "peristomal"]) == "peristomal"
    assert choose(condition, ["inflammatory-bowel-disease", "peristomal"]) == "peristomal"
    assert choose(condition, ["ulcerative-colitis", "papa-pash-syndromes"]) == "papa-pash-syndromes"
    assert choose(condition, ["crohns-disease", "inflammatory-bowel-disease"]) == "crohns-disease"
    assert choose(condition, ["crohns-disease", "ulcerative-colitis"]) == "inflammatory-bowel-disease"
    assert choose(condition, ["crohns-disease", "rheumatoid-arthritis"]) is None
    assert choose(condition, ["myelodysplastic-syndrome"]) == "myelodysplastic-syndrome"
    assert choose(condition, ["myelodysplastic-syndrome", "leukemia"]) == "hematologic-disease"
    assert choose(condition, ["myelodysplastic-syndrome", "systemic-sclerosis"]) == "myelodysplastic-syndrome"
    assert choose(condition, []) is None
    with pytest.raises(TopicError, match="no condition 'calcinosis'"):
        choose("calcinosis", ["peristomal"])


def test_ild_several_diseases_are_connective_tissue_disease_and_one_names_the_population() -> None:
    ild = load_topic("ssc-ild")
    condition = "interstitial-lung-disease"
    labels = ild.spec.condition_labels[condition]
    mixed = ild.choose_context(condition, ["systemic-sclerosis", "rheumatoid-arthritis", "connective-tissue-disease"])
    assert mixed == "connective-tissue-disease"
    assert labels.contexts[mixed] == labels.default
    assert ild.choose_context(condition, ["connective-tissue-disease", "systemic-sclerosis"]) == "systemic-sclerosis"
    assert ild.choose_context(condition, ["dermatomyositis", "anti-mda5-dermatomyositis"]) == (
        "anti-mda5-dermatomyositis"
    )
    assert ild.choose_context(condition, ["myositis", "antisynthetase-syndrome"]) == "antisynthetase-syndrome"
    assert ild.choose_context(condition, ["dermatomyositis", "polymyositis"]) == "myositis"
    assert ild.choose_context(condition, ["mixed-connective-tissue-disease", "sjogren-syndrome"]) == (
        "connective-tissue-disease"
    )


def _pack_copy(tmp_path: Path, name: str) -> Path:
    pack = tmp_path / name
    shutil.copytree(load_topic(name).path, pack)
    return pack


def _set_precedence(pack: Path, condition: str, precedence: list[str]) -> None:
    path = pack / "topic.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["condition_labels"][condition]["precedence"] = precedence
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_precedence_rejects_an_unknown_context(tmp_path: Path) -> None:
    pack = _pack_copy(tmp_path, "pyoderma-gangrenosum")
    _set_precedence(pack, "pyoderma-gangrenosum", ["peristomal", "stoma"])
    with pytest.raises(TopicError) as info:
        load_topic(pack)
    message = str(info.value)
    assert "condition_labels.pyoderma-gangrenosum.precedence" in message
    assert "'stoma' is not a context in the vocabulary" in message
    assert "contexts of 'pyoderma-gangrenosum': inflammatory-bowel-disease," in message


def test_precedence_rejects_a_context_of_another_condition(tmp_path: Path) -> None:
    pack = _pack_copy(tmp_path, "calcinosis")
    _set_precedence(pack, "calciphylaxis", ["systemic-sclerosis"])
    with pytest.raises(TopicError, match="'systemic-sclerosis' is a context, but not one of condition 'calciphylaxis'"):
        load_topic(pack)


def test_precedence_rejects_a_repeated_context() -> None:
    with pytest.raises(ValidationError, match="precedence lists a more than once"):
        ConditionLabels(default="x", precedence=("a", "b", "a"))


def test_a_pack_without_curated_records_file_loads(tmp_path: Path) -> None:
    pack = _pack_copy(tmp_path, "ssc-ild")
    (pack / "curated.yaml").unlink()
    assert load_curated(load_topic(pack)) == ([], [])


# -- the command line ------------------------------------------------------------------------


def _kb(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    result = subprocess.run(
        [str(KB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"kb {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_kb_topics_lists_the_bundled_packs(tmp_path: Path) -> None:
    out = _kb("topics", cwd=tmp_path)
    for name in ("calcinosis", "pyoderma-gangrenosum", "ssc-ild"):
        assert name in out


@pytest.mark.parametrize("name", sorted(CORPUS_LABELS))
def test_a_new_pack_builds_without_articles(name: str, tmp_path: Path) -> None:
    _kb("build", "--topic", name, "--db", f"sqlite:///{tmp_path}/kb.sqlite", "--no-site", cwd=tmp_path)
    assert (tmp_path / "kb.sqlite").is_file()
