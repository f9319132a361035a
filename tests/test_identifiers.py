"""Identifiers are checked where they enter and links are built by one helper where they leave.

A PubMed record whose PMID is ``1](javascript:alert(document.domain))[x`` used to be stored,
put into the article page's Markdown link unescaped (a PubMed link that runs script), and
made every ``kb refresh`` crash once its cited-by check came due. Now the parser refuses it
(counted, reported, never stored); a KB written before still holding one neither crashes a
refresh nor gets a script link, because every outbound link goes through
:mod:`queries.links`, which accepts only http(s) and percent-encodes.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import REPO
from fake_eutils import FakeEutils, article_set, make_article
from ingest.fetch import ingest_files
from ingest.pubmed import PubmedArticle, RefusedRecord, parse_pubmed_bytes
from ingest.refresh import RefreshOptions, refresh_topic
from kb.identifiers import is_doi, is_pmcid, is_pmid
from kb.models import ArticleRecord, ArticleSource
from kb.store import Store
from queries.links import doi_url, external_url, mesh_url, pmc_url, pubmed_url
from queries.render import render_pages

KB = Path(sys.executable).with_name("kb")
MINI = Path(__file__).parent / "fixtures" / "minitopic"
HOSTILE_PMID = "1](javascript:alert(document.domain))[x"


def with_ids(pmid: str, *, doi: str | None = None, pmcid: str | None = None, ref: str | None = None) -> str:
    """A valid synthetic record whose identifiers are then replaced by the ones given."""
    xml = make_article("39999999", refs=["39999998"])
    xml = xml.replace(">39999999<", f">{html.escape(pmid, quote=False)}<")
    if doi is not None:
        xml = xml.replace("10.5555/synth.39999999", html.escape(doi, quote=False))
    if pmcid is not None:
        pmc = f'<ArticleId IdType="pmc">{html.escape(pmcid, quote=False)}</ArticleId>'
        xml = xml.replace('<ArticleId IdType="doi">', pmc + '<ArticleId IdType="doi">')
    if ref is not None:
        xml = xml.replace(">39999998<", f">{html.escape(ref, quote=False)}<")
    return xml


# -- the shapes ------------------------------------------------------------------------------


def test_identifier_shapes() -> None:
    assert is_pmid("38535057") and not any(map(is_pmid, ["", "0", "012", "12a", "١٢", HOSTILE_PMID, " 12", "12\n"]))
    assert is_doi("10.1002/art.1234") and is_doi("10.1002/(SICI)1097-4636(199706)35:4<489::AID-JBM9>3.0.CO;2-D")
    assert not any(map(is_doi, ["javascript:alert(1)", "10.12/x", "10.1234/a b", "doi:10.1234/x", "10.1234/"]))
    assert is_pmcid("PMC3706072") and is_pmcid("PMC3706072.1")
    assert not any(map(is_pmcid, ["PMC", "3706072", 'PMC1"><script>', "pmc123"]))


# -- where they enter: the parser ----------------------------------------------------------


def test_the_parser_refuses_records_with_bad_identifiers_and_reads_on() -> None:
    data = article_set(
        [
            make_article("39000001"),
            with_ids(HOSTILE_PMID),
            with_ids("39000003", doi="javascript:alert(1)//"),
            with_ids("39000004", pmcid='PMC1"><script>alert(1)</script>'),
            with_ids("39000005", ref="12a"),
            make_article("39000006").replace('<PMID Version="1">39000006</PMID>', ""),
            "<DeleteCitation><PMID>39000001</PMID><PMID>x1</PMID></DeleteCitation>",
            make_article("39000007"),
        ]
    )
    records = parse_pubmed_bytes(data, source_name="hostile.xml")
    assert [r.pmid for r in records if isinstance(r, PubmedArticle)] == ["39000001", "39000007"]
    refused = [r for r in records if isinstance(r, RefusedRecord)]
    assert [r.index for r in refused] == [2, 3, 4, 5, 6, 7]
    messages = [r.message for r in refused]
    assert re.fullmatch(
        r"hostile\.xml: record 2 \(line \d+\) refused: its PMID '1\]\(javascript:alert\(document\.domain\)\)\[x' "
        r"is not a PMID \(digits only\)",
        messages[0],
    )
    assert "record 3" in messages[1] and "its DOI 'javascript:alert(1)//' is not a DOI" in messages[1]
    assert "record 4" in messages[2] and "is not a PMC id" in messages[2]
    assert "record 5" in messages[3] and "it cites '12a', which is not a PMID" in messages[3]
    assert "record 6" in messages[4] and "has no PMID" in messages[4]
    assert "record 7" in messages[5] and "it deletes 'x1', which is not a PMID" in messages[5]


# -- where they enter: kb ingest, kb refresh ---------------------------------------------------


def test_kb_ingest_counts_refused_records_and_stores_none_of_them(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.xml"
    path.write_bytes(article_set([make_article("39000001"), with_ids(HOSTILE_PMID), make_article("39000003")]))
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    out = subprocess.run(
        [str(KB), "ingest", str(path), "--db", db_url],  # for no topic: every article is stored
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hostile.xml: 3 records read, 2 relevant, 2 stored, 0 findings, 0 deleted, 1 refused" in out.stdout
    assert f"record 2 (line 5) refused: its PMID {HOSTILE_PMID!r} is not a PMID (digits only)" in out.stdout
    store = Store.open(db_url)
    with store.engine.connect() as conn:
        ids = sorted(r[0] for r in conn.execute(text("SELECT id FROM article")))
        cited = sorted(r[0] for r in conn.execute(text("SELECT citing_id FROM citation")))
    store.close()
    assert [i for i in ids if i.startswith("pubmed:39")] == ["pubmed:39000001", "pubmed:39000003"]
    assert "javascript" not in " ".join(ids + cited)


TOPIC_YAML = """id: ht
title: Hostile ids
question: What treats calcinosis?
description: A synthetic topic.
condition: calcinosis
queries:
  - name: qa
    term: qa[tiab]
    since: "2000"
expansion:
  refs_depth: 0
  cited_by_depth: 1
"""


def test_a_refresh_with_the_cited_by_check_due_survives_a_hostile_record(db_url: str, tmp_path: Path) -> None:
    """Ingested through ``kb ingest`` (refused now), or left in the KB by an older version."""
    from kb.topic import load_topic

    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "vocabulary.yaml").write_text((MINI / "vocabulary.yaml").read_text())
    (folder / "topic.yaml").write_text(TOPIC_YAML)
    pack = load_topic(folder)
    fake = FakeEutils()
    fake.add_record("41000001", edat="2020/01/01")
    fake.add_record("41000002", refs=["41000001"], edat="2021/01/01")
    fake.set_search("qa[tiab]", ["41000001"])
    path = tmp_path / "hostile.xml"
    path.write_bytes(article_set([with_ids(HOSTILE_PMID)]))

    def refresh(**options: object) -> object:
        from ingest.entrez import EntrezClient, EntrezConfig

        store = Store.open(db_url)
        try:
            client = EntrezClient(EntrezConfig(email="me@example.org", base_url=fake.base_url, rate=50))
            return refresh_topic(client, store, pack, RefreshOptions(**options))  # type: ignore[arg-type]
        finally:
            store.close()

    with fake:
        refresh()  # the first run starts the cited-by cadence
        store = Store.open(db_url)
        report = ingest_files(store, [path], pack.id)
        assert len(report.refused) == 1 and report.articles.added == 0
        store.close()
        due = refresh(citedin_every_days=0)
        assert due.status != "failed", due.message  # type: ignore[attr-defined]

        # A KB written by an older version holds the record: named, skipped, no crash.
        store = Store.open(db_url)
        store.save_articles([ArticleRecord(id=f"pubmed:{HOSTILE_PMID}", pmid=HOSTILE_PMID, title="old")])
        store.save_article_sources([ArticleSource(article_id=f"pubmed:{HOSTILE_PMID}", topic_id=pack.id, kind="file")])
        store.close()
        again = refresh(citedin_every_days=0)
    assert again.status != "failed", again.message  # type: ignore[attr-defined]
    [recheck] = [w for w in again.windows if w.datetype == "citedin"]  # type: ignore[attr-defined]
    assert recheck.status == "success" and "skipped 1 stored article id(s) that are not PMIDs" in recheck.message


# -- where they leave: links -------------------------------------------------------------------


def test_the_url_helper_accepts_only_http_and_percent_encodes() -> None:
    assert pubmed_url("38535057") == "https://pubmed.ncbi.nlm.nih.gov/38535057/"
    assert doi_url("10.1002/(SICI)1097-4636(199706)35:4<489::AID-JBM9>3.0.CO;2-D") == (
        "https://doi.org/10.1002/%28SICI%291097-4636%28199706%2935%3A4%3C489%3A%3AAID-JBM9%3E3.0.CO%3B2-D"
    )
    assert pmc_url("PMC3706072.1") == "https://pmc.ncbi.nlm.nih.gov/articles/PMC3706072.1/"
    assert mesh_url("D002114") == "https://meshb.nlm.nih.gov/record/ui?ui=D002114"
    for bad in (HOSTILE_PMID, None, float("nan"), "", "0"):
        assert pubmed_url(bad) is None
    assert doi_url("javascript:alert(1)") is None and doi_url("10.1234/../../x") is None
    assert pmc_url('PMC1"><script>') is None and mesh_url("D1)](javascript:x)") is None
    assert external_url("https://example.org/a b", "c d/e") == "https://example.org/a%20b/c%20d%2Fe"
    for base in ("javascript:alert(1)//", "data:text/html,x", "//example.org", "ftp://example.org", "https://"):
        with pytest.raises(ValueError, match="http"):
            external_url(base)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]


def test_no_page_of_the_built_site_links_to_a_hostile_value(db_url: str, tmp_path: Path) -> None:
    """A KB holding hostile ids and URLs (as an older version could write): the real MkDocs
    build, every link of every page read back from the HTML."""
    from ingest.pipeline import build_topic
    from kb.topic import load_topic
    from queries.site import build_site

    store = Store.open(db_url)
    build_topic(store, load_topic(MINI))
    store.save_articles(
        [
            ArticleRecord(id="pubmed:1", pmid=HOSTILE_PMID, title="A [title](javascript:alert(2))", year=2020),
            ArticleRecord(
                id="doi:10.1234/x",
                doi="10.1234/x)](javascript:alert(3))",
                pmcid='PMC1"><img src=x onerror=alert(4)>',
                title="Another",
                url="javascript:alert(5)",
            ),
        ]
    )
    # Gathered for the topic (a site lists only its topic's articles).
    store.save_article_sources(
        [
            ArticleSource(article_id=a, topic_id="mini", kind="file", detail="old.xml")
            for a in ("pubmed:1", "doi:10.1234/x")
        ]
    )
    store.close()
    pages = render_pages(REPO / "site" / "templates", db=db_url)
    for name in ("articles/pubmed-1.md", "articles/doi-10.1234-x.md"):
        body = pages[name].split("---", 2)[2]  # after the front matter (the title as a YAML string)
        assert "](javascript" not in body and "(javascript" not in body.replace("\\(javascript", ""), body
    build_site(tmp_path / "site", db=db_url)
    hrefs: list[str] = []
    for page in (tmp_path / "site").rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        hrefs += parser.hrefs
    assert hrefs
    for href in (h for h in hrefs if not h.startswith("#")):  # (in-page anchors are slugs of headings)
        scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", href)
        assert scheme is None or scheme.group(1) in ("http", "https", "mailto"), href
        assert "javascript:" not in href.lower() and "onerror" not in href.lower(), href
        assert not re.search(r"[\s\"'<>()\[\]]", href), href  # what a link's encoded value never holds
    outbound = [h for h in hrefs if h.startswith(("https://pubmed", "https://doi.org", "https://pmc"))]
    assert "https://doi.org/10.1234/x%29%5D%28javascript%3Aalert%283%29%29" in outbound


def test_a_refresh_reports_a_record_efetch_returns_with_a_bad_identifier(db_url: str, tmp_path: Path) -> None:
    from ingest.entrez import EntrezClient, EntrezConfig
    from kb.topic import load_topic

    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "vocabulary.yaml").write_text((MINI / "vocabulary.yaml").read_text())
    (folder / "topic.yaml").write_text(TOPIC_YAML)
    fake = FakeEutils()
    fake.add_record("42000001", edat="2020/01/01")
    fake.add_record("42000002", edat="2020/01/01", doi="javascript:alert(document.domain)//")
    fake.set_search("qa[tiab]", ["42000001", "42000002"])
    store = Store.open(db_url)
    try:
        with fake:
            client = EntrezClient(EntrezConfig(email="me@example.org", base_url=fake.base_url, rate=50))
            report = refresh_topic(client, store, load_topic(folder), RefreshOptions())
        with store.engine.connect() as conn:
            ids = sorted(r[0] for r in conn.execute(text("SELECT id FROM article")))
    finally:
        store.close()
    [window] = report.windows
    assert "1 record(s) refused, not stored: efetch of 2 ids: record 2" in (window.message or "")
    assert "its DOI 'javascript:alert(document.domain)//' is not a DOI" in (window.message or "")
    assert "pubmed:42000001" in ids and "pubmed:42000002" not in ids
