"""``kb refresh`` reliability: killed at random points, run twice at once, faced with a faulty
NCBI, with nothing new, and with retractions. Real Bio.Entrez code path against the fake
E-utilities server over real HTTP, real SQLite files and a real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import queries
from conftest import REPO
from fake_eutils import FakeEutils, Fault
from ingest.entrez import EntrezClient, EntrezConfig
from ingest.refresh import (
    EXIT_NOTHING_NEW,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_SUCCESS,
    RefreshOptions,
    RefreshReport,
    refresh_topic,
)
from kb.lock import LockHeld, acquire, read_lock
from kb.models import RefreshLock
from kb.store import Store
from kb.topic import TopicPack, load_topic

KB = Path(sys.executable).with_name("kb")
MINI_VOCABULARY = Path(__file__).parent / "fixtures" / "minitopic" / "vocabulary.yaml"


def today() -> date:
    """Today in UTC, read when a test asks (a module constant goes stale across midnight)."""
    return datetime.now(UTC).date()


RECENT = f"{today() - timedelta(days=1):%Y/%m/%d}"

#: Abstracts the rules extractor turns into findings (drugs and contexts of the mini vocabulary).
ABSTRACTS = (
    "We treated {n} patients with systemic sclerosis and calcinosis with diltiazem. "
    "Calcinosis improved in {r} of {n} patients treated with diltiazem.",
    "Pamidronate was given to {n} patients with dermatomyositis and calcinosis; "
    "{r} of {n} patients had a complete response.",
)
TOPIC_YAML = """id: rt
title: Refresh test
question: What treats calcinosis?
description: A synthetic topic for the refresh tests.
condition: calcinosis
queries:
  - name: qa
    term: qa[tiab]
    since: "2000"
  - name: qb
    term: qb[tiab]
    since: "2000/06"
expansion:
  refs_depth: 1
  cited_by_depth: 1
"""


# -- the world: a topic pack and a fake PubMed --------------------------------------------


@pytest.fixture
def pack(tmp_path: Path) -> TopicPack:
    folder = tmp_path / "pack"
    folder.mkdir()
    shutil.copy(MINI_VOCABULARY, folder / "vocabulary.yaml")
    (folder / "topic.yaml").write_text(TOPIC_YAML)
    return load_topic(folder)


def _abstract(pmid: int) -> str:
    n = 5 + pmid % 20
    return ABSTRACTS[pmid % 2].format(n=n, r=pmid % n)


def populate(
    fake: FakeEutils, *, qa: int, qb: int, refs: int, citers: int, base: int = 40_000_000
) -> dict[str, list[str]]:
    """Two saved queries' results citing a pool of references and cited by a pool of citers.

    Returns the PMIDs each query finds.
    """
    ref_ids = [str(base + 500_000 + i) for i in range(refs)]
    citer_ids = [str(base + 800_000 + i) for i in range(citers)]
    results = {"qa": [str(base + i) for i in range(qa)], "qb": [str(base + 200_000 + i) for i in range(qb)]}
    for i, pmid in enumerate(ref_ids):
        fake.add_record(pmid, edat=f"199{i % 10}/03/01", abstract=_abstract(int(pmid)))
    for name, pmids in results.items():
        for i, pmid in enumerate(pmids):
            cited = [ref_ids[(i * 7 + k) % refs] for k in range(2)] if refs else []
            fake.add_record(pmid, refs=cited, edat=f"20{10 + i % 10}/0{1 + i % 9}/15", abstract=_abstract(int(pmid)))
        fake.set_search(f"{name}[tiab]", pmids)
    for i, pmid in enumerate(citer_ids):
        cited = [results["qa"][(i * 3) % qa]] if qa else []
        fake.add_record(pmid, refs=cited, edat=f"2023/0{1 + i % 9}/10", abstract=_abstract(int(pmid)))
    return results


def client_for(fake: FakeEutils, **overrides: object) -> EntrezClient:
    config = {"email": "me@example.org", "api_key": "test-key", "base_url": fake.base_url, **overrides}
    return EntrezClient(EntrezConfig(**config))  # type: ignore[arg-type]


def run(fake: FakeEutils, url: str, pack: TopicPack, **options: object) -> RefreshReport:
    """One refresh in this process (fast retries: the fault tests exhaust them on purpose)."""
    store = Store.open(url)
    try:
        client = client_for(fake, max_tries=3, backoff=0.01, backoff_cap=0.05)
        return refresh_topic(client, store, pack, RefreshOptions(**options))  # type: ignore[arg-type]
    finally:
        store.close()


# -- reading the KB ------------------------------------------------------------------------

#: Per table, the columns that are run-dependent (times, ids of runs) and left out of a dump.
VOLATILE = {
    "article": {"created_at", "updated_at"},
    "article_source": {"first_seen"},
    "finding": {"created_at"},
    "missing_record": {"first_seen"},
    "refresh_watermark": {"updated_at"},
}
DUMPED = (
    "article",
    "article_source",
    "citation",
    "finding",
    "missing_record",
    "refresh_watermark",
    "intervention",
    "topic",
)


def dump(url: str) -> dict[str, list[str]]:
    """A canonical dump of the KB's content: every row as sorted JSON, without timestamps."""
    store = Store.open(url, upgrade=False)
    out: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for table in DUMPED:
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            names = list(result.keys())
            keys = [k for k in names if k not in VOLATILE.get(table, set())]
            rows = []
            for row in result.mappings():
                values = {k: _plain(row[k]) for k in keys}
                rows.append(json.dumps(values, sort_keys=True, default=str))
            out[table] = sorted(rows)
    store.close()
    return out


def _plain(value: object) -> object:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def sql(url: str, query: str) -> list[tuple]:
    store = Store.open(url, upgrade=False)
    with store.engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(query))]
    store.close()
    return found


def check_no_duplicates(url: str) -> None:
    findings, distinct = sql(url, "SELECT COUNT(*), COUNT(DISTINCT content_hash) FROM finding")[0]
    assert findings == distinct
    articles, pmids = sql(url, "SELECT COUNT(*), COUNT(DISTINCT pmid) FROM article WHERE pmid IS NOT NULL")[0]
    assert articles == pmids


def second_database(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Another fresh database of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()  # type: ignore[no-any-return]


# -- the command in a subprocess -----------------------------------------------------------


def kb_env(fake: FakeEutils) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL",)}
    env.update(KB_EUTILS_URL=fake.base_url, NCBI_EMAIL="me@example.org", NCBI_API_KEY="test-key")
    return env


def refresh_command(url: str, pack: TopicPack, cache: Path) -> list[str]:
    return [str(KB), "refresh", "--topic", str(pack.path), "--db", url, "--cache-dir", str(cache)]


def kb_refresh(fake: FakeEutils, url: str, pack: TopicPack, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        refresh_command(url, pack, cwd / "cache"),
        cwd=cwd,
        env=kb_env(fake),
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- tests ---------------------------------------------------------------------------------


def start_refresh(
    fake: FakeEutils, url: str, pack: TopicPack, cwd: Path, *, until: Callable[[str], bool], what: str
) -> subprocess.Popen[str]:
    """Start ``kb refresh`` in the background and return once ``until(url)`` holds (within 30 s)."""
    proc = subprocess.Popen(
        refresh_command(url, pack, cwd / "cache"),
        cwd=cwd,
        env=kb_env(fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not until(url):
        assert time.monotonic() < deadline and proc.poll() is None, f"never saw that {what}"
        time.sleep(0.05)
    return proc


def test_killed_at_random_points_then_rerun_equals_a_clean_run(
    db_url: str, pack: TopicPack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fake = FakeEutils(latency=0.05)
    populate(fake, qa=260, qb=120, refs=150, citers=80)
    clean_url, killed_url = db_url, second_database(db_url, tmp_path, request)
    with fake:
        started = time.monotonic()
        clean = kb_refresh(fake, clean_url, pack, tmp_path)
        duration = time.monotonic() - started
        assert clean.returncode == EXIT_SUCCESS, clean.stderr
        assert "run 1: success" in clean.stdout

        rng = random.Random(7)
        kills = 0
        for attempt in range(6):
            launched = time.monotonic()
            proc = subprocess.Popen(
                refresh_command(killed_url, pack, tmp_path / "cache-killed"),
                cwd=tmp_path,
                env=kb_env(fake),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Kill at a random point of the run's work, which begins once it has recorded
            # itself. (A kill timed from the launch fell during Python's start-up whenever the
            # machine was busy: that kill tests nothing, and was not recorded as a failed run.)
            while _runs_recorded(killed_url) <= attempt and proc.poll() is None:
                assert time.monotonic() - launched < 60, "the run never recorded itself"
                time.sleep(0.02)
            remaining = duration - (time.monotonic() - launched)
            time.sleep(rng.uniform(0.0, max(0.2, remaining * 0.9)))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()  # reap it: a zombie's pid still looks alive to the lock
        final = kb_refresh(fake, killed_url, pack, tmp_path)
    assert final.returncode in (EXIT_SUCCESS, EXIT_NOTHING_NEW), final.stdout + final.stderr
    assert dump(killed_url) == dump(clean_url)
    assert kills >= 4, f"only {kills} of 6 runs were still going when the kill came (run took {duration:.1f} s)"
    check_no_duplicates(killed_url)
    assert sql(clean_url, "SELECT COUNT(*) FROM article")[0][0] == 260 + 120 + 150 + 80
    assert sql(clean_url, "SELECT COUNT(*) FROM finding")[0][0] > 500
    # Every killed run was closed as failed by the run after it; the last one succeeded.
    statuses = [s for (s,) in sql(killed_url, "SELECT status FROM refresh_run ORDER BY id")]
    assert statuses[-1] in ("success", "nothing_new") and "running" not in statuses
    assert statuses.count("failed") >= kills - 1
    assert sql(killed_url, "SELECT COUNT(*) FROM refresh_lock") == [(0,)]


def test_two_refreshes_at_once_one_runs_the_other_refuses(db_url: str, pack: TopicPack, tmp_path: Path) -> None:
    fake = FakeEutils(latency=0.3)
    populate(fake, qa=20, qb=10, refs=10, citers=5)
    with fake:
        first = start_refresh(fake, db_url, pack, tmp_path, until=_lock_taken, what="the first run took the lock")
        second = kb_refresh(fake, db_url, pack, tmp_path)
        out, errors = first.communicate(timeout=120)
    assert second.returncode == EXIT_REFUSED, second.stdout + second.stderr
    assert "another refresh is running" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.returncode == EXIT_SUCCESS, out + errors
    assert sql(db_url, "SELECT status FROM refresh_run") == [("success",)]  # a refused run is not recorded
    runs = subprocess.run(
        [str(KB), "runs", "--db", db_url], env=os.environ, capture_output=True, text=True, timeout=60, check=True
    )
    assert "success" in runs.stdout and "rt" in runs.stdout


def _lock_taken(url: str) -> bool:
    try:
        return bool(sql(url, "SELECT COUNT(*) FROM refresh_lock")[0][0])
    except Exception:  # the table does not exist until the first run has migrated the database
        return False


def _run_recorded(url: str) -> bool:
    try:
        return bool(sql(url, "SELECT COUNT(*) FROM refresh_run")[0][0])
    except Exception:  # the table does not exist until the first run has migrated the database
        return False


def _runs_recorded(url: str) -> int:
    try:
        return int(sql(url, "SELECT COUNT(*) FROM refresh_run")[0][0])
    except Exception:  # the table does not exist until the first run has created the schema
        return 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_is_taken_over_and_a_live_one_is_not(db_url: str, pack: TopicPack) -> None:
    store = Store.open(db_url)
    now = datetime.now(UTC)
    host = socket.gethostname()
    holders = {
        "dead process on this host": (host, _dead_pid(), now),
        "silent for an hour elsewhere": ("elsewhere", 1, now - timedelta(hours=1)),
    }
    for label, (where, pid, beat) in holders.items():
        with store.session() as session:
            session.add(
                RefreshLock(
                    name="refresh", owner=label, topic_id="rt", host=where, pid=pid, acquired_at=beat, heartbeat_at=beat
                )
            )
        lock = acquire(store.engine, "rt")
        assert lock.took_over is not None and lock.took_over.owner == label
        holder = read_lock(store.engine)
        assert holder is not None and holder.owner == lock.owner and holder.pid == os.getpid()
        # While it is held, nobody else gets it, and a heartbeat keeps it fresh.
        with pytest.raises(LockHeld, match="another refresh is running"):
            acquire(store.engine, "rt")
        lock.heartbeat()
        lock.release()
        assert read_lock(store.engine) is None
    # A live holder elsewhere with a fresh heartbeat is respected.
    with store.session() as session:
        session.add(
            RefreshLock(
                name="refresh", owner="x", topic_id="rt", host="elsewhere", pid=1, acquired_at=now, heartbeat_at=now
            )
        )
    with pytest.raises(LockHeld):
        acquire(store.engine, "rt")
    # The holder that was taken over notices at its next heartbeat.
    with store.session() as session:
        session.execute(text("DELETE FROM refresh_lock"))
    old = acquire(store.engine, "rt", heartbeat_every=3600)
    with store.session() as session:
        session.execute(text("UPDATE refresh_lock SET heartbeat_at = :t"), {"t": now - timedelta(hours=1)})
    new = acquire(store.engine, "rt", stale_after=timedelta(minutes=10))
    with pytest.raises(Exception, match="taken over"):
        old.heartbeat()
    assert old.lost
    old.release()  # releases nothing: the row is the new holder's
    assert read_lock(store.engine) is not None
    new.release()
    store.close()


def test_faults_leave_the_window_open_and_the_next_run_completes_it(
    db_url: str, pack: TopicPack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fake = FakeEutils()
    results = populate(fake, qa=30, qb=20, refs=20, citers=10)
    clean_url = second_database(db_url, tmp_path, request)
    with fake:
        assert run(fake, db_url, pack).status == "success"
        assert run(fake, clean_url, pack).status == "success"
        # New papers enter both queries, and an old result is revised (a new abstract).
        new = {"qa": ["41000001", "41000002"], "qb": ["41200001"]}
        for name, pmids in new.items():
            for pmid in pmids:
                fake.add_record(pmid, refs=["40500001"], edat=RECENT, abstract=_abstract(int(pmid)))
            fake.set_search(f"{name}[tiab]", results[name] + pmids)
        fake.add_record("40000003", edat="2013/04/15", mdat=RECENT, abstract=_abstract(7), refs=["40500002"])

        # A 429 with Retry-After on qa's search, which the client absorbs; then qa's EFetch
        # fails three times in a row (truncated, HTML page, 503; max_tries=3), so its window
        # cannot finish; qb's EFetch gets an in-band <ERROR> and a truncated body, then works.
        fake.inject("esearch", Fault.too_many(retry_after=0.05))
        fake.inject("efetch", Fault.truncated(), Fault.html_200(), Fault.server_error(503))
        fake.inject("efetch", Fault.error_200("Temporary backend failure"), Fault.truncated())
        before = dict(sql(db_url, "SELECT query || '/' || datetype, watermark FROM refresh_watermark"))
        first = run(fake, db_url, pack)
        assert first.status == "partial" and first.exit_code == EXIT_PARTIAL
        by_query = {w.query: w for w in first.windows}
        assert by_query["qa"].status == "failed" and "failed after 3 attempts" in (by_query["qa"].message or "")
        assert by_query["qb"].status == "success"
        after = dict(sql(db_url, "SELECT query || '/' || datetype, watermark FROM refresh_watermark"))
        assert after["qa/edat"] == before["qa/edat"] and after["qa/mdat"] == before["qa/mdat"]
        recorded = sql(db_url, "SELECT status, windows, message FROM refresh_run ORDER BY id DESC")[0]
        assert recorded[0] == "partial" and "watermarks were kept" in recorded[2]
        assert {w["query"]: w["status"] for w in json.loads(recorded[1])} == {"qa": "failed", "qb": "success"}
        assert fake.pending_faults() == []

        second = run(fake, db_url, pack)
        assert second.status == "success", second.lines()
        assert run(fake, clean_url, pack).status == "success"
    assert dump(db_url) == dump(clean_url)
    check_no_duplicates(db_url)
    assert fake.errors == []


def test_search_results_efetch_never_returns_are_retried_once_then_accepted(db_url: str, pack: TopicPack) -> None:
    fake = FakeEutils()
    results = populate(fake, qa=10, qb=5, refs=5, citers=0)
    gone = ["49999998", "49999999"]
    for pmid in gone:
        fake.add_record(pmid, edat="2015/01/01")
    fake.set_search("qa[tiab]", [*results["qa"], *gone])
    with fake:
        # ESearch finds them, EFetch leaves them out (as for records PubMed deleted meanwhile),
        # on the first try and on the client's second pass.
        fake.inject("efetch", Fault.missing_ids(*gone), Fault.missing_ids(*gone))
        first = run(fake, db_url, pack)
        assert first.status == "partial"
        qa = next(w for w in first.windows if w.query == "qa")
        assert qa.status == "failed" and "49999998" in (qa.message or "")
        assert ("qa", "edat") not in _marks(db_url)
        assert set(sql(db_url, "SELECT id, reason FROM missing_record")) == {
            ("pubmed:49999998", "not_returned"),
            ("pubmed:49999999", "not_returned"),
        }
        # Still not returned the next time: accepted as gone, and the window completes.
        fake.inject("efetch", Fault.missing_ids(*gone), Fault.missing_ids(*gone))
        second = run(fake, db_url, pack)
        assert second.status == "nothing_new", second.lines()  # the redone window brought nothing else
        assert all(w.status == "success" for w in second.windows)
        assert _marks(db_url)[("qa", "edat")] == today()
        assert len(sql(db_url, "SELECT id FROM missing_record")) == 2


def _marks(url: str) -> dict[tuple[str, str], date]:
    store = Store.open(url, upgrade=False)
    marks = store.get_watermarks("rt")
    store.close()
    return marks


def test_nothing_new_costs_one_search_per_saved_query_and_changes_nothing(
    db_url: str, pack: TopicPack, tmp_path: Path
) -> None:
    fake = FakeEutils()
    populate(fake, qa=15, qb=10, refs=8, citers=4)
    with fake:
        assert run(fake, db_url, pack).status == "success"
        before = dump(db_url)
        state = sql(db_url, "SELECT revision, summary_revision FROM kb_state")
        fake.requests.clear()
        report = run(fake, db_url, pack)
        endpoints = [r.endpoint for r in fake.requests]
        searches = [r.params["term"][0] for r in fake.requests]
        cli = kb_refresh(fake, db_url, pack, tmp_path)
    assert report.status == "nothing_new" and report.exit_code == EXIT_NOTHING_NEW
    assert endpoints == ["esearch", "esearch"]
    assert searches == [
        f"(qa[tiab]) AND ({today() - timedelta(days=3):%Y/%m/%d}:{today():%Y/%m/%d}[edat] OR "
        f"{today() - timedelta(days=3):%Y/%m/%d}:{today():%Y/%m/%d}[mdat])",
        f"(qb[tiab]) AND ({today() - timedelta(days=3):%Y/%m/%d}:{today():%Y/%m/%d}[edat] OR "
        f"{today() - timedelta(days=3):%Y/%m/%d}:{today():%Y/%m/%d}[mdat])",
    ]
    assert report.requests == 2
    assert cli.returncode == EXIT_NOTHING_NEW, cli.stdout + cli.stderr
    assert "nothing_new" in cli.stdout
    assert dump(db_url) == before
    # The refresh left the evidence summary current, and runs that change nothing keep it so.
    assert state[0][0] > 0 and state[0][0] == state[0][1]
    assert sql(db_url, "SELECT revision, summary_revision FROM kb_state") == state
    assert [r[0] for r in sql(db_url, "SELECT status FROM refresh_run ORDER BY id")] == [
        "success",
        "nothing_new",
        "nothing_new",
    ]


def test_a_record_revised_to_retracted_is_flagged_with_its_findings(db_url: str, pack: TopicPack) -> None:
    fake = FakeEutils()
    populate(fake, qa=6, qb=3, refs=3, citers=0)
    target = "40000004"
    with fake:
        assert run(fake, db_url, pack).status == "success"
        spec = fake.records[target]
        fake.add_record(
            target, refs=list(spec.refs), edat=spec.edat, mdat=RECENT, abstract=spec.abstract, retracted=True
        )
        report = run(fake, db_url, pack)
    assert report.status == "success" and report.articles_retracted == 1 and report.articles.updated == 1
    assert sql(db_url, f"SELECT retracted FROM article WHERE id = 'pubmed:{target}'") == [(True,)]
    frame = queries.findings(db=db_url)
    flagged = frame[frame["article_id"] == f"pubmed:{target}"]
    assert len(flagged) >= 1 and flagged["retracted"].all()
    assert not frame[frame["article_id"] != f"pubmed:{target}"]["retracted"].any()
    assert sql(db_url, "SELECT articles_retracted FROM refresh_run ORDER BY id DESC")[0] == (1,)
    assert flagged["notices"].map(lambda n: n == [f"RetractionIn pubmed:{int(target) + 50_000_000}"]).all()


def test_a_record_revised_with_an_erratum_lists_the_notice_on_its_findings(db_url: str, pack: TopicPack) -> None:
    fake = FakeEutils()
    populate(fake, qa=6, qb=3, refs=3, citers=0)
    target = "40000004"
    with fake:
        assert run(fake, db_url, pack).status == "success"
        counted = queries.treatments_for("calcinosis", db=db_url)["findings"].sum()
        spec = fake.records[target]
        fake.add_record(
            target, refs=list(spec.refs), edat=spec.edat, mdat=RECENT, abstract=spec.abstract, erratum="49999999"
        )
        report = run(fake, db_url, pack)
    assert report.status == "success" and report.articles.updated == 1 and report.articles_retracted == 0
    frame = queries.findings(db=db_url)
    noted = frame[frame["article_id"] == f"pubmed:{target}"]
    assert len(noted) >= 1 and noted["notices"].map(lambda n: n == ["ErratumIn pubmed:49999999"]).all()
    assert not noted["retracted"].any()
    assert frame[frame["article_id"] != f"pubmed:{target}"]["notices"].map(len).eq(0).all()
    # An erratum corrects, it does not withdraw: the findings are still counted.
    assert queries.treatments_for("calcinosis", db=db_url)["findings"].sum() == counted


def test_cited_by_links_are_rechecked_on_their_own_cadence(db_url: str, pack: TopicPack) -> None:
    fake = FakeEutils()
    populate(fake, qa=6, qb=3, refs=3, citers=2)
    with fake:
        run(fake, db_url, pack)
        # A paper entered long ago starts citing a query result: only ELink can tell.
        fake.add_record("45000001", refs=["40000001"], edat="2015/01/01", abstract=_abstract(3))
        assert run(fake, db_url, pack).status == "nothing_new"  # the check is not due yet
        fake.requests.clear()
        report = run(fake, db_url, pack, citedin_every_days=0)
    assert report.status == "success" and report.articles.added == 1
    recheck = next(w for w in report.windows if w.datetype == "citedin")
    assert recheck.status == "success" and recheck.fetched == 1
    assert [r.endpoint for r in fake.requests].count("efetch") == 1  # only the new citer is fetched
    assert ("pubmed:45000001", "pubmed:40000001", "pubmed_pubmed_citedin") in set(
        sql(db_url, "SELECT citing_id, cited_id, source FROM citation")
    )
    assert _marks(db_url)[("", "citedin")] == today()


def test_refresh_help_documents_the_exit_codes(tmp_path: Path) -> None:
    out = subprocess.run([str(KB), "refresh", "--help"], capture_output=True, text=True, timeout=60, check=True)
    flat = " ".join(out.stdout.split())
    for phrase in ("0 success", "10 nothing new", "11 partial", "12 refused", "1 failed", "KB_EUTILS_URL"):
        assert phrase in flat
    bad = subprocess.run(
        [str(KB), "refresh", "--topic", str(tmp_path / "nope"), "--db", f"sqlite:///{tmp_path}/kb.sqlite"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NCBI_EMAIL": "me@example.org"},
    )
    assert bad.returncode == 1 and "no topic pack" in bad.stderr


def test_the_api_key_is_read_from_the_environment_only(tmp_path: Path) -> None:
    """A flag would put the key into shell history and ``ps``: there is none."""
    out = subprocess.run([str(KB), "refresh", "--help"], capture_output=True, text=True, timeout=60, check=True)
    flat = " ".join(out.stdout.split())
    assert "--api-key" not in flat and "NCBI_API_KEY" in flat and "environment only" in flat
    given = subprocess.run(
        [str(KB), "refresh", "--api-key", "SECRET", "--db", f"sqlite:///{tmp_path}/kb.sqlite"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert given.returncode == 2 and "No such option" in given.stderr


def test_sigterm_records_the_run_as_failed_and_releases_the_lock(tmp_path: Path, pack: TopicPack) -> None:
    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    fake = FakeEutils(latency=0.3)
    populate(fake, qa=20, qb=10, refs=10, citers=5)
    with fake:
        proc = start_refresh(fake, url, pack, tmp_path, until=_run_recorded, what="the run started")
        proc.send_signal(signal.SIGTERM)
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "terminated by signal" in errors, errors
    assert sql(url, "SELECT COUNT(*) FROM refresh_lock") == [(0,)], errors
    [(status, message)] = sql(url, "SELECT status, message FROM refresh_run")
    assert status == "failed" and "terminated by signal 15" in message


def test_the_site_changelog_shows_each_run_and_what_it_added(db_url: str, pack: TopicPack) -> None:
    from queries.render import render_pages

    fake = FakeEutils()
    found = populate(fake, qa=6, qb=3, refs=3, citers=0)
    with fake:
        first = run(fake, db_url, pack)
        fake.add_record("40000999", edat=RECENT, title="A late paper on calcinosis and diltiazem")
        fake.set_search("qa[tiab]", [*found["qa"], "40000999"])
        # Start just after a second begins, so the run stores its article within the second it
        # started in: an article's time must not be rounded to before its run began (it was,
        # which made this test fail whenever the run happened to straddle no second boundary).
        time.sleep(1.02 - time.time() % 1)
        second = run(fake, db_url, pack)
    assert (first.status, second.status) == ("success", "success")
    assert second.articles.added == 1
    pages = render_pages(REPO / "site" / "templates", db=db_url)
    page = pages["changelog.md"]
    table = [line for line in page.splitlines() if line.startswith("| ") and "success" in line]
    assert len(table) == 2, page
    assert table[0].split("|")[4].strip() == "1"  # newest first: the second run added one article
    late = "A late paper on calcinosis and diltiazem](articles/pubmed-40000999.md)"
    sections = page.split("\n## ")[1:]  # one per run with articles, newest first
    assert late in sections[0] and all(late not in s for s in sections[1:]), page
    assert late.removesuffix("articles/pubmed-40000999.md)") in pages["index.md"]  # new since the last refresh


def test_a_retry_after_beyond_the_cap_ends_the_run_partial_without_sleeping(
    db_url: str, pack: TopicPack, tmp_path: Path
) -> None:
    """One 429 asking for a day's pause: the client waits at most 60 s, so the run stops
    instead, ends partial (11), records why and releases the lock; nothing is sent meanwhile."""
    fake = FakeEutils()
    populate(fake, qa=4, qb=2, refs=2, citers=1)
    fake.inject("esearch", Fault.too_many(retry_after=86400))
    with fake:
        started = time.monotonic()
        try:
            result = subprocess.run(
                refresh_command(db_url, pack, tmp_path / "cache"),
                cwd=tmp_path,
                env=kb_env(fake),
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("kb refresh slept on a Retry-After of 86400 s")
        elapsed = time.monotonic() - started
    assert result.returncode == EXIT_PARTIAL, result.stdout + result.stderr
    assert elapsed < 30
    assert "Retry-After 86400 s, longer than the 60 s this client waits" in result.stdout
    assert len(fake.requests) == 1  # the other query's search was not sent while NCBI asked for quiet
    assert not _lock_taken(db_url)
    [(status, message)] = sql(db_url, "SELECT status, message FROM refresh_run")
    assert status == "partial" and "2 of 2 windows incomplete" in message
