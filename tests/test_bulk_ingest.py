"""``kb ingest`` from PubMed's bulk files: the relevance filter, extraction in the same pass,
provenance, the applied-file ledger and its order, workers and Dask, and convergence after a
SIGKILL, on real databases through the installed command.

The records are invented here (:func:`fake_eutils.make_article`) except in the test on the
real sample files of ``../shared/fixtures/pubmed-bulk``, which skips when they are absent.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import text
from test_fetch import KB, kb, rows

from conftest import shared_path
from fake_eutils import article_set, make_article
from ingest.pubmed import PubmedArticle, SkippedRecord, parse_pubmed_bytes, parse_pubmed_xml
from ingest.relevance import RelevanceFilter
from kb.errors import TopicError
from kb.store import Store
from kb.topic import load_topic

RELEVANT_ABSTRACT = (
    "Calcinosis cutis is a painful complication of systemic sclerosis. Twelve patients with "
    "calcinosis were treated with intralesional sodium thiosulfate; eight of the 12 patients improved."
)


def relevant(pmid: str, title: str = "Sodium thiosulfate for calcinosis cutis in systemic sclerosis") -> str:
    return make_article(pmid, title=title, abstract=RELEVANT_ABSTRACT, publication_types=("Case Reports",))


def irrelevant(pmid: str) -> str:
    return make_article(
        pmid,
        title="Sleep duration and obesity in adolescents",
        abstract="We followed 400 adolescents for two years; short sleep predicted weight gain.",
    )


def with_mesh_ui(xml: str, name: str, ui: str) -> str:
    """Give a MeSH heading its real descriptor UI (the fake gives unknown ones a synthetic UI)."""
    return re.sub(rf'UI="[^"]*"([^>]*)>{name}<', rf'UI="{ui}"\1>{name}<', xml)


def write_file(path: Path, parts: Sequence[str], deletions: Sequence[str] = ()) -> Path:
    body = article_set(parts).decode()
    if deletions:
        pmids = "".join(f'<PMID Version="1">{p}</PMID>' for p in deletions)
        body = body.replace("</PubmedArticleSet>", f"<DeleteCitation>{pmids}</DeleteCitation></PubmedArticleSet>")
    path.write_bytes(gzip.compress(body.encode(), mtime=0))
    return path


def parsed(xml: str) -> PubmedArticle:
    (record,) = parse_pubmed_bytes(article_set([xml]))
    assert isinstance(record, PubmedArticle)
    return record


# -- the relevance rule -----------------------------------------------------------------------


def test_the_relevance_rule_admits_the_topics_records_and_no_other() -> None:
    rule = RelevanceFilter(load_topic("calcinosis"))
    admitted = {
        "title synonym": (relevant("40000001"), "text:calcinosis cutis"),
        "abstract name": (
            make_article("40000002", title="A case", abstract="A woman with calciphylaxis on dialysis."),
            "text:calciphylaxis",
        ),
        "abbreviation, its case": (
            make_article("40000003", title="A case", abstract="Skin necrosis from CUA in a man on dialysis."),
            "text:CUA",
        ),
        "MeSH descriptor": (
            with_mesh_ui(
                make_article("40000004", title="A case", abstract="Deposits.", mesh=["Calcinosis"]),
                "Calcinosis",
                "D002114",
            ),
            "mesh:D002114",
        ),
        "extra term of the rule": (
            make_article("40000005", title="Subcutaneous calcifications after trauma", abstract="A case."),
            "text:subcutaneous calcifications",
        ),
        "phrase across a line break": (
            make_article("40000006", title="A case", abstract="Tumoral\n   calcinosis of the hip."),
            "text:tumoral calcinosis",
        ),
    }
    for why, (xml, label) in admitted.items():
        assert rule.match(parsed(xml)) == label, why
        # The parser's pre-filter lets it through to be built (it never drops what the rule admits).
        (built,) = parse_pubmed_xml(article_set([xml]), select=rule.may_match)
        assert isinstance(built, PubmedArticle), why
    refused = {
        "unrelated": irrelevant("40000011"),
        "a longer word": make_article("40000012", title="Microcalcinosisform lesions", abstract="None."),
        "a lower-case abbreviation": make_article("40000013", title="cua", abstract="The cua gene."),
        "an ambiguous abbreviation": make_article("40000014", title="TC levels", abstract="CP and TC in adults."),
        "a context without the condition": make_article(
            "40000015", title="Systemic sclerosis and dermatomyositis", abstract="Lung involvement in SSc."
        ),
        "a MeSH name without its descriptor UI": make_article(
            "40000016", title="A case", abstract="None.", mesh=["Calcinosis"]
        ),
    }
    for why, xml in refused.items():
        assert rule.match(parsed(xml)) is None, why


def test_the_pre_filter_skips_records_unbuilt_and_keeps_every_one_the_rule_admits() -> None:
    folder = shared_path("fixtures", "pubmed-bulk")
    synthetic = article_set(
        [
            relevant("40000021"),
            irrelevant("40000022"),
            with_mesh_ui(
                make_article("40000023", title="A case", abstract="Deposits.", mesh=["Calcinosis"]),
                "Calcinosis",
                "D002114",
            ),
        ]
    )
    sources: list[bytes] = [synthetic, *(gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.xml.gz")))]
    skipped = 0
    for topic in ("calcinosis", "ssc-ild", "pyoderma-gangrenosum"):
        rule = RelevanceFilter(load_topic(topic))
        for data in sources:
            every = [r for r in parse_pubmed_xml(data) if isinstance(r, PubmedArticle)]
            filtered = list(parse_pubmed_xml(data, select=rule.may_match))
            assert len(filtered) == len(list(parse_pubmed_xml(data)))  # one record out per record in
            skipped += sum(isinstance(r, SkippedRecord) for r in filtered)
            admitted = {r.pmid for r in every if rule.match(r)}
            assert {r.pmid for r in filtered if isinstance(r, PubmedArticle) and rule.match(r)} == admitted
    assert skipped > 1000  # most records are never built


def test_a_pack_with_a_bad_rule_is_refused_in_one_line(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    source = Path(__file__).parent / "fixtures" / "minitopic"
    pack.mkdir()
    (pack / "vocabulary.yaml").write_text((source / "vocabulary.yaml").read_text())
    spec = (source / "topic.yaml").read_text()
    (pack / "topic.yaml").write_text(spec + "relevance:\n  mesh: [C0002114]\n")
    with pytest.raises(TopicError, match=r"not MeSH descriptor UIs \(D followed by 6 digits\): C0002114"):
        load_topic(pack)


# -- the real sample files ------------------------------------------------------------------------


def test_the_real_bulk_files_attach_none_of_their_unrelated_records_to_the_topic(tmp_path: Path) -> None:
    folder = shared_path("fixtures", "pubmed-bulk")
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb("ingest", str(folder), "--topic", "calcinosis", "--db", db, cwd=tmp_path)
    assert "pubmed26n1335.xml.gz: 31 records read, 0 relevant, 0 stored" in out.stdout, out.stdout
    assert "medline16n0902.xml.gz: 605 records read, 0 relevant" in out.stdout
    assert rows(db, "SELECT COUNT(*) FROM article_source WHERE kind = 'file'") == [(0,)]
    curated = {r[0] for r in rows(db, "SELECT article_id FROM article_source WHERE topic_id = 'calcinosis'")}
    assert {r[0] for r in rows(db, "SELECT id FROM article")} == curated  # nothing from the files
    assert rows(db, "SELECT COUNT(*), SUM(records) FROM applied_file WHERE topic_id = 'calcinosis'") == [(5, 1020)]

    # Without --topic every article is stored, for no topic, and the topic's site lists none of them.
    out = kb("ingest", str(folder), "--db", db, cwd=tmp_path)
    assert "pubmed26n1335.xml.gz: 31 records read, 30 relevant, 30 stored" in out.stdout
    assert rows(db, "SELECT DISTINCT topic_id FROM article_source WHERE kind = 'file'") == [("",)]
    from queries.pages import SiteData

    store = Store.open(db)
    try:
        site = SiteData.read(store.engine)
    finally:
        store.close()
    listed = {a["id"] for a in site.articles}
    assert listed == curated and site.counts["articles"] == len(curated)
    assert rows(db, "SELECT COUNT(*) FROM article")[0][0] > len(curated) + 800


# -- extraction and provenance ------------------------------------------------------------------


def test_relevant_articles_are_extracted_in_the_same_pass_with_their_provenance(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    base = write_file(
        tmp_path / "pubmed99n0001.xml.gz", [relevant("41000001"), irrelevant("41000002"), relevant("41000003")]
    )
    out = kb("ingest", str(base), "--topic", "calcinosis", "--topic", "pyoderma-gangrenosum", "--db", db, cwd=tmp_path)
    assert "pubmed99n0001.xml.gz: 3 records read, 2 relevant, 2 stored" in out.stdout, out.stdout
    assert rows(db, "SELECT article_id, topic_id, kind, detail, rule FROM article_source WHERE kind = 'file'") == [
        ("pubmed:41000001", "calcinosis", "file", "pubmed99n0001.xml.gz", "text:calcinosis cutis"),
        ("pubmed:41000003", "calcinosis", "file", "pubmed99n0001.xml.gz", "text:calcinosis cutis"),
    ]
    assert rows(db, "SELECT COUNT(*) FROM article WHERE id = 'pubmed:41000002'") == [(0,)]
    found = rows(
        db, "SELECT article_id, intervention_id, n_treated, n_responded FROM finding WHERE origin = 'extracted'"
    )
    assert ("pubmed:41000001", "sodium-thiosulfate--intralesional", 12, 8) in found or any(
        f[0] == "pubmed:41000001" and f[1].startswith("sodium-thiosulfate") for f in found
    ), found
    # The findings are those re-extraction from the KB makes (kb build runs the same extractor on stored articles).
    before = rows(db, "SELECT content_hash FROM finding WHERE origin = 'extracted' ORDER BY 1")
    kb("build", "--no-site", "--topic", "calcinosis", "--db", db, cwd=tmp_path)
    assert rows(db, "SELECT content_hash FROM finding WHERE origin = 'extracted' ORDER BY 1") == before
    assert len(before) >= 2


# -- the ledger: order, skipping, force, revisions and deletions --------------------------------------


def test_update_files_apply_in_order_once_and_a_file_out_of_order_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    base = write_file(tmp_path / "pubmed99n0001.xml.gz", [relevant("42000001"), irrelevant("42000002")])
    revised = relevant("42000001", title="Revised: sodium thiosulfate for calcinosis cutis")
    first = write_file(tmp_path / "pubmed99n0002.xml.gz", [revised, irrelevant("42000003")], deletions=["42000002"])
    second = write_file(tmp_path / "pubmed99n0003.xml.gz", [irrelevant("42000004")])
    third = write_file(tmp_path / "pubmed99n0004.xml.gz", [irrelevant("42000005")])

    out = kb("ingest", str(first), str(base), "--db", db, cwd=tmp_path)  # given out of order: sorted
    assert out.stdout.index("pubmed99n0001") < out.stdout.index("pubmed99n0002")
    assert "pubmed99n0002.xml.gz: 3 records read, 2 relevant, 2 stored, 0 findings, 1 deleted" in out.stdout
    assert rows(db, "SELECT title FROM article WHERE id = 'pubmed:42000001'") == [
        ("Revised: sodium thiosulfate for calcinosis cutis",)
    ]
    assert {r[0] for r in rows(db, "SELECT id FROM article")} == {"pubmed:42000001", "pubmed:42000003"}
    assert rows(db, "SELECT id, reason, detail FROM missing_record") == [
        ("pubmed:42000002", "deleted", "pubmed99n0002.xml.gz")
    ]

    again = kb("ingest", str(base), str(first), "--db", db, cwd=tmp_path)
    assert "pubmed99n0001.xml.gz: skipped" in again.stdout and "pubmed99n0002.xml.gz: skipped" in again.stdout
    assert "articles: 0 new, 0 updated" in again.stdout

    kb("ingest", str(third), "--db", db, cwd=tmp_path)
    late = kb("ingest", str(second), "--db", db, cwd=tmp_path, expect=1)
    assert "pubmed99n0003.xml.gz comes before pubmed99n0004.xml.gz, which this KB has already applied" in late.stderr
    assert "Traceback" not in late.stderr and "--force" in late.stderr
    assert rows(db, "SELECT COUNT(*) FROM article WHERE id = 'pubmed:42000004'") == [(0,)]

    # The base file again, changed under the same name: refused; --force applies it, filling
    # only what the KB lacks (it is older than what was applied since).
    write_file(base, [relevant("42000001", title="An older title"), irrelevant("42000006")])
    changed = kb("ingest", str(base), "--db", db, cwd=tmp_path, expect=1)
    assert "pubmed99n0001.xml.gz was applied (for no topic) with another checksum" in changed.stderr
    forced = kb("ingest", str(base), str(second), "--force", "--db", db, cwd=tmp_path)
    assert "pubmed99n0001.xml.gz: 2 records read" in forced.stdout
    assert rows(db, "SELECT title FROM article WHERE id = 'pubmed:42000001'") == [
        ("Revised: sodium thiosulfate for calcinosis cutis",)
    ]
    assert rows(db, "SELECT COUNT(*) FROM article WHERE id IN ('pubmed:42000004', 'pubmed:42000006')") == [(2,)]
    assert rows(db, "SELECT name, number FROM applied_file ORDER BY number") == [
        ("pubmed99n0001.xml.gz", 1),
        ("pubmed99n0002.xml.gz", 2),
        ("pubmed99n0003.xml.gz", 3),
        ("pubmed99n0004.xml.gz", 4),
    ]


def test_a_file_failing_part_way_stops_its_series(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    broken = tmp_path / "pubmed99n0001.xml"
    broken.write_bytes(article_set([irrelevant("43000001"), irrelevant("43000002")])[:-120])
    later = write_file(tmp_path / "pubmed99n0002.xml.gz", [irrelevant("43000003")])
    out = kb("ingest", str(broken), str(later), "--db", db, cwd=tmp_path, expect=1)
    assert "pubmed99n0002.xml.gz: not applied: pubmed99n0001.xml, before it in its series, failed" in out.stderr
    assert rows(db, "SELECT COUNT(*) FROM article WHERE id = 'pubmed:43000003'") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM applied_file") == [(0,)]


# -- workers and Dask: the same KB ------------------------------------------------------------------


def content(url: str) -> dict[str, list[tuple]]:
    """What the KB holds, without the times it was written at (and the run-dependent ledger counts)."""
    queries = {
        "article": "SELECT id, pmid, doi, title, journal, year, authors, abstract, publication_types, mesh_terms, "
        "retracted, notices FROM article",
        "article_source": "SELECT article_id, topic_id, kind, detail, depth, rule FROM article_source",
        "citation": "SELECT citing_id, cited_id, source FROM citation",
        "finding": "SELECT id, content_hash, article_id, intervention_id, n_treated, n_responded FROM finding",
        "missing_record": "SELECT id, reason, detail FROM missing_record",
        "applied_file": "SELECT name, topic_id, series, number, sha256, size, records, relevant, findings, refused "
        "FROM applied_file",
        "intervention": "SELECT id, name, kind, class_id FROM intervention",
    }
    return {table: sorted(rows(url, sql), key=repr) for table, sql in queries.items()}


def bulk_files(folder: Path, files: int = 3, per_file: int = 200) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    pmid = 44000000
    for n in range(1, files + 1):
        parts = []
        for i in range(per_file):
            pmid += 1
            parts.append(relevant(str(pmid)) if i % 50 == 0 else make_article(str(pmid), refs=[str(pmid - 1)]))
        paths.append(write_file(folder / f"pubmed99n{n:04d}.xml.gz", parts, deletions=[str(pmid - per_file + 3)]))
    return paths


@pytest.mark.slow
def test_one_two_and_dask_workers_build_the_same_kb(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    paths = [str(p) for p in bulk_files(tmp_path / "files")]
    urls = {name: f"sqlite:///{tmp_path}/{name}.sqlite" for name in ("one", "two", "dask")}
    topic = ["--topic", "calcinosis"]
    kb("ingest", *paths, *topic, "--db", urls["one"], cwd=tmp_path)
    kb("ingest", *paths, *topic, "--workers", "2", "--db", urls["two"], cwd=tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = kb("ingest", *paths, *topic, "--scheduler", cluster.scheduler_address, "--db", urls["dask"], cwd=tmp_path)
    assert "pubmed99n0003.xml.gz: 201 records read, 4 relevant, 4 stored" in out.stdout, out.stdout
    one = content(urls["one"])
    assert len(one["finding"]) >= 12 and len(one["article"]) > 12
    assert content(urls["two"]) == one
    assert content(urls["dask"]) == one


def test_an_unreachable_scheduler_and_bad_workers_fail_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    path = write_file(tmp_path / "pubmed99n0001.xml.gz", [irrelevant("45000001")])
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    out = kb("ingest", str(path), "--scheduler", "tcp://127.0.0.1:9", "--db", db, cwd=tmp_path, expect=1)
    assert "error: could not reach the Dask scheduler at tcp://127.0.0.1:9" in out.stderr
    assert "Traceback" not in out.stderr
    out = kb("ingest", str(path), "--workers", "0", "--db", db, cwd=tmp_path, expect=1)
    assert "error: --workers must be 1 or more, not 0" in out.stderr


# -- SIGKILL anywhere, then a rerun ------------------------------------------------------------------


@pytest.mark.slow
def test_a_sigkill_anywhere_then_a_rerun_gives_the_kb_of_one_clean_run(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    paths = [str(p) for p in bulk_files(tmp_path / "files", files=4, per_file=1500)]
    args = ["ingest", *paths, "--topic", "calcinosis"]
    sqlite = db_url.startswith("sqlite")
    clean = (
        f"sqlite:///{tmp_path}/clean.sqlite" if sqlite else request.getfixturevalue("postgres_server").new_database()
    )
    kb(*args, "--db", clean, cwd=tmp_path)
    env = {**os.environ, "KB_DATABASE_URL": db_url}
    kills = 0
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5):
        process = subprocess.Popen(
            [str(KB), *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3  # the run was killed at several points, not only before it started
    kb(*args, "--db", db_url, cwd=tmp_path)
    assert content(db_url) == content(clean)
    store = Store.open(db_url)
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM article")).scalar() == len(content(clean)["article"])
    finally:
        store.close()


# -- progress -------------------------------------------------------------------------------------


def test_progress_draws_a_bar_per_file_and_overall_on_a_terminal_only(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from ingest.bulk_ingest import ingest_bulk
    from ingest.ingest_report import IngestProgress

    paths = bulk_files(tmp_path / "files", files=2, per_file=20)
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=120, markup=False)
    store = Store.open(f"sqlite:///{tmp_path}/kb.sqlite")
    try:
        with IngestProgress(terminal) as progress:
            report = ingest_bulk(store, paths, progress=progress)
            assert progress.records == 40
        with IngestProgress(Console(file=io.StringIO(), force_terminal=False)) as quiet:
            again = ingest_bulk(store, paths, progress=quiet)
    finally:
        store.close()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # without the terminal's escape codes
    assert "pubmed99n0001.xml.gz applied" in drawn and "pubmed99n0002.xml.gz applied" in drawn
    assert "records" in drawn and "rec/s" in drawn and "all files" in drawn
    assert [f.status for f in report.files] == ["applied", "applied"]
    assert [f.status for f in again.files] == ["skipped", "skipped"] and not quiet.files
