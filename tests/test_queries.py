"""The query API on a small KB whose numbers are computed by hand (see fixtures/minitopic)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import queries
from kb.errors import KBError, VocabularyError
from kb.evidence import best_design, wilson_interval
from kb.graph import build_graph
from kb.store import Store


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [(8, 20, 0.2188, 0.6134), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (1, 2, 0.0945, 0.9055)],
)
def test_wilson_interval_matches_published_values(successes: int, trials: int, low: float, high: float) -> None:
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_best_design_follows_the_hierarchy() -> None:
    assert best_design(["case_report", "review", "retrospective_cohort"]) == "retrospective_cohort"
    assert best_design([]) is None


def test_treatments_for_ssc_counts_by_hand(mini_kb: str) -> None:
    table = queries.treatments_for("calcinosis", context="SSc", db=mini_kb).set_index("intervention_id")
    dil = table.loc["diltiazem"]
    # Articles 100, 101 (two outcome measures) and the review: 3 studies, 4 findings.
    assert (dil["studies"], dil["findings"]) == (3, 4)
    # Patients from primary studies only (12 + 8); the review's 40 are not added.
    assert dil["patients"] == 20
    # Pooled: 3/12 and, for article 101, the conservative 5/8 -> 8/20.
    assert (dil["responders"], dil["evaluable"]) == (8, 20)
    assert dil["response_rate"] == pytest.approx(0.4)
    assert (dil["ci_low"], dil["ci_high"]) == pytest.approx((0.2188, 0.6134), abs=1e-4)
    assert (dil["supporting"], dil["mixed"], dil["null"], dil["harmful"], dil["unclear"]) == (1, 3, 0, 0, 0)
    assert dil["best_design"] == "retrospective_cohort"
    assert dil["latest_year"] == 2015
    ccb = table.loc["calcium-channel-blocker"]  # class row: diltiazem plus the combination
    assert (ccb["level"], ccb["studies"], ccb["patients"], ccb["responders"]) == ("class", 4, 22, 9)
    assert (ccb["interventions"], dil["interventions"]) == (2, 1)
    bis = table.loc["bisphosphonate"]  # only the combination is in SSc
    assert (bis["studies"], bis["responders"], bis["evaluable"]) == (1, 1, 2)
    # Ranked by best design, then studies, then patients, then name.
    assert list(table.index) == ["calcium-channel-blocker", "diltiazem", "bisphosphonate", "diltiazem-pamidronate"]


def test_treatments_for_without_classes_and_unspecified_context(mini_kb: str) -> None:
    assert set(queries.treatments_for("calcinosis", context="SSc", include_classes=False, db=mini_kb)["level"]) == {
        "intervention"
    }
    unspecified = queries.treatments_for("calcinosis", context=queries.UNSPECIFIED, db=mini_kb)
    assert set(unspecified["intervention_id"]) == {"bisphosphonates", "bisphosphonate"}
    everything = queries.treatments_for("calcinosis", db=mini_kb)
    assert everything.set_index("intervention_id").loc["bisphosphonate", "studies"] == 3


def test_findings_of_a_drug_include_its_combinations(mini_kb: str) -> None:
    frame = queries.findings(intervention="diltiazem", db=mini_kb)
    assert len(frame) == 5
    assert dict(frame.groupby("via").size()) == {"self": 4, "combination": 1}
    assert {"title", "year", "pmid", "doi", "summary", "evidence", "study_design"} <= set(frame.columns)
    assert list(frame["year"]) == sorted(frame["year"], reverse=True)


def test_findings_of_a_class_include_members_and_class_mentions(mini_kb: str) -> None:
    frame = queries.findings(intervention="bisphosphonates", db=mini_kb)
    assert set(frame["intervention_id"]) == {"bisphosphonates", "alendronate", "diltiazem-pamidronate"}


def test_findings_filters(mini_kb: str) -> None:
    assert len(queries.findings(design="case_series", db=mini_kb)) == 3
    assert set(queries.findings(since=2016, db=mini_kb)["year"]) == {2018, 2020}
    assert len(queries.findings(context="dermatomyositis", db=mini_kb)) == 1
    with pytest.raises(ValueError, match=r"unknown study design"):
        queries.findings(design="anecdote", db=mini_kb)
    with pytest.raises(VocabularyError, match="aspirin"):
        queries.findings(intervention="aspirin", db=mini_kb)


def test_queries_are_read_only(mini_kb: str) -> None:
    engine = queries.connect(mini_kb)
    with pytest.raises(Exception, match=r"(?i)read.?only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM finding"))


def test_missing_kb_file_says_how_to_build_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KBError, match="kb build"):
        queries.treatments_for("calcinosis", db=f"sqlite:///{tmp_path / 'absent.sqlite'}")


def test_graph_links_articles_findings_and_vocabulary(mini_kb: str) -> None:
    store = Store.open(mini_kb)
    graph = build_graph(store.engine)
    store.close()
    kinds = {k: sum(1 for _, d in graph.nodes(data=True) if d.get("kind") == k) for k in ("article", "finding")}
    assert kinds == {"article": 5, "finding": 7}
    assert graph.has_edge("intervention:diltiazem", "class:calcium-channel-blocker", key="is_a")
    assert graph.has_edge("intervention:pamidronate", "intervention:diltiazem-pamidronate", key="part_of")
    treats = graph.get_edge_data("intervention:diltiazem", "condition:calcinosis", key="treats:systemic-sclerosis")
    assert (treats["findings"], treats["studies"], treats["mixed"], treats["supporting"]) == (4, 3, 3, 1)
