"""The precomputed evidence summary: same answers as live counting, never stale.

``evidence_summary`` holds the counts behind the aggregates, stamped with the KB revision
they were computed at (:class:`kb.models.KBState`). These tests check that reading it gives
exactly what counting the findings live gives, that it is really what is read, and that any
change to the KB makes readers count live again until the summary is refreshed.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import queries
from kb.aggregate import Scope, aggregate_evidence
from kb.models import ArticleRecord, FindingRecord
from kb.store import Store

# Every scope the summary can answer, as the query API and the exports ask it.
ANSWERS: dict[str, Callable[[str], object]] = {
    "one context": lambda db: queries.treatments_for("calcinosis", context="SSc", db=db),
    "all contexts": lambda db: queries.treatments_for("calcinosis", db=db),
    "unspecified context": lambda db: queries.treatments_for("calcinosis", context=queries.UNSPECIFIED, db=db),
    "without classes": lambda db: queries.treatments_for("calcinosis", context="DM", include_classes=False, db=db),
    "per context, whole KB": lambda db: aggregate_evidence(create_engine(db), by_context=True),
    "per context, one condition": lambda db: aggregate_evidence(
        create_engine(db), Scope(condition_id="calcinosis"), by_context=True
    ),
}


def _state(db: str) -> tuple[int, int | None, int]:
    engine = create_engine(db)
    with engine.connect() as connection:
        revision, summary = connection.execute(text("SELECT revision, summary_revision FROM kb_state")).one()
        rows = connection.execute(text("SELECT COUNT(*) FROM evidence_summary")).scalar_one()
    engine.dispose()
    return revision, summary, rows


def _same(a: object, b: object) -> None:
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame)
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a == b


def _add_finding(db: str, key: str, treated: int, responded: int) -> None:
    store = Store.open(db)
    record = FindingRecord(
        article_id="pubmed:7",
        intervention_id="diltiazem",
        condition_id="calcinosis",
        context_id="systemic-sclerosis",
        n_treated=treated,
        n_responded=responded,
        response="improved",
        study_design="case_series",
        summary=f"Finding {key}.",
        origin="curated",
        extractor="curated",
        curation_key=f"extra:{key}",
        topic_id="extra",
    )
    store.save_curated_findings("extra", [record])
    store.close()


def test_the_summary_answers_exactly_as_live_counting(hand_kb: str) -> None:
    revision, summary, rows = _state(hand_kb)
    assert summary is None and rows == 0, "the fixture saves through the store only: no summary yet"
    live = {name: answer(hand_kb) for name, answer in ANSWERS.items()}

    store = Store.open(hand_kb)
    assert store.refresh_summary() is True
    assert store.refresh_summary() is False, "a summary at the current revision is not recomputed"
    store.close()
    assert _state(hand_kb)[:2] == (revision, revision)

    for name, answer in ANSWERS.items():
        _same(answer(hand_kb), live[name])


def test_the_summary_is_what_is_read_while_it_is_current(hand_kb: str) -> None:
    store = Store.open(hand_kb)
    store.refresh_summary()
    store.close()
    engine = create_engine(hand_kb)
    with engine.begin() as connection:  # tamper behind the store's back: the revision does not move
        connection.execute(
            text(
                "UPDATE evidence_summary SET studies = 99 WHERE group_id = 'diltiazem' "
                "AND context_key = 'systemic-sclerosis'"
            )
        )
    engine.dispose()
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    assert table.loc["diltiazem", "studies"] == 99


def test_a_change_after_the_summary_is_counted_live_until_it_is_refreshed(hand_kb: str) -> None:
    store = Store.open(hand_kb)
    store.refresh_summary()
    store.close()
    before = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    assert (before.loc["diltiazem", "studies"], before.loc["diltiazem", "patients"]) == (3, 34)

    _add_finding(hand_kb, "late", treated=10, responded=5)
    revision, summary, _ = _state(hand_kb)
    assert summary is not None and revision == summary + 1
    after = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    assert (after.loc["diltiazem", "studies"], after.loc["diltiazem", "patients"]) == (4, 44)
    assert (after.loc["diltiazem", "responders"], after.loc["diltiazem", "evaluable"]) == (17, 44)

    store = Store.open(hand_kb)
    assert store.refresh_summary() is True
    store.close()
    pd.testing.assert_frame_equal(
        queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id"), after
    )


def test_saving_the_same_data_again_does_not_move_the_revision(hand_kb: str) -> None:
    _add_finding(hand_kb, "same", treated=3, responded=1)
    store = Store.open(hand_kb)
    revision = store.revision()
    assert revision > 0
    _add_finding(hand_kb, "same", treated=3, responded=1)
    assert store.revision() == revision
    _add_finding(hand_kb, "same", treated=3, responded=2)  # a changed finding moves it
    assert store.revision() == revision + 1
    store.close()


def test_a_build_leaves_a_current_summary(mini_kb: str) -> None:
    revision, summary, rows = _state(mini_kb)
    assert summary == revision and rows > 0


@pytest.mark.parametrize("sql", ["DELETE FROM kb_state", "DROP TABLE kb_state"])
def test_a_kb_without_its_revision_is_counted_live(hand_kb: str, sql: str) -> None:
    store = Store.open(hand_kb)
    store.refresh_summary()
    store.close()
    expected = queries.treatments_for("calcinosis", context="SSc", db=hand_kb)
    engine = create_engine(hand_kb)
    with engine.begin() as connection:
        connection.execute(text("UPDATE evidence_summary SET studies = 99"))
        connection.execute(text(sql))
    engine.dispose()
    pd.testing.assert_frame_equal(queries.treatments_for("calcinosis", context="SSc", db=hand_kb), expected)


def test_findings_of_a_retracted_article_are_listed_but_not_counted(hand_kb: str) -> None:
    store = Store.open(hand_kb)
    store.save_articles([ArticleRecord(id="pubmed:2", pmid="2", title="Diltiazem cohort", year=2012, retracted=True)])
    store.refresh_summary()
    store.close()
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    # pubmed:2 (9 of 17) is withdrawn: 3/12 and 0/5 remain.
    assert (table.loc["diltiazem", "studies"], table.loc["diltiazem", "responders"]) == (2, 3)
    assert table.loc["diltiazem", "evaluable"] == 17
    listed = queries.findings(intervention="diltiazem", context="SSc", db=hand_kb).set_index("article_id")
    assert bool(listed.loc["pubmed:2", "retracted"]) is True
    gap = queries.gaps(db=hand_kb)
    assert gap.loc["diltiazem", ("findings", "calcinosis / systemic sclerosis")] == 2
    assert gap.loc["diltiazem", ("best_design", "calcinosis / systemic sclerosis")] == "case_series"
