"""``kb build`` end to end: the installed command, a real database, the real MkDocs build."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from conftest import MINI_TOPIC, REPO
from kb.store import Store

KB = Path(sys.executable).with_name("kb")


def kb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    result = subprocess.run(
        [str(KB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"kb {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def dump(url: str) -> dict[str, list[tuple]]:
    store = Store.open(url, upgrade=False)
    with store.engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        content = {t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr) for t in tables}
    store.close()
    return content


def html(site: Path, page: str) -> str:
    return (site / page).read_text(encoding="utf-8")


def built_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site by path, but the sitemap (which carries the build date)."""
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in site.rglob("*")
        if p.is_file() and not p.name.startswith("sitemap.xml")
    }


def visible_text(markup: str) -> str:
    """The page's text with tags removed and whitespace folded, as a reader sees it."""
    body = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", markup)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_build_mini_topic_twice_on_each_database(db_url: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = kb("build", "--topic", str(MINI_TOPIC), "--db", db_url, "--site-dir", str(site), cwd=tmp_path)
    assert "Site built" in first.stdout
    before = dump(db_url)
    pages = built_files(site)
    assert {"downloads/findings.csv", "downloads/kb.graphml", "downloads/articles.ris"} <= set(pages)
    assert ("downloads/kb.sqlite" in pages) == db_url.startswith("sqlite")

    kb("build", "--topic", str(MINI_TOPIC), "--db", db_url, "--site-dir", str(site), cwd=tmp_path)
    assert dump(db_url) == before, "a second build changed the database"
    again = built_files(site)
    changed = sorted(name for name in pages.keys() | again.keys() if pages.get(name) != again.get(name))
    assert changed == [], "a second build of the same KB changed these files"

    diltiazem = visible_text(html(site, "interventions/diltiazem.html"))
    assert "Twelve treated, three improved a little on radiographs." in diltiazem
    assert "3/12" in diltiazem and "systemic sclerosis" in diltiazem
    ssc = visible_text(html(site, "conditions/calcinosis--systemic-sclerosis.html"))
    assert "8/20 evaluable of 20 treated" in ssc and "40% (22–61%)" in ssc


def test_hostile_titles_render_as_text(tmp_path: Path) -> None:
    site = tmp_path / "site"
    kb(
        "build",
        "--topic",
        str(MINI_TOPIC),
        "--db",
        f"sqlite:///{tmp_path}/kb.sqlite",
        "--site-dir",
        str(site),
        cwd=tmp_path,
    )
    for page in ("articles/local-hostile.html", "articles/index.html", "interventions/alendronate.html"):
        markup = html(site, page)
        assert "<script>window.__pwned" not in markup
        assert "<img src=x" not in markup
        assert 'href="javascript:' not in markup
        assert "<b>Summary</b>" not in markup
    heading = re.search(r"(?s)<h1[^>]*>(.*?)<a class=\"headerlink\"", html(site, "articles/local-hostile.html"))
    assert heading is not None
    assert heading.group(1) == (
        '&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror="alert(1)"&gt; '
        "[click](javascript:alert(1)) **bold**"
    )
    title = re.search(r"<title>(.*?)</title>", html(site, "articles/local-hostile.html"))
    assert title is not None and "<" not in title.group(1)


def test_bundled_topic_site_has_every_page_and_works_offline(tmp_path: Path) -> None:
    from kb.topic import load_topic

    site = tmp_path / "site"
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    result = kb("build", "--db", db, "--site-dir", str(site), cwd=tmp_path)
    assert str(site / "index.html") in result.stdout.replace("\n", "")

    pack = load_topic("calcinosis")
    for item in pack.vocabulary.interventions:
        assert (site / "interventions" / f"{item.id}.html").is_file(), item.id
    for condition in pack.vocabulary.conditions:
        assert (site / "conditions" / f"{condition.id}.html").is_file()
        for context in condition.contexts:
            assert (site / "conditions" / f"{condition.id}--{context}.html").is_file(), (condition.id, context)

    diltiazem = visible_text(html(site, "interventions/diltiazem.html"))
    assert "systemic sclerosis" in diltiazem and "3/12" in diltiazem
    home = visible_text(html(site, "index.html"))
    assert pack.spec.question in home and "diltiazem" in home

    index = (site / "search" / "search_index.json").read_text()
    assert "diltiazem" in index and "calciphylaxis" in index
    for vendored in ("iframe-worker/shim.js", "tablesort/tablesort.min.js", "cytoscape/cytoscape.min.js"):
        assert (site / "assets" / "vendor" / vendored).is_file(), vendored
    for page in ("gaps.html", "graph.html", "downloads.html", "changelog.html"):
        assert (site / page).is_file(), page
    changelog = visible_text(html(site, "changelog.html"))
    assert "No refresh runs yet: this KB was built from the bundled topic" in changelog
    assert "Most recently added" in home
    downloads = visible_text(html(site, "downloads.html"))
    for name in ("findings.csv", "kb.json", "kb.graphml", "articles.ris", "articles.bib", "kb.sqlite"):
        size = (site / "downloads" / name).stat().st_size
        assert size > 0 and name in downloads, name
    for page in site.rglob("*.html"):
        markup = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(https?:)?//[^"]*"', markup)
        assert not external, f"{page} loads {external} from the network"
        assert "fonts.googleapis" not in markup and "unpkg.com" not in markup


def test_query_api_answers_the_readme_question(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    kb("build", "--no-site", "--db", db, cwd=tmp_path)
    code = (
        "import queries; t = queries.treatments_for('calcinosis', context='systemic sclerosis');"
        "print(t.to_string()); assert 'diltiazem' in set(t['intervention_id'])"
    )
    env = {**os.environ, "KB_DATABASE_URL": db}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "diltiazem" in out.stdout


@pytest.mark.parametrize("argv", [["build", "--topic", "nope"], ["build", "--db", "mysql+nodriver://x/y"]])
def test_bad_arguments_fail_with_one_clear_line(argv: list[str], tmp_path: Path) -> None:
    result = subprocess.run([str(KB), *argv], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert result.stderr.count("\n") == 1, "one line, not wrapped"
    assert "Traceback" not in result.stderr


def test_build_creates_the_folder_of_a_new_sqlite_kb(tmp_path: Path) -> None:
    kb("build", "--no-site", "--db", f"sqlite:///{tmp_path}/new/folder/kb.sqlite", cwd=tmp_path)
    assert (tmp_path / "new" / "folder" / "kb.sqlite").is_file()


def kb_status(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    return subprocess.run([str(KB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_build_refuses_a_site_folder_it_did_not_make_and_keeps_its_files(tmp_path: Path) -> None:
    """MkDocs empties the site folder: ``--site-dir ~/Documents`` by mistake must not do that."""
    mine = tmp_path / "Documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    (mine / "drafts").mkdir()
    (mine / "drafts" / "ch1.md").write_text("chapter one")
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb_status("build", "--topic", str(MINI_TOPIC), "--db", db, "--site-dir", str(mine), cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert f"{mine} is not empty (drafts, thesis.txt) and is not a site kb build made" in out.stderr
    assert (mine / "thesis.txt").read_text() == "years of work"
    assert (mine / "drafts" / "ch1.md").read_text() == "chapter one"
    assert not (tmp_path / "Documents-sources").exists()


def test_build_keeps_its_generated_pages_in_a_folder_it_owns(tmp_path: Path) -> None:
    """Generated pages used to go to ``<site>/../generated``, emptied of every *.md the build
    did not make. Now they go to ``<site>-sources``, marked by a manifest; only files it
    lists are ever removed, and a folder without one is refused."""
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "notes.md").write_text("my notes")
    site = tmp_path / "site"
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    args = ("build", "--topic", str(MINI_TOPIC), "--db", db)
    kb(*args, "--site-dir", str(site), cwd=tmp_path)
    assert (tmp_path / "generated" / "notes.md").read_text() == "my notes"
    assert (site / ".kb-site.json").is_file() and (site / "index.html").is_file()
    sources = tmp_path / "site-sources"
    manifest_path = sources / ".kb-generated.json"
    manifest = json.loads(manifest_path.read_text())
    assert "index.md" in manifest["files"] and "downloads/findings.csv" in manifest["files"]
    assert all((sources / f).is_file() for f in manifest["files"])

    # A page the previous build wrote and this one does not is removed; the user's file stays.
    (sources / "mine.md").write_text("mine")
    stale = sources / "articles" / "pubmed-999.md"
    stale.write_text("an article no longer in the KB")
    manifest["files"].append("articles/pubmed-999.md")
    manifest_path.write_text(json.dumps(manifest))
    kb(*args, "--site-dir", str(site), cwd=tmp_path)
    assert (sources / "mine.md").read_text() == "mine" and not stale.exists()

    other = tmp_path / "other-sources"
    other.mkdir()
    (other / "a.md").write_text("someone else's")
    out = kb_status(*args, "--site-dir", str(tmp_path / "other"), cwd=tmp_path)
    assert out.returncode == 1 and "already holds files kb build did not write" in out.stderr, out.stderr
    assert (other / "a.md").read_text() == "someone else's"
