"""The numbers a clinician reads, in a real browser (Debian's Chromium, Playwright, real HTTP):
honest denominators, the forest plot behind every row, certainty, a phone layout that keeps
the treatment name in view, and no serious or critical axe-core violation on any page type.

The site is the bundled calcinosis topic, built with the installed ``kb`` command (the
fixtures of ``tests/test_browser.py``). axe-core is vendored from npm (``site/package.json``,
a dev dependency: it is injected by the test, never shipped). Screenshots land in
``build/screenshots/`` at 1366 and 390 px, light and dark.
"""

from __future__ import annotations

import csv
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import test_browser as shared
from playwright.sync_api import Page, expect

from conftest import REPO

# The site, its server, Chromium and the request and dialog guards of tests/test_browser.py.
site = shared.site
serve = shared.serve
browser_type_launch_args = shared.browser_type_launch_args
external = shared.external
dialogs = shared.dialogs
browse = shared.browse
heading = shared.heading
SCREENSHOTS = shared.SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = REPO / "site" / "node_modules" / "axe-core" / "axe.min.js"
SSC = "conditions/calcinosis--systemic-sclerosis.html"
STS_FOREST = "evidence/intervention--sodium-thiosulfate--calcinosis--systemic-sclerosis.html"
# One page of every type the site has.
PAGE_TYPES = {
    "home": "index.html",
    "conditions": "conditions/index.html",
    "condition": SSC,
    "interventions": "interventions/index.html",
    "intervention": "interventions/sodium-thiosulfate.html",
    "class": "classes/bisphosphonate.html",
    "articles": "articles/index.html",
    "article": "articles/doi-10.1007-s00403-021-02264-5.html",
    "forest": STS_FOREST,
    "gaps": "gaps.html",
    "graph": "graph.html",
    "downloads": "downloads.html",
    "condition-by-route": "conditions/calcinosis.html",
    "graph-neighbourhood": "graph.html#focus=intervention%3Asodium-thiosulfate",
    "changelog": "changelog.html",
    "methods": "methods.html",
    "data-dictionary": "data-dictionary.html",
    "api": "api.html",
    "operations": "operations.html",
}
SIZES = {"desktop": 1366, "phone": 390}


def shot(page: Page, name: str, full: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)


def desktop(page: Page, url: str, scheme: str = "light") -> None:
    """Open ``url`` at 1366 px in the ``scheme`` palette."""
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(url)


def axe(page: Page) -> list[dict[str, Any]]:
    """The serious and critical WCAG 2 A/AA violations axe-core finds on the loaded page."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run 'make vendor' (npm ci --prefix site)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_axe_violation_on_any_page_type(browse: Page, site: str, scheme: str) -> None:
    browse.emulate_media(color_scheme=scheme)
    found = {}
    for name, path in PAGE_TYPES.items():
        browse.goto(site + path)
        expect(browse.locator("body")).to_have_attribute(
            "data-md-color-scheme", "slate" if scheme == "dark" else "default"
        )
        expect(browse.locator(".kb-stamp")).to_contain_text("KB revision")
        violations = axe(browse)
        if violations:
            found[name] = violations
    assert found == {}, found


def test_a_rate_says_what_it_pools_and_opens_its_studies(browse: Page, site: str) -> None:
    browse.set_viewport_size({"width": 1366, "height": 900})
    browse.goto(site + SSC)
    table = browse.locator("article table[data-kb-ready]").first
    sts = table.locator("tbody tr", has=browse.locator("th a", has_text="sodium thiosulfate")).first
    # Two primary studies, 38 treated, none with a responder count: no rate, never 0/0 or 0%.
    expect(sts).to_contain_text("none evaluable of 38 treated")
    assert "0%" not in sts.inner_text()
    review_only = table.locator("tbody tr", has=browse.locator("th a", has_text="bisphosphonates")).first
    expect(review_only.locator("td").nth(1)).to_have_text("NR")
    # A rate on 1 of 1 treated is drawn hatched: few patients are evaluable.
    sparse = table.locator("svg.kb-bar-sparse").first
    expect(sparse).to_be_visible()
    assert "few of the treated patients" in (sparse.get_attribute("aria-label") or "")
    expect(table.locator("thead th", has_text="Certainty")).to_be_visible()
    shot(browse, "evidence-condition-1366-light")

    sts.locator("td a[title='The studies behind this row']").click()
    browse.wait_for_url("**/" + STS_FOREST)
    assert heading(browse).startswith("Sodium thiosulfate")
    forest = browse.locator("article table[data-kb-ready]").last
    rows = forest.locator("tbody tr")
    assert rows.count() >= 2
    expect(forest.locator("thead svg.kb-forest-axis")).to_be_visible()
    expect(forest).to_contain_text("intralesional")
    # Every row links to its article page, and the article page lists the same finding.
    link = rows.first.locator("th a").first
    finding = rows.first.get_attribute("id")
    link.click()
    browse.wait_for_url("**/articles/*.html#" + str(finding))
    expect(browse.locator(f"tr[id='{finding}']")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_forest_plot_draws_in_both_palettes(browse: Page, site: str, scheme: str) -> None:
    desktop(browse, site + "evidence/intervention--minocycline--calcinosis--systemic-sclerosis.html", scheme)
    point = browse.locator("article svg.kb-forest rect.kb-forest-point").first
    expect(point).to_be_visible()
    fill = browse.evaluate("getComputedStyle(document.querySelector('.kb-forest-point')).fill")
    background = browse.evaluate("getComputedStyle(document.body).backgroundColor")
    assert fill and fill != background and fill not in ("none", "rgb(0, 0, 0)"), (fill, background)
    label = browse.evaluate("getComputedStyle(document.querySelector('.kb-forest-label')).fill")
    assert label != background, (label, background)
    expect(browse.locator("article svg polygon.kb-forest-pooled")).to_be_visible()
    shot(browse, f"evidence-forest-1366-{scheme}")
    browse.set_viewport_size({"width": 390, "height": 844})
    shot(browse, f"evidence-forest-390-{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_the_treatment_name_stays_in_view(browse: Page, site: str, scheme: str) -> None:
    browse.emulate_media(color_scheme=scheme)
    browse.set_viewport_size({"width": 390, "height": 844})
    browse.goto(site + SSC)
    table = browse.locator("article table[data-kb-ready]").first
    wrap = table.locator("xpath=ancestor::div[contains(@class, 'md-typeset__scrollwrap')]").first
    name = table.locator("tbody th[scope='row']").first
    expect(name).to_be_visible()
    name.scroll_into_view_if_needed()
    before = name.bounding_box()
    assert before is not None
    width = browse.evaluate("w => w.scrollWidth - w.clientWidth", wrap.element_handle())
    assert width > 200, "the table fits a phone: nothing to scroll"
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    browse.wait_for_timeout(100)
    after = name.bounding_box()
    # Scrolled by far more than its width, the name sticks to the left edge, whole.
    assert after is not None and 0 <= after["x"] <= before["x"], (before, after)
    assert after["x"] + after["width"] <= 390 and after["width"] == before["width"]
    # The name is not covered by the cells scrolled beneath it.
    x, y = after["x"] + 5, after["y"] + after["height"] / 2
    on_top = browse.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('th') !== null", [x, y])
    assert on_top
    shot(browse, f"evidence-condition-390-{scheme}", full=False)
    browse.goto(site)
    shot(browse, f"evidence-home-390-{scheme}", full=False)
    browse.set_viewport_size({"width": 1366, "height": 900})
    shot(browse, f"evidence-home-1366-{scheme}", full=False)


def test_the_page_types_are_all_built(site: str) -> None:
    # Guards the axe test: a page type missing from the build would fail there with a 404 page
    # that has no violations of its own.
    for path in PAGE_TYPES.values():
        with urllib.request.urlopen(site + path, timeout=30) as response:
            assert response.status == 200, path


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("scleroderma", "conditions/calcinosis--systemic-sclerosis.html"),
        ("CREST", "conditions/calcinosis--systemic-sclerosis.html"),
        ("STS", "interventions/sodium-thiosulfate.html"),
    ],
)
def test_search_knows_synonyms_and_abbreviations(browse: Page, site: str, query: str, target: str) -> None:
    browse.goto(site)
    box = browse.locator("input.md-search__input")
    box.click()
    box.press_sequentially(query, delay=30)
    results = browse.locator(".md-search-result__item")
    expect(results.first).to_be_visible(timeout=15_000)
    links = [a.get_attribute("href") or "" for a in browse.locator(".md-search-result__link").all()]
    assert any(link.split("#")[0].split("?")[0].endswith(target) for link in links), links


def test_the_site_carries_no_source_maps_or_unused_search_languages(browse: Page, site: str) -> None:
    browse.goto(site)
    scripts = [s.get_attribute("src") or "" for s in browse.locator("script[src]").all()]
    bundle = next(s for s in scripts if "bundle" in s)
    text = browse.request.get(site + bundle).text()
    assert "sourceMappingURL" not in text
    assert browse.request.get(site + bundle + ".map").status == 404
    assert browse.request.get(site + "assets/javascripts/lunr/min/lunr.de.min.js").status == 404
    assert browse.request.get(site + "assets/javascripts/lunr/tinyseg.js").status == 404


def test_findings_filter_by_design_year_age_and_route_and_download_as_filtered(
    browse: Page, site: str, tmp_path: Path
) -> None:
    browse.set_viewport_size({"width": 1366, "height": 900})
    browse.goto(site + "conditions/calcinosis.html")
    table = browse.locator("article table[data-kb-findings][data-kb-ready]").first
    rows = table.locator("tbody tr")
    total = rows.count()
    assert total > 10
    tools = browse.locator(".kb-tools").filter(has=browse.locator("select[aria-label='Design']")).first
    tools.locator("select[aria-label='Design']").select_option("case_report")
    visible = table.locator("tbody tr:not([hidden])")
    designs_before = [visible.nth(i).get_attribute("data-design") for i in range(visible.count())]
    assert set(designs_before) == {"case_report"}
    dated = sorted(int(y) for i in range(visible.count()) if (y := visible.nth(i).get_attribute("data-year")))
    since = dated[len(dated) // 2]  # the median year of the case reports: some rows stay, some go
    tools.locator("input[aria-label='Year from']").fill(str(since))
    years = [int(visible.nth(i).get_attribute("data-year") or 0) for i in range(visible.count())]
    assert years and min(years) >= since and len(years) < len(designs_before)
    shown = visible.count()
    assert 0 < shown < total
    with browse.expect_download() as download:
        tools.locator("button.kb-csv").click()
    path = tmp_path / "rows.csv"
    download.value.save_as(path)
    with path.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][:2] == ["Article", "Intervention"] and len(lines) == shown + 1
    tools.locator("select[aria-label='Design']").select_option("")
    tools.locator("input[aria-label='Year from']").fill("")
    assert table.locator("tbody tr:not([hidden])").count() == total
    route = tools.locator("select[aria-label='Route']")
    route.select_option("intralesional")
    routes = {visible.nth(i).get_attribute("data-route") for i in range(visible.count())}
    assert routes == {"intralesional"}
    # A cell a spreadsheet would run is written as text, as in the exports; numbers stay numbers.
    assert browse.evaluate("kbCsvCell('=HYPERLINK(\"x\")')") == '"\'=HYPERLINK(""x"")"'
    assert browse.evaluate("kbCsvCell('-5')") == "-5"
    assert browse.evaluate("kbCsvCell('@sum')") == "'@sum"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_graph_has_a_legend_and_colours_cytoscape_accepts(browse: Page, site: str, scheme: str) -> None:
    desktop(browse, site + "graph.html", scheme)
    browse.wait_for_function("window.kbGraph !== undefined")
    expect(browse.locator("ul.kb-legend")).to_contain_text("contradicted")

    def style(selector: str, prop: str) -> str:
        return str(browse.evaluate(f"window.kbGraph.elements({selector!r}).first().style({prop!r})"))

    condition, klass, drug = (
        style(f"node[kind = '{k}']", "background-color") for k in ("condition", "class", "intervention")
    )
    assert len({condition, klass, drug}) == 3, (condition, klass, drug)
    # The labels take the palette's text colour (Cytoscape falls back to black on a colour it rejects).
    label = style("node", "color")
    channels = [int(c) for c in label[label.index("(") + 1 : label.index(")")].split(",")[:3]]
    assert (min(channels) > 150) if scheme == "dark" else (max(channels) < 100), label
    supporting = style("edge[relation = 'treats'][supporting > 0][!contradicted]", "line-color")
    contradicted = style("edge[relation = 'treats'][?contradicted]", "line-color")
    assert supporting != contradicted
    shot(browse, f"evidence-graph-1366-{scheme}", full=False)


def _visible(page: Page, selector: str = "node") -> set[str]:
    return set(page.evaluate(f"window.kbGraph.elements({selector + ':visible'!r}).map(n => n.id())"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_graph_shows_one_intervention_s_or_condition_s_neighbourhood(browse: Page, site: str, scheme: str) -> None:
    warnings: list[str] = []
    browse.on("console", lambda m: warnings.append(m.text) if m.type in ("warning", "error") else None)
    desktop(browse, site + "interventions/sodium-thiosulfate.html", scheme)
    browse.locator("article a", has_text="neighbourhood on the graph").click()
    browse.wait_for_url("**/graph.html#focus=intervention%3Asodium-thiosulfate")
    browse.wait_for_function("window.kbGraph !== undefined")
    expect(browse.locator("#kb-graph-focus")).to_have_value("intervention:sodium-thiosulfate")
    expect(browse.locator("#kb-graph-shown")).to_contain_text("the neighbourhood of sodium thiosulfate")
    shown = _visible(browse)
    contexts = {n for n in shown if n.startswith("context:")}
    assert "intervention:sodium-thiosulfate" in shown and "context:calcinosis--systemic-sclerosis" in contexts
    assert {"condition:calcinosis", "condition:calciphylaxis"} <= shown, "each context's condition"
    assert "intervention:diltiazem" not in shown and len(shown) < browse.evaluate("window.kbGraph.nodes().length")
    # Every visible edge joins two visible nodes; the treats edges are weighted by patients.
    edges = browse.evaluate(
        "window.kbGraph.edges(':visible').map(e => [e.source().id(), e.target().id(), e.data('relation'),"
        " e.data('weight'), parseFloat(e.style('width'))])"
    )
    assert edges and all(s in shown and t in shown for s, t, *_ in edges)
    treats = sorted((w, width) for _, _, relation, w, width in edges if relation == "treats")
    assert treats[0][0] < treats[-1][0] and treats[0][1] < treats[-1][1], "more patients, a thicker line"
    shot(browse, f"evidence-graph-neighbourhood-1366-{scheme}", full=False)

    browse.locator("#kb-graph-focus").select_option("condition:calcinosis")
    expect(browse.locator("#kb-graph-shown")).to_contain_text("the neighbourhood of calcinosis")
    assert browse.url.endswith("#focus=condition%3Acalcinosis")
    shown = _visible(browse)
    kinds = browse.evaluate("window.kbGraph.nodes(':visible').map(n => n.data('kind'))")
    assert kinds.count("condition") == 1 and kinds.count("context") >= 5
    assert {"intervention:diltiazem", "intervention:sodium-thiosulfate"} <= shown
    assert not any(n.startswith("context:calciphylaxis") for n in shown)
    # A supporting and a contradicted line differ, in colours Cytoscape took (no warning of a rejected one).
    supporting = browse.evaluate(
        "window.kbGraph.edges('[direction = \"supporting\"]:visible').first().style('line-color')"
    )
    other = browse.evaluate("window.kbGraph.edges('[direction = \"other\"]:visible').first().style('line-color')")
    assert supporting != other, (supporting, other)
    assert not [w for w in warnings if "invalid" in w.lower() or "style" in w.lower()], warnings
    browse.set_viewport_size({"width": 390, "height": 844})
    shot(browse, f"evidence-graph-neighbourhood-390-{scheme}", full=False)
    browse.locator("#kb-graph-focus").select_option("")
    expect(browse.locator("#kb-graph-shown")).to_contain_text("all")
    assert len(_visible(browse)) == browse.evaluate("window.kbGraph.nodes().length")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_treatment_given_by_several_routes_is_counted_per_route(browse: Page, site: str, scheme: str) -> None:
    desktop(browse, site + "conditions/calcinosis.html", scheme)
    ranked = browse.locator("article table[data-kb-ready]").first
    sts = ranked.locator("tbody tr", has=browse.locator("th a", has_text="sodium thiosulfate")).first
    sts.locator("a.kb-route-link").click()
    assert browse.url.endswith("#route-intervention-sodium-thiosulfate")
    first = browse.locator("tr#route-intervention-sodium-thiosulfate")
    expect(first).to_be_in_viewport()
    table = first.locator("xpath=ancestor::table")
    expect(table.locator("caption")).to_have_text("Treatments given by more than one route, counted per route")
    names = [t.strip() for t in table.locator("tbody th").all_inner_texts()]
    routes = [n for n in names if n.startswith("sodium thiosulfate, ")]
    assert len(routes) >= 2 and "sodium thiosulfate, intralesional" in routes, names
    # Each route row counts its own findings: together they are the pooled row's studies.
    pooled = int(sts.locator("td").first.inner_text())
    parts = [
        int(table.locator("tbody tr", has=browse.locator("th", has_text=n)).locator("td").first.inner_text())
        for n in routes
    ]
    assert sum(parts) >= pooled and all(0 < p < pooled for p in parts), (parts, pooled)
    shot(browse, f"evidence-by-route-1366-{scheme}", full=False)
    browse.set_viewport_size({"width": 390, "height": 844})
    first.scroll_into_view_if_needed()
    expect(first.locator("th")).to_be_in_viewport()
    shot(browse, f"evidence-by-route-390-{scheme}", full=False)


def test_the_home_page_offers_the_atom_feed(browse: Page, site: str) -> None:
    from lxml import etree

    browse.goto(site)
    head = browse.locator("head link[rel='alternate'][type='application/atom+xml']")
    expect(head).to_have_count(1)
    link = browse.locator("article a", has_text="Atom feed")
    expect(link).to_be_visible()
    response = browse.request.get(site + str(link.get_attribute("href")))
    assert response.status == 200
    feed = etree.fromstring(response.body())
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    browse.locator("nav.md-tabs a", has_text="For developers").click()
    browse.wait_for_url("**/api.html")
    sidebar = browse.locator("nav.md-nav--primary")
    for title in ("Python API", "Operations", "Data dictionary", "Topic packs"):
        expect(sidebar.locator("a", has_text=title).first).to_be_attached()
    shot(browse, "evidence-developers-1366-light", full=False)
