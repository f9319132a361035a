"""The query API on a small KB whose numbers are computed by hand (see fixtures/minitopic)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

import queries
from conftest import REPO
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


def test_findings_since_takes_a_year_or_a_date_and_refuses_the_rest(mini_kb: str) -> None:
    expected = sorted(queries.findings(since=2016, db=mini_kb)["finding_id"])
    for since in ("2016", " 2016 ", date(2016, 1, 1), datetime(2016, 5, 1), "2016-06-01", "2016/06/01", "2016-06"):
        assert sorted(queries.findings(since=since, db=mini_kb)["finding_id"]) == expected, since  # type: ignore[arg-type]
    # 10**30 used to become the year 1000 (its first four digits); 'banana' raised int()'s error.
    for since in (10**30, 999, 10000, -2016, "banana", "", "2016-13-01", "20166", 2016.0, True, [2016]):
        with pytest.raises(ValueError, match=r"is not a year.*give a year \(2015 or '2015'\) or a date"):
            queries.findings(since=since, db=mini_kb)  # type: ignore[arg-type]


def test_queries_say_what_they_expect(mini_kb: str) -> None:
    with pytest.raises(ValueError, match=r"new_since needs the date to count from: '2025-06-01', .*; got None"):
        queries.new_since(None, db=mini_kb)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"new_since needs the date .*; got 2025"):
        queries.new_since(2025, db=mini_kb)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"treatments_for needs a condition: .* such as 'calcinosis'; got None"):
        queries.treatments_for(None, db=mini_kb)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"compare needs a condition"):
        queries.compare("diltiazem", condition=None, db=mini_kb)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a disease context is a name, id or synonym .*; got 3"):
        queries.treatments_for("calcinosis", context=3, db=mini_kb)  # type: ignore[arg-type]


def test_an_unknown_term_suggests_the_closest_known_ones(mini_kb: str) -> None:
    with pytest.raises(VocabularyError, match=r"unknown intervention or class 'diltiazm'; did you mean 'diltiazem'"):
        queries.findings(intervention="diltiazm", db=mini_kb)
    with pytest.raises(VocabularyError, match=r"unknown condition 'calcinsis'; did you mean 'calcinosis'\?; known: "):
        queries.treatments_for("calcinsis", db=mini_kb)
    with pytest.raises(VocabularyError, match=r"context 'dermatomyosits'; did you mean 'dermatomyositis'"):
        queries.treatments_for("calcinosis", context="dermatomyosits", db=mini_kb)
    with pytest.raises(VocabularyError) as nothing_close:
        queries.compare("zzzzzz", condition="calcinosis", db=mini_kb)
    assert "did you mean" not in str(nothing_close.value)


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


# -- the hand-computed KB (conftest.HAND_*) ------------------------------------------------


def test_pooled_rate_contradiction_and_design_by_hand(hand_kb: str) -> None:
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    dil = table.loc["diltiazem"]
    # 3/12, 9/17 and 0/5 from three primary studies: 12 responders of 34 treated.
    assert (dil["studies"], dil["findings"], dil["patients"]) == (3, 3, 34)
    assert (dil["responders"], dil["evaluable"]) == (12, 34)
    assert dil["response_rate"] == pytest.approx(12 / 34)
    # Wilson by hand, z = 1.959964, z² = 3.841459, n = 34, p = 0.352941:
    # centre = (p + z²/2n) / (1 + z²/n) = 0.409433 / 1.112984 = 0.367870
    # half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n) = 1.959964 · 0.086877 / 1.112984 = 0.152991
    assert (dil["ci_low"], dil["ci_high"]) == pytest.approx((0.214879, 0.520860), abs=1e-5)
    # improved + partial support it, none does not: side by side, and flagged.
    assert (dil["supporting"], dil["mixed"], dil["null"], dil["harmful"], dil["unclear"]) == (2, 0, 1, 0, 0)
    assert bool(dil["contradicted"]) is True
    assert (dil["best_design"], dil["latest_year"]) == ("retrospective_cohort", 2019)
    # The combination is listed under diltiazem, not counted in it.
    assert dil["combinations"] == ["diltiazem-pamidronate"]
    pair = table.loc["diltiazem-pamidronate"]
    assert (pair["studies"], pair["responders"], pair["evaluable"], pair["combinations"]) == (1, 2, 2, [])
    assert table.loc["pamidronate", "combinations"] == ["diltiazem-pamidronate"]
    assert table.loc["pamidronate", "studies"] == 1
    assert bool(table.loc["alendronate", "contradicted"]) is False


def test_class_rolls_up_members_class_only_findings_and_combinations(hand_kb: str) -> None:
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb)
    bis = table[table["level"] == "class"].set_index("intervention_id").loc["bisphosphonate"]
    # Members alendronate, pamidronate (both pubmed:4), etidronate and the pair (pubmed:5),
    # the class-only review: 3 studies, 5 findings, 5 interventions.
    assert (bis["studies"], bis["findings"], bis["interventions"]) == (3, 5, 5)
    # Per article the largest group: 8 (pubmed:4) + 4 (pubmed:5); the review adds none.
    assert bis["patients"] == 12
    # pubmed:4 pools 4/8 (pamidronate, the larger), pubmed:5 pools 1/4 (etidronate).
    assert (bis["responders"], bis["evaluable"]) == (5, 12)
    assert (bis["supporting"], bis["null"], bool(bis["contradicted"])) == (4, 1, True)
    assert (bis["best_design"], bis["latest_year"], bis["combinations"]) == (
        "case_series",
        2021,
        ["diltiazem-pamidronate"],
    )
    ccb = table[table["level"] == "class"].set_index("intervention_id").loc["calcium-channel-blocker"]
    assert (ccb["studies"], ccb["patients"], ccb["responders"], ccb["evaluable"]) == (4, 36, 14, 36)
    # "bisphosphonates" names the class: its findings are the roll-up's.
    assert set(queries.findings(intervention="bisphosphonates", context="SSc", db=hand_kb)["intervention_id"]) == {
        "alendronate",
        "pamidronate",
        "etidronate",
        "bisphosphonates",
        "diltiazem-pamidronate",
    }


def test_sql_aggregates_match_the_python_aggregate(hand_kb: str) -> None:
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb)
    for row in table.to_dict("records"):
        frame = queries.findings(intervention=row["intervention_id"], condition="calcinosis", context="SSc", db=hand_kb)
        if row["level"] == "intervention":
            frame = frame[frame["via"] == "self"]
        expected = queries.aggregate(frame)
        got = {k: row[k] if isinstance(row[k], list) else None if pd.isna(row[k]) else row[k] for k in expected}
        assert got.pop("certainty_reasons") == expected.pop("certainty_reasons"), row["intervention_id"]
        assert got == pytest.approx(expected), row["intervention_id"]


def test_compare_keeps_order_and_shows_absent_evidence(hand_kb: str) -> None:
    frame = queries.compare("Cardizem", "bisphosphonates", "STS", condition="calcinosis", context="SSc", db=hand_kb)
    assert list(frame["term"]) == ["Cardizem", "bisphosphonates", "STS"]
    assert list(frame["intervention_id"]) == ["diltiazem", "bisphosphonate", "sodium-thiosulfate"]
    assert list(frame["level"]) == ["intervention", "class", "intervention"]
    assert list(frame["studies"]) == [3, 3, 0]
    sts = frame.iloc[2]
    assert (sts["interventions"], sts["findings"]) == (0, 0) and pd.isna(sts["evaluable"])
    assert pd.isna(sts["response_rate"]) and pd.isna(sts["best_design"])
    dm = queries.compare("alendronate", condition="calcinosis", context="DM", db=hand_kb).iloc[0]
    assert (dm["studies"], dm["responders"], dm["evaluable"]) == (1, 1, 1)
    with pytest.raises(ValueError, match="twice"):
        queries.compare("diltiazem", "Cardizem", condition="calcinosis", db=hand_kb)
    with pytest.raises(ValueError, match="at least one"):
        queries.compare(condition="calcinosis", db=hand_kb)


def test_gaps_marks_empty_cells_and_interventions_without_evidence(hand_kb: str) -> None:
    wide = queries.gaps(db=hand_kb)
    counts = wide["findings"]
    assert list(counts.columns) == ["calcinosis / dermatomyositis", "calcinosis / systemic sclerosis"]
    assert counts.loc["diltiazem"].tolist() == [0, 3]
    assert counts.loc["alendronate"].tolist() == [1, 1]
    assert wide.loc["diltiazem", ("best_design", "calcinosis / systemic sclerosis")] == "retrospective_cohort"
    assert pd.isna(wide.loc["diltiazem", ("best_design", "calcinosis / dermatomyositis")])
    assert not wide.loc["sodium-thiosulfate", ("has_findings", "")]
    assert list(wide.index)[-1] == "sodium-thiosulfate"  # no evidence anywhere: last
    long = queries.gaps("calcinosis", form="long", db=hand_kb)
    assert len(long) == 7 * 2  # every intervention in every column, empty cells included
    cell = long[(long["intervention_id"] == "diltiazem") & (long["context_id"] == "systemic-sclerosis")].iloc[0]
    assert (cell["findings"], cell["studies"]) == (3, 3)
    with pytest.raises(ValueError, match="wide"):
        queries.gaps(form="tall", db=hand_kb)  # type: ignore[arg-type]


def test_new_since_uses_the_time_records_entered_the_kb(hand_kb: str) -> None:
    everything = queries.new_since("2000-01-01", db=hand_kb)
    assert len(everything) == 9
    assert {"added", "article_added"} <= set(everything.columns)
    assert everything["added"].dt.tz is not None
    assert len(queries.new_since(datetime.now(UTC) + timedelta(days=1), db=hand_kb)) == 0
    assert len(queries.new_since(date(2000, 1, 1), what="articles", db=hand_kb)) == 7
    with pytest.raises(ValueError, match="not a date"):
        queries.new_since("last month", db=hand_kb)
    with pytest.raises(ValueError, match="what"):
        queries.new_since("2000-01-01", what="citations", db=hand_kb)  # type: ignore[arg-type]


def test_every_public_query_is_documented_on_the_api_page(mini_kb: str) -> None:
    from queries.render import api_reference, render_pages

    reference = {item["name"]: item for item in api_reference()}
    assert list(reference) == list(queries.__all__)
    undocumented = [name for name, item in reference.items() if not item["doc"].strip()]
    assert undocumented == []
    page = render_pages(REPO / "site" / "templates", db=mini_kb)["api.md"]
    missing = [name for name in queries.__all__ if f"## `{name}`" not in page]
    assert missing == []


def test_refresh_runs_is_empty_before_any_refresh(hand_kb: str) -> None:
    from queries.catalog import REFRESH_RUN_COLUMNS

    runs = queries.refresh_runs(db=hand_kb)
    assert runs.empty
    assert tuple(runs.columns) == REFRESH_RUN_COLUMNS


def test_refresh_runs_reads_the_refresh_run_table_newest_first(tmp_path: Path) -> None:
    import sqlite3

    from kb.store import Store

    path = tmp_path / "runs.sqlite"
    Store.open(f"sqlite:///{path}").close()  # a KB with no runs yet
    with sqlite3.connect(path) as connection:
        window = (
            '[{"query": "calcinosis", "mindate": "2025/05/01", "maxdate": "2025/06/01", "status": "done", "found": 3}]'
        )
        connection.executemany(
            "INSERT INTO refresh_run VALUES (?, 'calcinosis', ?, ?, ?, ?, 4, ?, 0, 0, 0, ?, 0, 0, NULL)",
            [
                (1, "2025-05-01 04:00:00.000000", "2025-05-01 04:02:00.000000", "success", window, 3, 5),
                (2, "2025-06-01 04:00:00.000000", None, "failed", "[]", 0, 0),
            ],
        )
    runs = queries.refresh_runs(db=f"sqlite:///{path}")
    assert list(runs["id"]) == [2, 1]
    assert list(runs["status"]) == ["failed", "success"]
    assert runs["started_at"].iloc[1] == datetime(2025, 5, 1, 4, tzinfo=UTC)
    assert runs["windows"].iloc[1][0]["found"] == 3
    assert runs["windows"].iloc[0] == []
    assert runs["articles_new"].iloc[1] == 3 and runs["findings_added"].iloc[1] == 5
