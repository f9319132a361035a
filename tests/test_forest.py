"""The studies behind every number: each treatment row links to a forest-plot page listing
exactly the findings it counts, the pooled one of each article marked. Rendered from the hand
KB of conftest (a real SQLite file, then a real PostgreSQL server), counts checked by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_render import site_kb  # noqa: F401 (the hand KB with a topic row: a fixture)

from queries.forest import pooled_findings
from queries.render import render_pages

TEMPLATES = Path(__file__).resolve().parent.parent / "site" / "templates"


@pytest.fixture
def pages(site_kb: str) -> dict[str, str]:  # noqa: F811
    return render_pages(TEMPLATES, db=site_kb)


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 2)[-1]
    return re.findall(r"<tr id=\"[^\"]+\"[^>]*>.*?</tr>", body)


def test_every_treatment_row_links_to_its_forest_page(pages: dict[str, str]) -> None:
    for path, page in pages.items():
        if not (
            path.startswith("conditions/") or path.startswith(("interventions/", "classes/")) or path == "index.md"
        ):
            continue
        depth = "../" if "/" in path else ""
        for target in re.findall(r'href="([^"]*evidence/[^"]+\.html)"', page):
            assert target.startswith(depth + "evidence/"), (path, target)
            assert target[len(depth) :].removesuffix(".html") + ".md" in pages, (path, target)
    ssc = pages["conditions/calcinosis--systemic-sclerosis.md"]
    assert 'href="../evidence/intervention--diltiazem--calcinosis--systemic-sclerosis.html"' in ssc
    assert 'href="../evidence/class--bisphosphonate--calcinosis--systemic-sclerosis.html"' in ssc


def test_an_intervention_forest_lists_its_findings_all_pooled(pages: dict[str, str]) -> None:
    page = pages["evidence/intervention--diltiazem--calcinosis--systemic-sclerosis.md"]
    rows = _rows(page)
    # d1 12/3, d2 17/9, d3 5/0: one per article, each pooled; the combination is not counted here.
    assert len(rows) == 3 and all("<strong>pooled</strong>" in r for r in rows)
    assert "Diltiazem cohort" in rows[0], "the most patients first"
    assert "12/34 evaluable of 34 treated" in page and "35% (21–52%)" in page
    assert "diltiazem + pamidronate" not in page
    assert '<polygon class="kb-forest-pooled"' in page, "the pooled diamond"
    assert page.count('<rect class="kb-forest-point"') == 3


def test_a_class_forest_marks_one_pooled_finding_per_article(pages: dict[str, str]) -> None:
    page = pages["evidence/class--bisphosphonate--calcinosis--systemic-sclerosis.md"]
    rows = _rows(page)
    # a4 6/2 and p4 8/4 (article 4: p4 pooled), e5 4/1 and dp5 2/2 (article 5: e5 pooled), b6 review.
    assert len(rows) == 5
    pooled = [r for r in rows if "<strong>pooled</strong>" in r]
    assert len(pooled) == 2
    assert "(pamidronate)" in pooled[0] and "(etidronate)" in pooled[1]
    assert "5/12 evaluable of 12 treated" in page  # per article, the most patients any finding treated
    review = next(r for r in rows if "A review" in r)
    assert "no patients of its own" in review and ">NR<" in review


def test_pooled_findings_follow_the_aggregate_rule() -> None:
    def f(i: str, article: str, treated: int | None, responded: int | None, design: str = "case_series") -> dict:
        return {"finding_id": i, "article_id": article, "n_treated": treated, "n_responded": responded,
                "study_design": design, "retracted": False}  # fmt: skip

    findings = [
        f("a", "1", 6, 2),
        f("b", "1", 8, 5),
        f("c", "1", 8, 4),
        f("d", "2", None, None),
        f("e", "3", 9, 9, "review"),
    ]
    assert pooled_findings(findings) == {"c"}  # most patients, then fewer responders; reviews and NR never
    assert pooled_findings([f("x", "1", 3, 3) | {"retracted": True}]) == set()


def test_the_home_page_answers_at_once(pages: dict[str, str], site_kb: str) -> None:  # noqa: F811
    from queries.stamp import kb_stamp

    home = pages["index.md"]
    stamp = kb_stamp(db=site_kb)
    assert stamp["revision"] and stamp["updated"] is not None
    assert f"Last updated {stamp['updated']:%Y-%m-%d} · KB revision {stamp['revision']}" in home
    # The SSc table comes first (the context with most findings) and includes the class row.
    tables = home.split("<caption>")[1:]
    assert "systemic sclerosis" in tables[0].split("</caption>")[0]
    assert "bisphosphonate (class)</a>" in tables[0]
    patients = [
        re.findall(r"<td>(.*?)</td>", row)[1] for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", tables[0])
    ]
    assert len(patients) == 5 and patients == sorted(patients, key=lambda p: p == "NR"), patients
    assert all(p.isdigit() or p == "NR" for p in patients), patients
    assert "Every number below links" not in home


def test_the_gap_matrix_counts_studies_and_patients_and_links_each_cell(pages: dict[str, str]) -> None:
    gaps = pages["gaps.md"]
    body = gaps.split("<tbody>", 1)[1]
    rows = {re.search(r'<th scope="row"><a [^>]*>([^<]+)</a>', r)[1]: r for r in body.split("<tr>")[1:]}  # type: ignore[index]
    # diltiazem in SSc: 3 studies, 34 treated, best primary design a retrospective cohort.
    assert (
        'data-sort="3" title="3 studies, 34 patients treated; best primary design: retrospective cohort"'
        in rows["diltiazem"]
    )
    assert 'href="evidence/intervention--diltiazem--calcinosis--systemic-sclerosis.html"' in rows["diltiazem"]
    # The class rolls up its members and the combination: 3 studies in SSc, as its forest plot.
    assert "bisphosphonate (class)" in rows
    assert (
        'href="evidence/class--bisphosphonate--calcinosis--systemic-sclerosis.html"' in rows["bisphosphonate (class)"]
    )
    for target in re.findall(r'href="(evidence/[^"]+)\.html"', body):
        assert target + ".md" in pages, target
    note = gaps.split("No randomised controlled trial is in the knowledge base for", 1)[1].split("\n")[0]
    assert "calcinosis in systemic sclerosis" in note and "dermatomyositis" in note
    without = gaps.split("## Interventions without any finding", 1)[1]
    assert "sodium thiosulfate" in without and "diltiazem" not in without and "pamidronate" not in without
