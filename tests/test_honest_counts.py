"""Honest denominators and certainty: not reported is NA (never 0), rates say what they pool,
rows without patients never outrank rows with them. Over the hand KB of conftest (a real
SQLite file, then a real PostgreSQL server) plus a few sodium thiosulfate findings whose
counts mirror the issue: 38 treated with no responder count, 3/3, and a systematic review."""

from __future__ import annotations

import csv
import hashlib
import json

import pandas as pd
import pytest

import queries
from conftest import hand_finding
from kb.certainty import CERTAINTY_LEVELS, rate_certainty
from kb.models import FINDING_CONTENT_FIELDS, ArticleRecord, FindingRecord
from kb.store import Store

STS_ARTICLES = [
    {"id": "pubmed:21", "pmid": "21", "title": "Thiosulfate cohort", "year": 2018},
    {"id": "pubmed:22", "pmid": "22", "title": "Thiosulfate case series", "year": 2020},
    {"id": "pubmed:23", "pmid": "23", "title": "Thiosulfate systematic review", "year": 2022},
]
# (key, article, treated, responded, response, design, route)
STS_FINDINGS = [
    ("s1", "pubmed:21", 38, None, "improved", "prospective_cohort", "intravenous"),
    ("s2", "pubmed:22", 3, 3, "partial", "case_series", "intralesional"),
    ("s3", "pubmed:23", None, None, "improved", "systematic_review", None),
]


def _finding(key: str, article: str, treated: int | None, responded: int | None, response: str, design: str,
             route: str | None) -> FindingRecord:  # fmt: skip
    finding: FindingRecord = hand_finding(
        key, article, "sodium-thiosulfate", "systemic-sclerosis", treated, responded, response, design,
        topic="sts", route=route,
    )  # fmt: skip
    return finding


@pytest.fixture
def sts_kb(hand_kb: str) -> str:
    """The hand KB plus the sodium thiosulfate findings above (a second curated topic)."""
    store = Store.open(hand_kb)
    store.save_articles([ArticleRecord(**a) for a in STS_ARTICLES])
    store.save_curated_findings("sts", [_finding(*f) for f in STS_FINDINGS])
    store.close()
    return hand_kb


def _table(db: str) -> pd.DataFrame:
    return queries.treatments_for("calcinosis", context="SSc", db=db).set_index(["level", "intervention_id"])


@pytest.mark.parametrize("precomputed", [False, True], ids=["live", "summary"])
def test_not_reported_is_na_never_zero(sts_kb: str, precomputed: bool) -> None:
    if precomputed:
        store = Store.open(sts_kb)
        assert store.refresh_summary(force=True)
        store.close()
    table = _table(sts_kb)
    sts = table.loc[("intervention", "sodium-thiosulfate")]
    # 38 + 3 treated in the primary studies; only the series of 3 counts responders.
    assert (sts["studies"], sts["patients"], sts["responders"], sts["evaluable"]) == (3, 41, 3, 3)
    assert sts["best_design"] == "systematic_review" and sts["primary_design"] == "prospective_cohort"
    # The review-only class-named intervention reports no patients: NA, not 0.
    review_only = table.loc[("intervention", "bisphosphonates")]
    assert pd.isna(review_only["patients"]) and pd.isna(review_only["responders"])
    assert pd.isna(review_only["evaluable"]) and pd.isna(review_only["response_rate"])
    assert pd.isna(review_only["primary_design"]) and review_only["certainty"] == "very low"
    # Nowhere does a row claim responders without evaluable patients, or 0 of 0.
    assert (table["responders"].isna() == table["evaluable"].isna()).all()
    assert not (table["evaluable"] == 0).any() and not (table["patients"] == 0).any()
    assert table["response_rate"].isna().equals(table["evaluable"].isna())


def test_rows_with_patients_rank_above_rows_without(sts_kb: str) -> None:
    table = queries.treatments_for("calcinosis", context="SSc", db=sts_kb)
    has = table["patients"].notna().tolist()
    assert True in has and False in has
    assert has == sorted(has, reverse=True), table[["intervention", "patients"]]
    ranks = [CERTAINTY_LEVELS.index(c) for c, h in zip(table["certainty"], has, strict=True) if h]
    assert ranks == sorted(ranks)


def test_responders_only_where_evaluable(sts_kb: str) -> None:
    table = queries.treatments_for("calcinosis", db=sts_kb)
    for row in table.itertuples():
        if pd.isna(row.evaluable):
            assert pd.isna(row.responders), row
        else:
            assert row.responders <= row.evaluable <= row.patients, row


def test_aggregate_of_a_selection_keeps_na(sts_kb: str) -> None:
    frame = queries.findings(intervention="sodium thiosulfate", db=sts_kb)
    only_counts_missing = queries.aggregate(frame[frame["article_id"] == "pubmed:21"])
    assert only_counts_missing["patients"] == 38
    assert only_counts_missing["responders"] is None and only_counts_missing["evaluable"] is None
    review = queries.aggregate(frame[frame["article_id"] == "pubmed:23"])
    assert review["patients"] is None and review["primary_design"] is None
    assert queries.aggregate(frame)["evaluable"] == 3


def test_exports_leave_not_reported_empty(sts_kb: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    queries.write_exports(tmp_path, "csv,json", db=sts_kb)
    with (tmp_path / "aggregates.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["intervention_id"] == "sodium-thiosulfate"]
    assert [(r["patients"], r["responders"], r["evaluable"]) for r in rows] == [("41", "3", "3")]
    with (tmp_path / "aggregates.csv").open(encoding="utf-8") as handle:
        review = [r for r in csv.DictReader(handle) if r["intervention_id"] == "bisphosphonates"]
    assert [(r["patients"], r["responders"], r["evaluable"]) for r in review] == [("", "", "")]
    aggregates = json.loads((tmp_path / "kb.json").read_text(encoding="utf-8"))["aggregates"]
    row = next(r for r in aggregates if r["intervention_id"] == "bisphosphonates")
    assert (row["patients"], row["responders"], row["evaluable"]) == (None, None, None)


def test_certainty_rules() -> None:
    trial = {"primary_design": "rct", "patients": 120, "evaluable": 120, "ci_low": 0.4, "ci_high": 0.6}
    assert rate_certainty(trial) == ("high", [])
    assert rate_certainty(trial | {"contradicted": True})[0] == "moderate"
    assert rate_certainty(trial, indirect=True)[0] == "moderate"
    assert rate_certainty(trial | {"patients": 30})[0] == "moderate"
    assert rate_certainty(trial | {"evaluable": None, "ci_low": None, "ci_high": None})[0] == "moderate"
    assert rate_certainty(trial | {"ci_low": 0.1, "ci_high": 0.9})[0] == "moderate"
    level, reasons = rate_certainty(trial | {"patients": None})
    assert level == "low" and reasons == ["very imprecise: patients not reported"]
    assert rate_certainty(trial | {"patients": 5, "contradicted": True})[0] == "very low"
    cohort = trial | {"primary_design": "retrospective_cohort"}
    assert rate_certainty(cohort)[0] == "low"
    assert rate_certainty(cohort | {"contradicted": True})[0] == "very low"
    assert rate_certainty({"primary_design": None})[0] == "very low"


def test_adverse_events_none_keeps_the_content_hash() -> None:
    record = _finding("s1", "pubmed:21", 38, None, "improved", "prospective_cohort", "intravenous")
    old = {n: getattr(record, n) for n in FINDING_CONTENT_FIELDS if n != "adverse_events"}
    blob = json.dumps(old, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert record.compute_hash() == hashlib.sha256(blob.encode("utf-8")).hexdigest()
    harmed = record.model_copy(update={"adverse_events": "nausea; headache"})
    assert harmed.compute_hash() != record.compute_hash()


def test_adverse_events_are_stored_and_listed(hand_kb: str) -> None:
    store = Store.open(hand_kb)
    store.save_articles([ArticleRecord(**STS_ARTICLES[0])])
    finding = _finding("s1", "pubmed:21", 38, None, "improved", "prospective_cohort", "intravenous")
    store.save_curated_findings("sts", [finding.model_copy(update={"adverse_events": "nausea; withdrawal (1)"})])
    store.close()
    frame = queries.findings(intervention="STS", db=hand_kb)
    assert frame["adverse_events"].tolist() == ["nausea; withdrawal (1)"]


def test_curated_findings_carry_the_adverse_events_their_sources_report() -> None:
    from ingest.curated import load_curated
    from kb.topic import load_topic

    _, findings = load_curated(load_topic("calcinosis"))
    harms = {f.curation_key: f.adverse_events for f in findings if f.adverse_events}
    assert harms["calcinosis:rauch2021-pamidronate-patient-reported"].endswith("osteonecrosis of the jaw (1 of 7)")
    assert "skin pigmentation" in harms["calcinosis:fonseca2019-minocycline-ssc"]
    plain = next(f for f in findings if f.curation_key == "calcinosis:rauch2021-pamidronate-photographs")
    assert plain.adverse_events is None
