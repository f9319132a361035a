"""``kb fetch`` and ``kb ingest`` end to end: the installed command, pointed at the fake
E-utilities server with KB_EUTILS_URL, writing a real database."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from fake_eutils import FakeEutils, Fault, article_set, make_article
from kb.store import Store

KB = Path(sys.executable).with_name("kb")

# A small citation network: the seed cites two papers and is cited by two.
SEED = "33000001"
REFS = ["33000002", "33000003"]
CITERS = ["33000004", "33000005"]
OTHER = "33000006"  # cited by a reference: only reached at refs depth 2


@pytest.fixture
def network() -> FakeEutils:
    fake = FakeEutils()
    fake.add_record(SEED, refs=REFS, edat="2021/03/01", title="Seed paper")
    fake.add_record(REFS[0], refs=[OTHER], edat="2019/05/01")
    fake.add_record(REFS[1], edat="2018/05/01")
    fake.add_record(OTHER, edat="2015/05/01")
    for pmid in CITERS:
        fake.add_record(pmid, refs=[SEED], edat="2023/02/01")
    fake.set_search("calcinosis[mh]", [SEED, *CITERS])
    with fake:
        yield fake


def kb(*args: str, cwd: Path, env: dict[str, str] | None = None, expect: int = 0) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL", "NCBI_API_KEY")}
    full_env.update(env or {})
    result = subprocess.run([str(KB), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == expect, f"kb {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


# `kb fetch` and `kb ingest` load the topic's pack first: its curated articles are in the KB too.
FETCHED = "id NOT IN (SELECT article_id FROM article_source WHERE kind = 'curated')"


def rows(url: str, sql: str) -> list[tuple]:
    store = Store.open(url, upgrade=False)
    with store.engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(sql))]
    store.close()
    return found


def test_fetch_seed_with_references_and_citers(db_url: str, network: FakeEutils, tmp_path: Path) -> None:
    env = {"KB_EUTILS_URL": network.base_url, "NCBI_EMAIL": "me@example.org"}
    args = ("fetch", "--pmid", SEED, "--refs-depth", "1", "--cited-by-depth", "1", "--db", db_url)
    out = kb(*args, "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path, env=env)
    assert "articles: 5 new" in out.stdout
    assert sorted(r[0] for r in rows(db_url, f"SELECT id FROM article WHERE {FETCHED}")) == [
        f"pubmed:{p}" for p in [SEED, *REFS, *CITERS]
    ]
    sources = rows(db_url, "SELECT article_id, kind, detail, depth FROM article_source ORDER BY article_id, kind")
    assert (f"pubmed:{SEED}", "seed", "", 0) in sources
    assert (f"pubmed:{REFS[0]}", "references", f"pubmed:{SEED}", 1) in sources
    assert (f"pubmed:{CITERS[1]}", "cited_by", f"pubmed:{SEED}", 1) in sources
    citations = set(rows(db_url, "SELECT citing_id, cited_id, source FROM citation"))
    assert (f"pubmed:{SEED}", f"pubmed:{REFS[1]}", "pubmed_pubmed_refs") in citations
    assert (f"pubmed:{SEED}", f"pubmed:{REFS[1]}", "reference_list") in citations
    assert (f"pubmed:{CITERS[0]}", f"pubmed:{SEED}", "pubmed_pubmed_citedin") in citations
    assert all(r.params.get("email") == ["me@example.org"] for r in network.requests)

    # The same fetch again changes nothing; offline it replays the cache without a server.
    before = rows(db_url, "SELECT * FROM article ORDER BY id")
    again = kb(
        *args,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--offline",
        cwd=tmp_path,
        env={"KB_EUTILS_URL": "http://127.0.0.1:9"},
    )
    assert "articles: 0 new, 0 updated, 5 unchanged" in again.stdout
    assert "requests: 0" in again.stdout
    assert rows(db_url, "SELECT * FROM article ORDER BY id") == before


def test_fetch_query_in_a_date_window_survives_faults(network: FakeEutils, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    network.inject("esearch", Fault.too_many(retry_after=0.1))
    network.inject("efetch", Fault.truncated(), Fault.html_200())
    env = {"KB_EUTILS_URL": network.base_url, "NCBI_EMAIL": "me@example.org"}
    out = kb("fetch", "--query", "calcinosis[mh]", "--since", "2022/01/01", "--db", db, cwd=tmp_path, env=env)
    assert sorted(r[0] for r in rows(db, f"SELECT id FROM article WHERE {FETCHED}")) == [f"pubmed:{p}" for p in CITERS]
    assert "retries: 3" in out.stdout
    [search] = [r for r in network.requests if r.endpoint == "esearch" and r.status == 200]
    assert search.params["mindate"] == ["2022/01/01"]
    sources = rows(db, "SELECT DISTINCT kind, detail FROM article_source WHERE kind NOT IN ('curated', 'seed')")
    assert sources == [("query", "calcinosis[mh]")]


def test_unknown_ids_are_recorded_not_retried_forever(network: FakeEutils, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    env = {"KB_EUTILS_URL": network.base_url, "NCBI_EMAIL": "me@example.org"}
    out = kb("fetch", "--pmid", SEED, "--pmid", "39999999", "--db", db, cwd=tmp_path, env=env)
    assert "not returned by NCBI" in out.stdout and "pubmed:39999999" in out.stdout
    assert rows(db, "SELECT id, reason FROM missing_record") == [("pubmed:39999999", "not_returned")]
    assert len([r for r in network.requests if r.endpoint == "efetch"]) == 2


def test_fetch_without_email_or_with_bad_pmid_fails_clearly(network: FakeEutils, tmp_path: Path) -> None:
    env = {"KB_EUTILS_URL": network.base_url, "NCBI_EMAIL": ""}
    out = kb("fetch", "--pmid", SEED, cwd=tmp_path, env=env, expect=1)
    assert out.stderr.startswith("error:") and "NCBI_EMAIL" in out.stderr
    out = kb("fetch", "--pmid", "PMC123", cwd=tmp_path, env={**env, "NCBI_EMAIL": "me@example.org"}, expect=1)
    assert "is not a PMID" in out.stderr


def test_ingest_files_applies_deletions_and_keeps_curated(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    mini = str(Path(__file__).parent / "fixtures" / "minitopic")
    kb("build", "--no-site", "--topic", mini, "--db", db, cwd=tmp_path)
    base = tmp_path / "pubmed-base.xml.gz"
    base.write_bytes(gzip.compress(article_set([make_article(p, refs=["100"]) for p in ("34000001", "34000002")])))
    update = tmp_path / "pubmed-update.xml"
    body = article_set([make_article("34000003")]).decode()
    deletion = '<DeleteCitation><PMID Version="1">34000001</PMID><PMID Version="1">100</PMID></DeleteCitation>'
    update.write_text(body.replace("</PubmedArticleSet>", deletion + "</PubmedArticleSet>"))

    out = kb("ingest", str(base), str(update), "--db", db, cwd=tmp_path)  # for no topic: every article
    assert "pubmed-update.xml: 2 records read, 1 relevant, 1 stored, 0 findings, 1 deleted" in out.stdout
    assert "kept although PubMed deleted them (curated findings cite them): pubmed:100" in out.stdout
    ids = {r[0] for r in rows(db, "SELECT id FROM article")}
    assert {"pubmed:34000002", "pubmed:34000003", "pubmed:100"} <= ids
    assert "pubmed:34000001" not in ids
    assert rows(db, "SELECT COUNT(*) FROM citation WHERE citing_id = 'pubmed:34000001'") == [(0,)]
    assert set(rows(db, "SELECT id, reason FROM missing_record")) == {
        ("pubmed:34000001", "deleted"),
        ("pubmed:100", "deleted"),
    }
    assert ("file", "pubmed-update.xml") in set(rows(db, "SELECT kind, detail FROM article_source"))


def test_ingest_rejects_missing_and_malformed_files(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb("ingest", str(tmp_path / "absent.xml"), "--db", db, cwd=tmp_path, expect=1)
    assert "no such file" in out.stderr
    broken = tmp_path / "broken.xml"
    broken.write_bytes(article_set([make_article("35000001"), make_article("35000002")])[:-200])
    out = kb("ingest", str(broken), "--db", db, cwd=tmp_path, expect=1)
    assert "broken.xml" in out.stderr and "line" in out.stderr


def test_ingest_real_update_file_from_shared(tmp_path: Path) -> None:
    from conftest import shared_path

    update = shared_path("fixtures", "pubmed-bulk", "pubmed26n1335.xml.gz")
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb("ingest", str(update), "--db", db, cwd=tmp_path)
    assert "pubmed26n1335.xml.gz: 31 records read, 30 relevant, 30 stored" in out.stdout
    assert rows(db, f"SELECT COUNT(*) FROM article WHERE {FETCHED}") == [(30,)]
    assert rows(db, "SELECT COUNT(*) FROM missing_record WHERE reason = 'deleted'") == [(6,)]
    assert rows(db, "SELECT COUNT(*) FROM citation WHERE source = 'reference_list'")[0][0] > 500


def test_a_file_failing_part_way_says_what_was_stored_and_the_next_file_is_read(db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "a-broken.xml"
    broken.write_bytes(article_set([make_article(p) for p in ("36000001", "36000002", "36000003")])[:-300])
    good = tmp_path / "b-good.xml.gz"
    good.write_bytes(gzip.compress(article_set([make_article("36000004")])))
    out = kb("ingest", str(broken), str(good), "--db", db_url, cwd=tmp_path, expect=1)
    assert "Traceback" not in out.stderr
    assert f"{broken}: XML is malformed at line" in out.stderr
    assert "Stored from it before the error (committed): 2 records" in out.stderr
    assert "it is not recorded as applied" in out.stderr and "Re-running 'kb ingest' on it is safe" in out.stderr
    assert "error: 1 of 2 files failed part-way or were refused: a-broken.xml" in out.stderr
    assert "b-good.xml.gz: 1 records read" in out.stdout
    stored = {r[0] for r in rows(db_url, "SELECT id FROM article WHERE id LIKE 'pubmed:36%'")}
    assert stored == {"pubmed:36000001", "pubmed:36000002", "pubmed:36000004"}
    again = kb("ingest", str(broken), "--db", db_url, cwd=tmp_path, expect=1)  # safe to re-run: nothing doubles
    assert "Stored from it before the error (committed): 2 records" in again.stderr
    assert rows(db_url, "SELECT COUNT(*) FROM article WHERE id LIKE 'pubmed:36%'") == [(3,)]


def test_a_text_field_over_libxml2s_limit_names_the_record(tmp_path: Path) -> None:
    huge = tmp_path / "huge.xml"
    big = make_article("37000002", abstract="calcinosis " * (1_000_000))  # 11 MB in one text node
    huge.write_bytes(article_set([make_article("37000001"), big, make_article("37000003")]))
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb("ingest", str(huge), "--db", db, cwd=tmp_path, expect=1)
    assert f"{huge}: record 2 refused: a text field exceeds 10 MB" in out.stderr, out.stderr
    assert "XML_PARSE_HUGE" not in out.stderr and "truncated" not in out.stderr
    assert "Stored from it before the error (committed): 1 records" in out.stderr
    assert rows(db, f"SELECT id FROM article WHERE id LIKE 'pubmed:37%' AND {FETCHED}") == [("pubmed:37000001",)]


def test_ingest_a_folder_reads_its_xml_files_in_name_order(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    deletion = '<DeleteCitation><PMID Version="1">38000001</PMID></DeleteCitation>'
    # Name order matters: the update (n0002) deletes a record of the baseline (n0001).
    update = article_set([make_article("38000003")]).decode()
    (folder / "pubmed26n0002.xml").write_text(update.replace("</PubmedArticleSet>", deletion + "</PubmedArticleSet>"))
    (folder / "pubmed26n0001.xml.gz").write_bytes(
        gzip.compress(article_set([make_article("38000001"), make_article("38000002")]))
    )
    (folder / "README.txt").write_text("not XML")
    (folder / "pubmed26n0003.xml.gz.md5").write_text("0123")
    out = kb("ingest", str(folder), "--db", db_url, cwd=tmp_path)
    first, second = "pubmed26n0001.xml.gz: 2 records read", "pubmed26n0002.xml: 2 records read, 1 relevant, 1 stored"
    assert out.stdout.index(first) < out.stdout.index(second)
    assert "pubmed26n0002.xml: 2 records read, 1 relevant, 1 stored, 0 findings, 1 deleted" in out.stdout
    ids = {r[0] for r in rows(db_url, f"SELECT id FROM article WHERE id LIKE 'pubmed:38%' AND {FETCHED}")}
    assert ids == {"pubmed:38000002", "pubmed:38000003"}
    empty = tmp_path / "empty"
    empty.mkdir()
    out = kb("ingest", str(empty), "--db", db_url, cwd=tmp_path, expect=1)
    assert "a folder without *.xml or *.xml.gz files" in out.stderr
