"""What the built site shows beyond the numbers: the navigation (clinical pages, then the
developers' ones apart) and an article's every author. The installed ``kb`` command, a real
SQLite KB, PubMed XML through ``kb ingest``, and the real MkDocs build."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html
from test_build import kb

from conftest import MINI_TOPIC

CLINICAL = ["Home", "Topics", "Conditions", "Interventions", "Articles", "Evidence gaps", "Graph", "Downloads"]
DEVELOPERS = {"Python API": "api.html", "Operations": "operations.html", "Data dictionary": "data-dictionary.html"}
AUTHORS = [f"Writer{n:02d} Q" for n in range(1, 15)]  # 14 invented authors


def _pubmed_xml(pmid: str, authors: list[str]) -> str:
    """A synthetic PubmedArticleSet record (invented content) with ``authors``."""
    people = "".join(
        f'<Author ValidYN="Y"><LastName>{a.split()[0]}</LastName><Initials>{a.split()[1]}</Initials></Author>'
        for a in authors
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"
  "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">
<PubmedArticleSet><PubmedArticle>
<MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>
<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><PubDate><Year>2001</Year></PubDate>
</JournalIssue><Title>Journal of Tests</Title></Journal>
<ArticleTitle>Diltiazem in a test cohort</ArticleTitle>
<AuthorList CompleteYN="Y">{people}</AuthorList><Language>eng</Language>
<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
</Article><MedlineJournalInfo><MedlineTA>J Tests</MedlineTA></MedlineJournalInfo>
<MeshHeadingList><MeshHeading><DescriptorName UI="D002114" MajorTopicYN="Y">Calcinosis</DescriptorName>
</MeshHeading></MeshHeadingList></MedlineCitation>
<PubmedData><PublicationStatus>ppublish</PublicationStatus>
<ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList></PubmedData>
</PubmedArticle></PubmedArticleSet>
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test topic's site, after PubMed's record of one curated article (14 authors) was ingested."""
    root = tmp_path_factory.mktemp("pages")
    db = f"sqlite:///{root / 'kb.sqlite'}"
    kb("build", "--topic", str(MINI_TOPIC), "--db", db, "--site-dir", str(root / "before"), cwd=root)
    (root / "pubmed-100.xml").write_text(_pubmed_xml("100", AUTHORS), encoding="utf-8")
    kb("ingest", "--db", db, str(root / "pubmed-100.xml"), cwd=root)
    # A rebuild loads the pack's curated article again: it must not cut PubMed's list back to one.
    kb("build", "--topic", str(MINI_TOPIC), "--db", db, "--site-dir", str(root / "site"), cwd=root)
    return root


def _page(site: Path, name: str) -> html.HtmlElement:
    return html.fromstring((site / name).read_text(encoding="utf-8"))


def test_developer_pages_are_a_section_apart_from_the_clinical_ones(built: Path) -> None:
    for page in ("index.html", "api.html", "conditions/index.html"):
        tree = _page(built / "site", page)
        tabs = [a.text_content().strip() for a in tree.xpath("//nav[contains(@class, 'md-tabs')]//a")]
        assert tabs[: len(CLINICAL)] == CLINICAL, (page, tabs)
        assert tabs[-1] == "For developers", (page, tabs)
        assert not set(DEVELOPERS) & set(tabs), "developer pages are not clinical tabs"
    # On a developer page the sidebar lists the section's pages, under its name.
    tree = _page(built / "site", "operations.html")
    section = tree.xpath(
        "//nav[contains(@class, 'md-nav--primary')]//li[.//label[normalize-space() = 'For developers']]"
    )
    assert section, "a 'For developers' section in the sidebar"
    links = {a.text_content().strip(): a.get("href") for a in section[0].xpath(".//a[not(starts-with(@href, '#'))]")}
    for title, href in DEVELOPERS.items():
        assert links.get(title) in (href, "./" + href, "#", ""), (title, links)
    assert "Topic packs" in links


def test_an_article_shows_every_author_the_first_ten_then_all(built: Path) -> None:
    tree = _page(built / "site", "articles/pubmed-100.html")
    row = tree.xpath("//article//tr[td[1][normalize-space() = 'Authors']]/td[2]")[0]
    details = row.xpath("./details")
    assert len(details) == 1
    assert details[0].xpath("./summary")[0].text_content() == "Show all 14 authors"
    assert details[0].text_content().removeprefix("Show all 14 authors") == ", ".join(AUTHORS)
    shown = (row.text or "").strip()
    assert shown == ", ".join(AUTHORS[:10]) + " …", shown
    assert "first author" not in row.text_content(), "PubMed's record lists them all"


def test_a_curated_first_author_says_it_is_the_first(built: Path) -> None:
    # Before PubMed's record came in, the pack named only the first author: the page says so.
    tree = _page(built / "before", "articles/pubmed-100.html")
    row = tree.xpath("//article//tr[td[1][normalize-space() = 'Authors']]/td[2]")[0]
    assert row.text_content() == "Alpha A (the first author, as the curated record gives it; PubMed lists them all)"
    assert not row.xpath("./details")
