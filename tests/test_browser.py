"""The published site in a real browser: Debian's Chromium driven by Playwright, over real HTTP.

The bundled calcinosis topic and the synthetic test topic (whose article titles are hostile
HTML) are built once per session with the installed ``kb`` command and served from
127.0.0.1 on ephemeral ports. Every request to any other host is recorded and aborted; each
test fails if one happened. Screenshots for review land in ``build/screenshots/``.

Chromium comes from ``make system-deps`` (the Debian package, never ``playwright install``).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, Route, expect

from conftest import MINI_TOPIC, REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
KB = Path(sys.executable).with_name("kb")
SCREENSHOTS = REPO / "build" / "screenshots"
HOSTILE_TITLE = (
    '<script>window.__pwned = 1</script><img src=x onerror="alert(1)"> [click](javascript:alert(1)) **bold**'
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    """pytest-playwright's launch options, with Debian's Chromium instead of a downloaded one."""
    if not CHROMIUM.is_file():
        message = f"Chromium is not installed at {CHROMIUM}: run 'make system-deps' (it installs the Debian package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}


def _build(site: Path, db: Path, *topic: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    args = [str(KB), "build", *topic, "--db", f"sqlite:///{db}", "--site-dir", str(site)]
    result = subprocess.run(args, cwd=site.parent, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"kb build failed:\n{result.stdout}\n{result.stderr}"


@functools.cache
def _quiet_handler(directory: str) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def serve() -> Iterator[object]:
    """Start a threaded HTTP server on 127.0.0.1 for a folder; returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(directory: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _quiet_handler(str(directory)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, serve) -> str:  # type: ignore[no-untyped-def]
    """The bundled calcinosis topic's site, served over HTTP; its base URL."""
    root = tmp_path_factory.mktemp("calcinosis")
    _build(root / "site", root / "kb.sqlite")
    return str(serve(root / "site"))


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory: pytest.TempPathFactory, serve) -> str:  # type: ignore[no-untyped-def]
    """The test topic's site (an article titled with HTML and a javascript: link), served over HTTP."""
    root = tmp_path_factory.mktemp("hostile")
    _build(root / "site", root / "kb.sqlite", "--topic", str(MINI_TOPIC))
    return str(serve(root / "site"))


@pytest.fixture
def external(context: BrowserContext) -> Iterator[list[str]]:
    """Requests to any host but 127.0.0.1, aborted and recorded; the test fails if there are any."""
    seen: list[str] = []
    local: list[str] = []

    def handle(route: Route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            local.append(route.request.url)
            route.continue_()
        else:
            seen.append(route.request.url)
            route.abort()

    context.route("**/*", handle)
    yield seen
    assert local, "the route handler saw no request at all: it would not have seen external ones either"
    assert seen == [], f"the site made requests off the machine: {seen}"


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Messages of any alert, confirm or prompt the page opened (each is dismissed)."""
    opened: list[str] = []

    def handle(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", handle)
    return opened


@pytest.fixture
def browse(page: Page, external: list[str], dialogs: list[str]) -> Page:
    """A page whose every off-machine request and dialog is recorded (see ``external``, ``dialogs``)."""
    return page


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def heading(page: Page) -> str:
    """The page's h1 as a reader sees it, without Material's permalink mark."""
    return str(
        page.locator("h1").evaluate(
            "h => { const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(e => e.remove());"
            " return c.textContent.trim(); }"
        )
    )


def column(table: Locator, index: int) -> list[str]:
    """The visible text of one column of a table, top to bottom."""
    cells = table.locator(f"tbody tr:not([hidden]) > :is(td, th):nth-child({index})")
    return [text.strip() for text in cells.all_inner_texts()]


def test_home_leads_to_a_treatment_and_on_to_its_articles(browse: Page, site: str, dialogs: list[str]) -> None:
    browse.goto(site)
    assert heading(browse) == "Calcinosis treatment evidence"
    expect(browse.locator("article")).to_contain_text("What treatments have been tried")
    expect(browse.locator("article")).to_contain_text("Most recently added")
    assert browse.locator("article svg.kb-bar").count() > 0, "no response-rate bars on the home page"
    screenshot(browse, "home")

    browse.locator("article table a[href$='interventions/diltiazem.html']").first.click()
    browse.wait_for_url("**/interventions/diltiazem.html")
    assert heading(browse) == "Diltiazem"
    expect(browse.locator("article")).to_contain_text("Evidence by condition")
    findings = browse.locator("article h2:has-text('Findings') ~ .md-typeset__scrollwrap table").first
    expect(findings.locator("a[href*='pubmed.ncbi.nlm.nih.gov'], a[href*='doi.org']").first).to_be_visible()

    article = findings.locator("tbody a[href*='articles/']").first
    title = article.inner_text()
    article.click()
    browse.wait_for_url("**/articles/*.html#finding-*")  # the finding's permalink on its article page
    assert heading(browse) == re.sub(r" \(\d{4}\)$", "", title)
    expect(browse.locator("article")).to_contain_text("How it was found")
    assert dialogs == []


def test_search_finds_pages(browse: Page, site: str) -> None:
    browse.goto(site)
    box = browse.locator("input.md-search__input")
    box.click()
    box.press_sequentially("thiosulfate", delay=30)
    results = browse.locator(".md-search-result__item")
    expect(results.first).to_be_visible(timeout=15_000)
    assert results.count() >= 1
    expect(browse.locator(".md-search-result")).to_contain_text("thiosulfate")


def test_a_treatment_table_sorts_by_a_clicked_column(browse: Page, site: str) -> None:
    browse.goto(site + "conditions/calcinosis--systemic-sclerosis.html")
    table = browse.locator("article table[data-kb-ready]").first
    expect(table).to_be_visible()
    before = column(table, 1)
    studies_before = [int(v) for v in column(table, 2)]
    assert len(studies_before) > 3
    assert studies_before != sorted(studies_before), "the ranked table is already in study order: pick a column"
    table.locator("thead th", has_text="Studies").click()
    studies = [int(v) for v in column(table, 2)]
    assert studies == sorted(studies)
    assert column(table, 1) != before
    table.locator("thead th", has_text="Studies").click()
    assert [int(v) for v in column(table, 2)] == sorted(studies, reverse=True)


def test_a_long_table_filters_as_you_type(browse: Page, site: str) -> None:
    browse.goto(site + "articles/index.html")
    table = browse.locator("article table[data-kb-ready]").first
    expect(table).to_be_visible()
    total = table.locator("tbody tr").count()
    assert total >= 10
    box = browse.locator("input.kb-filter").first
    box.press_sequentially("diltiazem")
    titles = column(table, 2)
    assert 0 < len(titles) < total
    assert all("diltiazem" in t.lower() for t in titles)
    box.fill("")
    box.press_sequentially("no such words anywhere")
    assert column(table, 2) == []


def test_condition_page_draws_rate_bars_in_both_palettes(browse: Page, site: str) -> None:
    browse.goto(site + "conditions/calcinosis--systemic-sclerosis.html")
    bar = browse.locator("article svg.kb-bar").first
    expect(bar).to_be_visible()
    assert "95% CI" in (bar.get_attribute("aria-label") or "")
    screenshot(browse, "condition")

    def track() -> str:
        return str(browse.evaluate("getComputedStyle(document.querySelector('.kb-bar-track')).fill"))

    light = track()
    browse.locator("label.md-header__button[for^='__palette']:visible").first.click()
    expect(browse.locator("body")).to_have_attribute("data-md-color-scheme", "slate")
    dark = track()
    assert light and dark and light != dark, (light, dark)
    screenshot(browse, "condition-dark")


def test_graph_page_draws_every_node(browse: Page, site: str) -> None:
    browse.goto(site + "graph.html")
    browse.wait_for_function("window.kbGraph !== undefined")
    expected = int(browse.locator("#kb-graph").get_attribute("data-nodes") or 0)
    assert expected > 20
    assert browse.evaluate("window.kbGraph.nodes().length") == expected
    assert browse.evaluate("window.kbGraph.nodes('[kind = \"condition\"]').length") == 3
    assert browse.locator("#kb-graph canvas").count() > 0
    screenshot(browse, "graph")


def test_new_pages_render(browse: Page, site: str) -> None:
    browse.goto(site + "gaps.html")
    assert browse.locator("article table .kb-heat-0").count() > 0, "no gaps drawn"
    assert browse.locator("article table .kb-heat-1, article table .kb-heat-2").count() > 0
    browse.goto(site + "downloads.html")
    link = browse.locator("article a[href$='downloads/kb.sqlite']")
    expect(link).to_be_visible()
    response = browse.request.get(site + "downloads/kb.sqlite")
    assert response.ok and response.body()[:16] == b"SQLite format 3\x00"
    browse.goto(site + "changelog.html")
    expect(browse.locator("article")).to_contain_text("No refresh runs yet: this KB was built from the bundled topic")


def test_hostile_title_renders_as_text(browse: Page, hostile_site: str, dialogs: list[str]) -> None:
    for page in ("articles/local-hostile.html", "articles/index.html", "interventions/alendronate.html"):
        browse.goto(hostile_site + page)
        expect(browse.locator("article")).to_contain_text(HOSTILE_TITLE)
        assert browse.evaluate("window.__pwned") is None
        assert browse.locator("article img[src='x'], article a[href^='javascript:']").count() == 0
        assert browse.locator("article strong", has_text="bold").count() == 0
    browse.goto(hostile_site + "articles/local-hostile.html")
    assert heading(browse) == HOSTILE_TITLE
    assert dialogs == []


def test_condition_page_fits_a_phone(browse: Page, site: str) -> None:
    browse.set_viewport_size({"width": 375, "height": 812})
    for page in ("conditions/calcinosis--systemic-sclerosis.html", "index.html", "gaps.html"):
        browse.goto(site + page)
        overflow = browse.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{page} is {overflow}px wider than a phone screen"
    screenshot(browse, "gaps-phone")
