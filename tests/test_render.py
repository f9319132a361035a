"""The site's pages as rendered from the KB (Markdown, before MkDocs): new pages and their data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from conftest import REPO
from queries.charts import heat_cell, rate_bar
from queries.render import render_pages, script_json

TEMPLATES = REPO / "site" / "templates"


@pytest.fixture
def site_kb(hand_kb: str) -> str:
    """The hand KB with the topic row a site needs."""
    engine = create_engine(hand_kb)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO topic (id, title, question, description, condition_id, seeds, queries) "
                "VALUES ('hand', 'Hand KB', 'What works?', 'Numbers checked by hand.', 'calcinosis', '[]', '[]')"
            )
        )
    engine.dispose()
    return hand_kb


def test_rate_bar_places_the_rate_and_its_interval_on_a_0_to_100_axis() -> None:
    svg = rate_bar(3, 12, 0.25, 0.089, 0.532)
    assert svg.startswith('<svg class="kb-bar"') and svg.endswith("</svg>")
    assert "3/12 responded: 25% (95% CI 9%–53%)" in svg
    assert 'data-sort="0.0890"' in svg, "sorted by the interval's lower end: a 1/1 does not top 12/40"
    one, many = rate_bar(1, 1, 1.0, 0.21, 1.0), rate_bar(20, 40, 0.5, 0.35, 0.65)
    assert float(one.split('data-sort="')[1][:6]) < float(many.split('data-sort="')[1][:6])
    sparse = rate_bar(1, 2, 0.5, 0.09, 0.91, sparse=True)
    assert sparse.startswith('<svg class="kb-bar kb-bar-sparse"') and "few of the treated patients" in sparse
    assert '<circle class="kb-bar-point" cx="32.0"' in svg  # 4 + 0.25 * 112
    assert "|" not in svg and "\n" not in svg
    assert "fill=" not in svg and "stroke=" not in svg, "colours belong to the stylesheet (light and dark)"
    assert rate_bar(0, 0, None, None, None) == "–"


def test_heat_cell_marks_gaps_and_levels() -> None:
    assert "kb-heat-0" in heat_cell(0, None, None)
    cell = heat_cell(7, 30, "case_series", "evidence/x.html")
    assert "kb-heat-3" in cell and "7 studies, 30 patients treated; best primary design: case series" in cell
    assert "CS" in cell and '<a href="evidence/x.html">' in cell
    assert "NR pts" in heat_cell(1, None, "review")


def test_script_json_cannot_close_its_script_element() -> None:
    encoded = script_json({"label": "</script><script>alert(1)</script> & co"})
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded


def test_pages_of_the_hand_kb(site_kb: str) -> None:
    pages = render_pages(TEMPLATES, db=site_kb)
    for page in ("gaps.md", "graph.md", "downloads.md", "changelog.md"):
        assert page in pages
    assert "No refresh runs yet: this KB was built from the bundled topic" in pages["changelog.md"]
    assert "Most recently added" in pages["index.md"]
    ssc = pages["conditions/calcinosis--systemic-sclerosis.md"]
    assert '<svg class="kb-bar"' in ssc and "contradicted" in ssc
    gaps = pages["gaps.md"]
    assert "[sodium thiosulfate](interventions/sodium-thiosulfate.md)" in gaps  # no findings: listed as such
    assert '"kind":"condition"' in pages["graph.md"]
    hostile = pages["articles/pubmed-3.md"]
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile


def test_changelog_and_home_show_refresh_runs(site_kb: str) -> None:
    engine = create_engine(site_kb)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS refresh_run (id INTEGER PRIMARY KEY, topic_id VARCHAR, "
                "started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, windows TEXT, requests INTEGER, "
                "articles_new INTEGER, articles_updated INTEGER, articles_deleted INTEGER, "
                "articles_retracted INTEGER, findings_added INTEGER, findings_changed INTEGER, "
                "findings_removed INTEGER, message TEXT)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO refresh_run (id, topic_id, started_at, finished_at, status, windows, requests, "
                "articles_new, articles_updated, articles_deleted, articles_retracted, findings_added, "
                "findings_changed, findings_removed, message) VALUES "
                "(1, 'hand', :start, :end, 'success', '[]', 3, 7, 0, 0, 1, 9, 0, 0, NULL), "
                "(2, 'hand', :later, NULL, 'failed', '[]', 1, 0, 0, 0, 0, 0, 0, 0, 'NCBI said no')"
            ),
            {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1), "later": now + timedelta(hours=2)},
        )
    engine.dispose()
    pages = render_pages(TEMPLATES, db=site_kb)
    changelog = pages["changelog.md"]
    assert changelog.index("| failed |") < changelog.index("| success |"), "newest first"
    assert "| 7 | 0 | 1 | 0 | 9 | 0 | 0 |" in changelog
    assert "NCBI said no" in changelog and "Articles added by this run" in changelog
    assert "Diltiazem series" in changelog
    home = pages["index.md"]
    assert "New since the last refresh" in home and "Diltiazem series" in home


def test_retraction_warnings_come_from_the_flag_or_the_publication_types() -> None:
    from queries.pages import retraction

    assert retraction({"retracted": True, "publication_types": []}) == "retracted"
    assert retraction({"retracted": False, "publication_types": ["Journal Article", "Retracted Publication"]}) == (
        "retracted"
    )
    assert retraction({"retracted": False, "publication_types": ["Retraction of Publication"]}) == "notice"
    assert retraction({"retracted": False, "publication_types": ["Case Reports"]}) is None


def test_a_retracted_article_page_carries_a_danger_admonition(site_kb: str) -> None:
    engine = create_engine(site_kb)
    with engine.begin() as connection:
        connection.execute(text("UPDATE article SET retracted = :yes WHERE id = 'pubmed:1'"), {"yes": True})
    engine.dispose()
    pages = render_pages(TEMPLATES, db=site_kb)
    assert '!!! danger "Retracted"' in pages["articles/pubmed-1.md"]
    assert "!!! danger" not in pages["articles/pubmed-2.md"]
    assert "<strong>retracted</strong>" in pages["interventions/diltiazem.md"]
