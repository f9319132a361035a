"""The site's Atom feed of what each refresh added: a real KB (SQLite and PostgreSQL), real
refresh-run rows written by the store, the real MkDocs build, and the feed parsed with lxml."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest
from lxml import etree, html
from test_build import kb

from conftest import MINI_TOPIC
from kb.models import ArticleRecord, ArticleSource
from kb.store import Store
from queries.feed import ATOM, entry_id, xml_text
from queries.site import build_site
from queries.stamp import kb_stamp

A = f"{{{ATOM}}}"
# A title as hostile as PubMed could send: markup, an ampersand, a CDATA end, control characters.
HOSTILE = "Calcinosis <b>treated</b> & cured? ]]> \x01\x08\x0b\x1f\x7f\x85 really\ttwice"
CLEAN = "Calcinosis <b>treated</b> & cured? ]]> really twice"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _article(pmid: str, title: str) -> ArticleRecord:
    return ArticleRecord(id=f"pubmed:{pmid}", pmid=pmid, title=title, journal="J Test", year=2026, authors=["Doe J"])


def _refresh(store: Store, status: str, pmids: dict[str, str]) -> int:
    """A refresh run that stores ``pmids`` (id → title) while it runs, as kb refresh does."""
    run = store.start_run("mini", datetime.now(UTC))
    store.save_articles([_article(p, t) for p, t in pmids.items()])
    store.save_article_sources(ArticleSource(article_id=f"pubmed:{p}", topic_id="mini", kind="query") for p in pmids)
    store.save_run(run, status=status, finished_at=datetime.now(UTC), articles_new=len(pmids))
    return run


@pytest.fixture
def refreshed(db_url: str, tmp_path: Path) -> tuple[str, int]:
    """The test topic's KB after two successful refresh runs and a failed one."""
    kb("build", "--topic", str(MINI_TOPIC), "--db", db_url, "--no-site", cwd=tmp_path)
    store = Store.open(db_url)
    first = _refresh(store, "success", {"90000001": "An ordinary new series"})
    second = _refresh(store, "success", {"90000002": HOSTILE, "90000003": "A third"})
    _refresh(store, "failed", {"90000004": "Stored by a run that then failed"})
    store.close()
    return db_url, first + second


def _feed(site: Path) -> tuple[bytes, etree._Element]:
    raw = (site / "feed.xml").read_bytes()
    return raw, etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(A + name)
    assert len(found) == 1, f"{parent.tag} has {len(found)} {name} elements, not 1"
    return found[0]


def _check_atom(feed: etree._Element, site: Path) -> list[etree._Element]:
    """RFC 4287's structure: what a feed and each entry must hold; returns the entries."""
    assert feed.tag == A + "feed"
    for name in ("id", "title", "updated"):
        assert (_one(feed, name).text or "").strip(), name
    assert _one(_one(feed, "author"), "name").text
    assert RFC3339.match(_one(feed, "updated").text or "")
    self_link = [link for link in feed.findall(A + "link") if link.get("rel") == "self"]
    assert len(self_link) == 1 and self_link[0].get("href") == "feed.xml"
    entries = feed.findall(A + "entry")
    ids = [_one(e, "id").text for e in entries]
    assert len(set(ids)) == len(ids), "entry ids are unique"
    for entry in entries:
        urn = _one(entry, "id").text or ""
        assert urn.startswith("urn:uuid:") and str(uuid.UUID(urn[9:])) == urn[9:]
        assert _one(entry, "title").get("type") == "text" and _one(entry, "title").text
        stamp = _one(entry, "updated").text or ""
        assert RFC3339.match(stamp), stamp
        alternate = [link for link in entry.findall(A + "link") if link.get("rel") == "alternate"]
        assert len(alternate) == 1, "one alternate link per entry (RFC 4287 4.1.2)"
        assert (site / (alternate[0].get("href") or "missing")).is_file(), alternate[0].get("href")
    stamps = [_one(e, "updated").text or "" for e in entries]
    assert stamps == sorted(stamps, reverse=True), "newest first"
    return entries


def test_the_feed_lists_each_refresh_s_additions_after_a_real_build(refreshed: tuple[str, int], tmp_path: Path) -> None:
    db_url, _ = refreshed
    site = tmp_path / "site"
    build_site(site, db=db_url)
    raw, feed = _feed(site)
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    entries = _check_atom(feed, site)
    titles = {_one(e, "title").text for e in entries}
    # Both successful runs' articles, not the failed run's, nor the pack's (stored before any run).
    assert len(entries) == 3 and titles == {"An ordinary new series", CLEAN, "A third"}
    hostile = next(e for e in entries if _one(e, "title").text == CLEAN)
    assert _one(hostile, "link").get("href") == "articles/pubmed-90000002.html"
    assert b"]]>" not in raw and b"<b>" not in raw and b"\x01" not in raw, "escaped, never raw"
    summary = _one(hostile, "summary").text or ""
    assert "J Test, 2026." in summary and "Added by the refresh of" in summary
    # The feed changed when the KB last did: the latest entry, or later (the run that added it
    # finishes after storing its articles, possibly in the next second).
    newest_entry = max(_one(e, "updated").text or "" for e in entries)
    changed = kb_stamp(db=db_url)["updated"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _one(feed, "updated").text == max(newest_entry, changed) and changed >= newest_entry

    # The next build gives the same feed: ids, and every byte, are stable.
    build_site(site, db=db_url)
    assert (site / "feed.xml").read_bytes() == raw


def test_every_page_and_the_home_page_link_the_feed(refreshed: tuple[str, int], tmp_path: Path) -> None:
    db_url, _ = refreshed
    site = tmp_path / "site"
    build_site(site, db=db_url)
    for page in ("index.html", "articles/pubmed-90000002.html", "changelog.html", "methods.html"):
        tree = html.fromstring((site / page).read_text(encoding="utf-8"))
        heads = tree.xpath("//head/link[@rel='alternate'][@type='application/atom+xml']")
        assert len(heads) == 1, page
        assert (site / urljoin(page, heads[0].get("href"))).resolve() == (site / "feed.xml").resolve(), page
    home = html.fromstring((site / "index.html").read_text(encoding="utf-8"))
    assert home.xpath("//article//a[@href='feed.xml'][contains(., 'Atom feed')]"), "the home page offers the feed"
    assert "New since the last refresh" in home.text_content()


def test_a_kb_without_refreshes_has_a_valid_empty_feed(db_url: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    kb("build", "--topic", str(MINI_TOPIC), "--db", db_url, "--site-dir", str(site), cwd=tmp_path)
    _, feed = _feed(site)
    assert _check_atom(feed, site) == []
    home = html.fromstring((site / "index.html").read_text(encoding="utf-8"))
    assert home.xpath("//article//a[@href='feed.xml']")


def test_feed_text_and_ids() -> None:
    assert xml_text(HOSTILE) == CLEAN
    assert xml_text(None) == ""
    assert entry_id("mini", 3, "pubmed:1") == entry_id("mini", 3, "pubmed:1")
    assert entry_id("mini", 3, "pubmed:1") != entry_id("mini", 4, "pubmed:1")
    assert entry_id("a", "b") != entry_id("a\x1fb")
