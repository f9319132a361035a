"""The extractors: cues, negation, hedging, counts, combinations, abbreviations in context,
the plug-in registry, the corpus CLI (`kb extract`, `kb eval`) and the build pipeline.

The sentences here are written for these tests; the real development corpus is read from
``../shared`` by the quality-floor test only.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import ingest.extractors as extractors_package
from conftest import shared_path
from ingest.cli import app
from ingest.extraction.confidence import shipped_confidence
from ingest.extraction.corpus import Labeller
from ingest.extraction.evaluate import evaluate
from ingest.extraction.lexicon import Lexicon
from ingest.extraction.text import ArticleText, clean, split_sentences
from ingest.extractors import Extraction, available, get, rules
from kb.topic import load_topic

PACK = load_topic("calcinosis")
LEXICON = Lexicon(PACK.vocabulary)
LABELS = Labeller(PACK)
RULES = get("rules")


def run(abstract: str, title: str = "", **kwargs: tuple[str, ...]) -> list[dict[str, object]]:
    article = ArticleText("t1", title=title, abstract=abstract, **kwargs)
    return [LABELS.row(article, e) for e in RULES(article, LEXICON)]


def only(rows: list[dict[str, object]]) -> dict[str, object]:
    assert len(rows) == 1, rows
    return rows[0]


# -- responses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "response"),
    [
        ("After six months of diltiazem the calcinosis improved markedly.", "improved"),
        ("The nodules resolved completely after treatment with colchicine.", "complete"),
        ("Minocycline led to partial regression of the deposits.", "partial"),
        ("The calcinosis did not improve with alendronate.", "none"),
        ("Her lesions failed to respond to warfarin.", "none"),
        ("Deposits were refractory to diltiazem given for a year.", "none"),
        ("Calcinosis progressed despite treatment with probenecid.", "worsened"),
        ("Sodium thiosulfate had to be stopped because of nausea, so the lesions could not be judged.", "unclear"),
        ("No new lesions appeared during treatment with rituximab.", "improved"),
    ],
)
def test_response_cues_and_negation(sentence: str, response: str) -> None:
    abstract = f"We report a 40-year-old woman with systemic sclerosis and calcinosis. {sentence}"
    row = only(run(abstract, title="Calcinosis in systemic sclerosis: a case report"))
    assert row["response"] == response
    assert row["quote"] == sentence
    assert row["condition_norm"] == "calcinosis (systemic sclerosis)"
    assert row["study_design"] == "case_report"


def test_hedging_keeps_the_direction_and_is_a_signal_of_confidence() -> None:
    title = "Treatment of calcinosis in dermatomyositis: a review"
    firm_text = "This review covers treatment options. Pamidronate was effective against calcinosis."
    hedged_text = "This review covers treatment options. Pamidronate may be effective against calcinosis."
    firm, hedged = only(run(firm_text, title)), only(run(hedged_text, title))
    assert firm["response"] == hedged["response"] == "improved"
    # The rules' own score lowers a hedged finding; the learned confidence weighs the hedge as
    # the corpora taught it (possibly not at all), so nothing more is promised of it.
    heuristic = rules.extractor_with(None)
    (firm_h,) = heuristic(ArticleText("t1", title, firm_text), LEXICON)
    (hedged_h,) = heuristic(ArticleText("t1", title, hedged_text), LEXICON)
    assert hedged_h.confidence < firm_h.confidence
    assert "hedged" in shipped_confidence().features  # the model weighs it, with the weight it learned
    assert 0.0 < float(hedged["confidence"]) < 1.0  # type: ignore[arg-type]


def test_an_outcome_of_the_underlying_disease_is_not_a_finding() -> None:
    abstract = (
        "We report three patients with dermatomyositis and calcinosis. "
        "Muscle weakness improved with rituximab in all three patients."
    )
    assert run(abstract, title="Rituximab in dermatomyositis") == []


def test_prevention_is_not_treatment() -> None:
    abstract = (
        "We reviewed 40 children with juvenile dermatomyositis. "
        "Early methotrexate was associated with a decreased incidence of calcinosis."
    )
    assert run(abstract, title="Early treatment and calcinosis in juvenile dermatomyositis") == []


def test_an_abstract_without_a_treatment_outcome_gives_nothing() -> None:
    abstract = (
        "Calcinosis is common in systemic sclerosis. We measured deposits on radiographs of 30 patients. "
        "Inter-rater agreement improved after training."
    )
    assert run(abstract, title="Scoring calcinosis on hand radiographs") == []


# -- counts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "treated", "responded", "response"),
    [
        ("Calcinosis improved in 3 of 12 patients given diltiazem.", 12, 3, "mixed"),
        ("Diltiazem reduced the deposits in 8/9 patients.", 9, 8, "mixed"),
        ("Diltiazem reduced the deposits in nine of nine patients.", 9, 9, "improved"),
        ("Both patients treated with diltiazem had smaller deposits.", 2, 2, "improved"),
        ("Lesions regressed with diltiazem in 40% of the patients.", None, None, "mixed"),
    ],
)
def test_counting_forms(sentence: str, treated: int | None, responded: int | None, response: str) -> None:
    abstract = f"Calcinosis is a complication of systemic sclerosis. {sentence}"
    row = only(run(abstract, title="Diltiazem for calcinosis in systemic sclerosis"))
    assert (row["n_treated"], row["n_responded"], row["response"]) == (treated, responded, response)


def test_a_concentration_is_not_a_responder_rate() -> None:
    abstract = "A 12-year-old girl had calcinosis cutis. Topical 25% sodium thiosulfate resulted in improvement."
    row = only(run(abstract, title="Topical sodium thiosulfate for calcinosis cutis"))
    assert row["response"] == "improved"
    assert (row["n_treated"], row["n_responded"]) == (1, 1)


def test_a_sentence_naming_no_drug_speaks_for_the_studied_one() -> None:
    abstract = (
        "Objective: To evaluate minocycline for calcinosis in limited systemic sclerosis. "
        "Results: Ten patients were treated. Seven patients have shown improvement of their deposits."
    )
    row = only(run(abstract, title="Minocycline for calcinosis in systemic sclerosis"))
    assert (row["drug_norm"], row["n_treated"], row["n_responded"], row["response"]) == ("minocycline", 10, 7, "mixed")
    assert row["study_design"] == "case_series"


# -- interventions -----------------------------------------------------------------------


def test_drugs_given_together_form_a_combination() -> None:
    abstract = (
        "A 30-year-old man had calcinosis. Treatment with pamidronate plus diltiazem led to regression of the deposits."
    )
    row = only(run(abstract, title="Calcinosis: a case report"))
    assert row["drug_norm"] == "diltiazem + pamidronate"
    assert row["drug_class"] == "calcium channel blocker + bisphosphonate"


def test_a_review_listing_drugs_gives_one_finding_per_drug() -> None:
    abstract = (
        "This review summarises treatments. Diltiazem, alendronate or minocycline might be useful for calcinosis cutis."
    )
    rows = run(abstract, title="Calcinosis cutis: a review")
    assert sorted(r["drug_norm"] for r in rows) == ["alendronate", "diltiazem", "minocycline"]
    assert {r["study_design"] for r in rows} == {"review"}
    assert {r["quote"] for r in rows} == {abstract.split(". ", 1)[1]}


def test_a_class_named_beside_its_member_is_folded_into_the_member() -> None:
    abstract = "A 50-year-old woman had calcinosis. The bisphosphonate alendronate reduced the size of the deposits."
    assert only(run(abstract, title="Calcinosis: a case report"))["drug_norm"] == "alendronate"


def test_a_brand_name_resolves_to_the_generic() -> None:
    abstract = "A 45-year-old man had calcinosis. His deposits shrank after Cardizem was started."
    assert only(run(abstract, title="Calcinosis: a case report"))["drug_norm"] == "diltiazem"


# -- abbreviations in context ------------------------------------------------------------


def test_an_abbreviation_defined_in_the_abstract_wins() -> None:
    text = "Soft tissue sarcoma (STS) was excluded. STS did not change. Sodium thiosulfate (ST) was given."
    found = {m.text: m.id for m in LEXICON.find(text, LEXICON.definitions(text))}
    assert "STS" not in found  # defined as something the vocabulary does not know
    assert found["ST"] == "sodium-thiosulfate"


def test_an_undefined_ambiguous_abbreviation_is_not_guessed() -> None:
    undefined = "Patients with DM and calcinosis."
    assert "dermatomyositis" not in {m.id for m in LEXICON.find(undefined)}
    defined = "Dermatomyositis (DM) is rare. Patients with DM and calcinosis."
    ids = [m.id for m in LEXICON.find(defined, LEXICON.definitions(defined))]
    assert ids.count("dermatomyositis") == 3


def test_a_population_descriptor_is_not_a_treatment() -> None:
    abstract = (
        "Calciphylaxis affects hemodialysis patients. Wounds healed with sodium thiosulfate in four of six patients."
    )
    rows = run(abstract, title="Sodium thiosulfate for calciphylaxis")
    assert [r["drug_norm"] for r in rows] == ["sodium thiosulfate"]
    assert rows[0]["condition_norm"] == "calciphylaxis"


# -- text ---------------------------------------------------------------------------------


def test_cleaning_keeps_offsets_so_quotes_are_exact() -> None:
    raw = "Background:Â The deposits\\nwere large.\u202fResults: Pain improved with diltiazem in 2/3 patients."
    cleaned = clean(raw)
    assert len(cleaned) == len(raw)
    sentences = split_sentences(cleaned)
    last = sentences[-1]
    assert raw[last.start : last.end] == "Pain improved with diltiazem in 2/3 patients."
    assert last.section == "results"


# -- plug-ins ------------------------------------------------------------------------------


def test_every_extractor_module_registers_exactly_one_extractor() -> None:
    modules = [m.name for m in pkgutil.iter_modules(extractors_package.__path__)]
    assert modules, "the extractors package holds no extractor"
    names = available()
    for module_name in modules:
        module = importlib.import_module(f"ingest.extractors.{module_name}")
        registered = [n for n in names if get(n).__module__ == module.__name__]
        assert len(registered) == 1, f"ingest/extractors/{module_name}.py registers {registered}"
        extractor = get(registered[0])
        assert extractor.version and extractor.__doc__


def test_an_unknown_extractor_is_a_clear_error() -> None:
    from ingest.errors import IngestError

    with pytest.raises(IngestError, match="no extractor 'nope'; available: ranked, rules"):
        get("nope")


def test_extractors_are_pure_functions_of_the_article() -> None:
    article = ArticleText("a", "Diltiazem for calcinosis", "We report a case. Calcinosis improved with diltiazem.")
    first, second = RULES(article, LEXICON), RULES(article, LEXICON)
    assert first == second and all(isinstance(e, Extraction) for e in first)


# -- evaluation and the CLI -----------------------------------------------------------------


def test_evaluation_counts_pairs_fields_and_empty_gold() -> None:
    gold = {
        "a": [{"drug_norm": "diltiazem", "condition_norm": "calciphylaxis", "response": "improved", "n_treated": 3}],
        "b": [],
    }
    predicted = [
        {"id": "a", "drug_norm": "Diltiazem", "condition_norm": "calciphylaxis", "response": "mixed", "n_treated": 3},
        {"id": "a", "drug_norm": "warfarin", "condition_norm": "calciphylaxis", "response": "none"},
        {"id": "b", "drug_norm": "warfarin", "condition_norm": "calciphylaxis", "response": "none"},
    ]
    result = evaluate(gold, predicted)
    assert (result.matched, result.predicted_pairs, result.gold_pairs) == (1, 3, 1)
    assert result.precision == pytest.approx(1 / 3) and result.recall == 1.0
    assert (result.response.hits, result.response.total) == (0, 1)
    assert (result.n_treated.hits, result.n_treated.total) == (1, 1)
    assert result.n_responded.total == 0  # gold has no count there
    assert result.findings_on_empty_gold == 1


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


ARTICLE = {
    "id": "own-1",
    "title": "Sodium thiosulfate for calciphylaxis: a case report",
    "abstract": "A 60-year-old woman on dialysis had calciphylaxis. "
    "Her ulcers healed completely with sodium thiosulfate.",
}


def test_kb_extract_writes_corpus_labels(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [ARTICLE])
    out = tmp_path / "out" / "findings.jsonl"
    result = CliRunner().invoke(app, ["extract", "--jsonl", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["id"] == "own-1"
    assert (row["drug_norm"], row["drug_class"], row["condition_norm"]) == (
        "sodium thiosulfate",
        "calcium chelator",
        "calciphylaxis",
    )
    assert (row["response"], row["study_design"], row["n_treated"], row["n_responded"]) == (
        "complete",
        "case_report",
        1,
        1,
    )
    assert ARTICLE["abstract"][row["start"] : row["end"]] == row["quote"]


def test_kb_eval_prints_scores_misses_and_false_findings(tmp_path: Path) -> None:
    gold = {**ARTICLE, "gold": [{"drug_norm": "warfarin", "condition_norm": "calciphylaxis", "quote": "x"}]}
    result = CliRunner().invoke(app, ["eval", "--gold", str(_write(tmp_path / "gold.jsonl", [gold]))])
    assert result.exit_code == 0, result.output
    assert "precision 0.000  recall 0.000  F1 0.000" in result.output
    assert "missed (1):" in result.output and "own-1: warfarin | calciphylaxis" in result.output
    assert "false findings (1):" in result.output and "own-1: sodium thiosulfate | calciphylaxis" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not valid JSON"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"title": "x"}\n', "line 1: every line needs a non-empty string 'id'"),
        ('{"id": "a", "mesh": "x"}\n', "line 1: 'mesh' must be a list of strings"),
        ('{"id": "a"}\n{"id": "a"}\n', "line 2: id 'a' appears twice"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["extract", "--jsonl", str(path)])
    assert result.exit_code == 1
    assert message in result.output.replace("\n", " ")


def test_kb_eval_refuses_a_file_without_gold(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--gold", str(_write(tmp_path / "g.jsonl", [ARTICLE]))])
    assert result.exit_code == 1
    assert "have no 'gold' field" in result.output


# -- in the pipeline ---------------------------------------------------------------------


def test_extraction_in_the_pipeline_replaces_its_own_findings_only(db_url: str) -> None:
    from ingest.pipeline import build_topic, extract_findings
    from kb.models import ArticleRecord, ArticleSource, Finding
    from kb.store import Store

    store = Store.open(db_url)
    build_topic(store, PACK)
    with store.session() as session:
        curated_before = len(session.execute(select(Finding).where(Finding.origin == "curated")).all())
    article = ArticleRecord(id="pubmed:1", pmid="1", title=ARTICLE["title"], abstract=ARTICLE["abstract"])
    store.save_articles([article])
    store.save_article_sources([ArticleSource(article_id="pubmed:1", topic_id=PACK.id, kind="query", detail="q")])
    first = extract_findings(store, PACK)
    assert first.added == 1
    with store.session() as session:
        finding = session.execute(select(Finding).where(Finding.origin == "extracted")).scalar_one()
        assert (finding.intervention_id, finding.condition_id, finding.response) == (
            "sodium-thiosulfate",
            "calciphylaxis",
            "complete",
        )
        assert (finding.extractor, finding.extractor_version) == (RULES.name, RULES.version)
        assert ARTICLE["abstract"][finding.evidence_start : finding.evidence_end] == finding.evidence
    again = extract_findings(store, PACK)
    assert (again.added, again.removed, again.unchanged) == (0, 0, 1)
    store.save_articles([ArticleRecord(id="pubmed:1", abstract="A 60-year-old woman had calciphylaxis.")])
    assert extract_findings(store, PACK).removed == 1
    with store.session() as session:
        assert len(session.execute(select(Finding).where(Finding.origin == "curated")).all()) == curated_before
    store.close()


# -- quality floor on the development corpus ------------------------------------------------


def test_quality_floor_on_the_development_corpus() -> None:
    """Fails when in-topic quality on calcinosis falls below what the general extractor reaches
    (issue 4 targets in brackets; the extractor written against this corpus alone reached 0.92)."""
    from ingest.extraction.corpus import extract_rows, read_jsonl

    path = shared_path("corpus", "calcinosis_dev.jsonl")
    items = list(read_jsonl(path))
    gold = {item.article.id: item.gold or () for item in items}
    result = evaluate(gold, [row for _, row in extract_rows(items, PACK, "rules")])
    assert result.f1 >= 0.85  # [0.80]
    assert (result.response.value or 0) >= 0.93  # [0.75]
    assert (result.study_design.value or 0) >= 0.93  # [0.80]
    assert (result.n_treated.value or 0) >= 0.90  # [0.80]
    assert result.findings_on_empty_gold <= 2  # [3]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "topic", "floor"),
    [("calcinosis_dev.jsonl", "calcinosis", 0.69), ("pg_dev.jsonl", "pyoderma-gangrenosum", 0.47),
     ("ssc_ild_dev.jsonl", "ssc-ild", 0.45)],
)  # fmt: skip
def test_held_out_quality_floor(name: str, topic: str, floor: float) -> None:
    """Leave-one-topic-out pair F1 must not fall below what it reached (issue 14 asks for 0.70)."""
    from ingest.extraction.protocol import run_topic

    run = run_topic(shared_path("corpus", name), load_topic(topic), "rules", held_out=True)
    assert run.evaluation.f1 >= floor
