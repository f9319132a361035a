"""A site per topic, or one for all: the real ``kb build`` (mkdocs) into a KB holding several
topics; the unreviewed mark, ``--reviewed-only`` and the review-measured precision on Methods."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from test_review import ABSTRACTS, build_with_articles, kb

import queries

REPO = Path(__file__).resolve().parent.parent
GENERATED = {"topic-packs.md"}  # generated from the pack schema, with examples from the bundled packs


def test_mkdocs_yml_and_hand_written_pages_name_no_topic() -> None:
    texts = {"mkdocs.yml": (REPO / "mkdocs.yml").read_text(encoding="utf-8")}
    for page in sorted((REPO / "site" / "docs").glob("*.md")):
        if page.name not in GENERATED:
            texts[page.name] = page.read_text(encoding="utf-8")
    for name, content in texts.items():
        for word in ("calcinosis", "calciphylaxis", "pyoderma", "interstitial lung"):
            assert word not in content.lower(), f"{name} names {word}"


def _page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def _title(html: str) -> str:
    found = re.search(r"<title>([^<]*)</title>", html)
    assert found
    return found.group(1)


@pytest.mark.slow
def test_a_second_topic_in_the_demo_kb_gets_its_own_site_and_changes_no_calcinosis_answer(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    kb("build", "--topic", "calcinosis", "--db", db, "--no-site", cwd=tmp_path)
    pairs = queries.condition_contexts(db=db)
    before = {
        (c, x): queries.treatments_for(c, context=x, db=db)
        for c, x in (
            (c, None if pd.isna(x) else x) for c, x in zip(pairs["condition_id"], pairs["context_id"], strict=True)
        )
        if c in ("calcinosis", "calciphylaxis", "tumoral-calcinosis")
    }
    crest = queries.findings(condition="calcinosis", context="CREST", db=db)

    site = tmp_path / "site"
    kb("build", "--topic", "ssc-ild", "--db", db, "--site-dir", str(site), cwd=tmp_path)
    for (condition, context), frame in before.items():
        pd.testing.assert_frame_equal(queries.treatments_for(condition, context=context, db=db), frame)
    pd.testing.assert_frame_equal(queries.findings(condition="calcinosis", context="CREST", db=db), crest)

    title = "Interstitial lung disease in systemic sclerosis — treatment evidence"
    for page in ("index.html", "methods.html", "operations.html", "topics/index.html", "conditions/index.html"):
        html = _page(site, page)
        assert _title(html).endswith(title), (page, _title(html))
        assert "<!-- kb:" not in html and "Calcinosis treatment evidence" not in html, page
    assert f"How the evidence of this site’s topic, {title}" in _page(site, "methods.html").replace("'", "’")
    assert "kb refresh --topic ssc-ild --site" in _page(site, "operations.html")
    assert "What treatments have been tried for interstitial lung disease" in _page(site, "index.html")
    assert "conditions/calcinosis--systemic-sclerosis.html" not in _page(site, "index.html")  # not its topic

    # One site for every topic: a page per topic, titled as a whole.
    every = tmp_path / "every"
    kb("build", "--all-topics", "--db", db, "--site-dir", str(every), "--no-site", cwd=tmp_path)
    kb("build", "--all-topics", "--db", db, "--site-dir", str(every), cwd=tmp_path)
    assert _title(_page(every, "index.html")) == "Treatment-outcome evidence"
    index = _page(every, "topics/index.html")
    for topic_id, topic_title in (("calcinosis", "Calcinosis treatment evidence"), ("ssc-ild", title)):
        page = _page(every, f"topics/{topic_id}.html")
        assert _title(page).startswith(topic_title)
        assert f'href="{topic_id}.html"' in index
    assert "Interstitial lung disease" not in _page(every, "topics/calcinosis.html").split("<article", 1)[1].split(
        "</article>", 1
    )[0].replace(title, "")


@pytest.mark.slow
def test_unreviewed_marks_reviewed_only_and_measured_precision(tmp_path: Path) -> None:
    import shutil

    from kb.topic import load_topic

    pack = tmp_path / "pack"
    shutil.copytree(load_topic("calcinosis").path, pack)
    xml = tmp_path / "articles.xml"
    from fake_eutils import article_set, make_article

    xml.write_bytes(
        article_set([make_article(p, title=f"Calcinosis treatment {p}", abstract=a) for p, a in ABSTRACTS.items()])
    )
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    build_with_articles(db, pack, xml, tmp_path)
    site = tmp_path / "site"
    kb("build", "--topic", str(pack), "--db", db, "--site-dir", str(site), cwd=tmp_path)
    article = _page(site, "articles/pubmed-38100001.html")
    assert "(unreviewed)" in article and "Calcinosis improved in 5 of 12" in article
    methods = _page(site, "methods.html")
    assert "Machine findings still unreviewed: <strong>3</strong>" in methods
    assert "No machine finding has been reviewed yet" in methods

    sheet = tmp_path / "sheet.csv"
    kb("review", "export", "--topic", str(pack), "--out", str(sheet), "--db", db, cwd=tmp_path)
    with sheet.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames or [], list(reader)
    decisions = {
        "pubmed:38100001": {"decision": "accept"},
        "pubmed:38100002": {"decision": "correct", "n_treated": "9"},
    }
    for row in rows:
        row.update(decisions.get(row["article_id"], {}))
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    kb("review", "apply", str(sheet), "--topic", str(pack), "--db", db, cwd=tmp_path)

    kb("build", "--topic", str(pack), "--db", db, "--site-dir", str(site), cwd=tmp_path)
    methods = _page(site, "methods.html")
    assert "Machine findings still unreviewed: <strong>1</strong>" in methods
    assert (
        "<strong>2</strong> reviewed machine findings, 1 (50 %) were accepted unchanged, 1 (50 %) corrected" in methods
    )
    assert re.search(r"<td>n_treated</td>\s*<td>1</td>", methods), methods
    assert "(reviewed)" in _page(site, "articles/pubmed-38100001.html")
    assert "(unreviewed)" in _page(site, "articles/pubmed-38100003.html")

    reviewed = tmp_path / "reviewed"
    kb("build", "--topic", str(pack), "--db", db, "--site-dir", str(reviewed), "--reviewed-only", cwd=tmp_path)
    assert "(unreviewed)" not in _page(reviewed, "articles/pubmed-38100003.html")
    assert "minocycline" not in _page(reviewed, "articles/pubmed-38100003.html").split("<article", 1)[1]
    assert "Machine findings still unreviewed: <strong>0</strong>" in _page(reviewed, "methods.html")
    # The KB itself still holds the unreviewed finding.
    assert len(queries.findings(intervention="minocycline", condition="calcinosis", db=db)) >= 1
