"""The Entrez client against a real HTTP server on 127.0.0.1 standing in for NCBI, through the
real ``Bio.Entrez`` request path. Faults are injected per endpoint; every test checks that
each record arrives exactly once and nothing is lost."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from Bio import Entrez

from fake_eutils import FakeEutils, Fault
from ingest.cache import RawCache
from ingest.entrez import EUTILS_URL, EntrezClient, EntrezConfig
from ingest.errors import FetchError

PMIDS = [str(p) for p in range(31000001, 31000031)]


@pytest.fixture
def server() -> FakeEutils:
    fake = FakeEutils()
    for n, pmid in enumerate(PMIDS):
        refs = [PMIDS[n - 1]] if n else []
        fake.add_record(pmid, title=f"Synthetic article {n}", refs=refs, edat=f"2021/{1 + n % 12:02d}/15")
    fake.set_search("calcinosis", PMIDS)
    with fake:
        yield fake


def client(server: FakeEutils, tmp_path: Path, **overrides: object) -> EntrezClient:
    settings: dict[str, object] = {
        "email": "tests@example.org",
        "base_url": server.base_url,
        "rate": 50,
        "backoff": 0.01,
        "backoff_cap": 0.05,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return EntrezClient(EntrezConfig(**settings), RawCache(tmp_path / "cache"))  # type: ignore[arg-type]


def test_requests_go_through_bio_entrez_urlopen(
    server: FakeEutils, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NCBI's own base URL, patching Bio.Entrez.urlopen is enough to redirect every request."""
    seen: list[str] = []

    def to_fake(request: urllib.request.Request, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(request.full_url)
        request.full_url = request.full_url.replace(EUTILS_URL, server.base_url)
        return urllib.request.urlopen(request, *args, **kwargs)

    monkeypatch.setattr(Entrez, "urlopen", to_fake)
    result = client(server, tmp_path, base_url=EUTILS_URL).fetch(PMIDS[:3])
    assert [a.pmid for a in result.articles] == PMIDS[:3]
    assert seen and all(url.startswith(EUTILS_URL) for url in seen)


def test_fetch_posts_batches_and_returns_each_record_once(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, efetch_batch=7)
    result = c.fetch(reversed(PMIDS + PMIDS[:5]))
    assert [a.pmid for a in result.articles] == PMIDS
    assert result.missing == ()
    efetches = [r for r in server.requests if r.endpoint == "efetch"]
    assert len(efetches) == 5  # ceil(30 / 7)
    assert {r.method for r in efetches} == {"POST"}


@pytest.mark.parametrize(
    "fault",
    [
        Fault.too_many(retry_after=0.2),
        Fault.too_many(retry_after=None),
        Fault.server_error(500),
        Fault.server_error(502),
        Fault.html_200(),
        Fault.error_200("Unable to obtain query #1"),
        Fault.truncated(),
        Fault.truncated(honest_length=True),
        Fault.reset(),
        Fault.slow(2.0),
    ],
    ids=lambda f: f"{f.kind}-{f.retry_after}-{f.status}",
)
def test_efetch_recovers_from_each_fault(server: FakeEutils, tmp_path: Path, fault: Fault) -> None:
    c = client(server, tmp_path, efetch_batch=10, timeout=1.0, concurrency=1)
    server.inject("efetch", fault)
    result = c.fetch(PMIDS)
    assert [a.pmid for a in result.articles] == PMIDS
    assert c.stats.retries == 1
    assert c.stats.by_endpoint["efetch"] == 4
    cached = list(RawCache(tmp_path / "cache").entries("efetch"))
    assert len(cached) == 3, "only the checked bodies are replayable results"


def test_retry_after_is_honoured_before_the_next_attempt(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, efetch_batch=30)
    server.inject("efetch", Fault.too_many(retry_after=0.6))
    c.fetch(PMIDS)
    first, second = [r.time for r in server.requests if r.endpoint == "efetch"]
    assert second - first >= 0.55


def test_a_permanent_error_fails_fast_with_the_message(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path)
    server.inject("efetch", Fault.error_200("Invalid db name specified: pubmd"))
    with pytest.raises(FetchError, match="Invalid db name"):
        c.fetch(PMIDS[:2])
    assert c.stats.by_endpoint["efetch"] == 1


def test_persistent_failure_gives_up_with_advice(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, max_tries=3)
    server.inject("efetch", *[Fault.server_error(503)] * 3)
    with pytest.raises(FetchError, match=r"failed after 3 attempts.*run again later"):
        c.fetch(PMIDS[:2])


def test_missing_ids_are_asked_once_more_then_reported(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, efetch_batch=40)
    server.inject("efetch", Fault.missing_ids(PMIDS[3], PMIDS[4]))
    result = c.fetch([*PMIDS, "39999999"])
    assert [a.pmid for a in result.articles] == PMIDS  # the dropped pair came back on the second ask
    assert result.missing == ("39999999",)
    assert c.stats.by_endpoint["efetch"] == 2


def test_oversized_batches_are_split(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, efetch_batch=30)
    server.inject("efetch", Fault.respond(414))
    result = c.fetch(PMIDS)
    assert [a.pmid for a in result.articles] == PMIDS
    sizes = sorted(len(r.params["id"][0].split(",")) for r in server.requests if r.endpoint == "efetch")
    assert sizes == [15, 15, 30]


def test_links_keep_their_source_paper(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, elink_batch=4)
    refs = c.links(PMIDS[:6], "pubmed_pubmed_refs")
    assert refs.links[PMIDS[0]] == ()
    assert refs.links[PMIDS[5]] == (PMIDS[4],)
    cited = c.links(PMIDS[:6], "pubmed_pubmed_citedin")
    assert cited.links[PMIDS[0]] == (PMIDS[1],)
    elinks = [r for r in server.requests if r.endpoint == "elink"]
    assert all(len(r.params["id"]) > 1 or "," not in r.params["id"][0] for r in elinks), "one set per id"


def test_search_splits_windows_at_the_paging_cap(tmp_path: Path) -> None:
    fake = FakeEutils()
    ids = [str(40000000 + n) for n in range(10500)]
    for n, pmid in enumerate(ids):
        fake.add_record(pmid, edat=f"2020/{1 + n % 12:02d}/{1 + n % 28:02d}")
    fake.set_search("big", ids)
    with fake:
        c = client(fake, tmp_path, rate=200)
        result = c.search("big", mindate=date(2020, 1, 1), maxdate=date(2020, 12, 31))
    assert sorted(result.pmids) == ids
    assert len(result.windows) >= 2
    assert sum(n for _, _, n in result.windows) == 10500


def test_the_server_never_sees_more_than_the_rate(tmp_path: Path) -> None:
    fake = FakeEutils(rate_limit=3)
    for pmid in PMIDS[:12]:
        fake.add_record(pmid)
    with fake:
        c = client(fake, tmp_path, rate=None, efetch_batch=1, concurrency=3)
        result = c.fetch(PMIDS[:12])
        assert len(result.articles) == 12
        assert fake.max_requests_in_any_window(1.0) <= 3
        assert all(r.status != 429 for r in fake.requests)


def test_offline_replays_the_cache_and_says_what_is_missing(server: FakeEutils, tmp_path: Path) -> None:
    online = client(server, tmp_path)
    first = online.fetch(PMIDS[:5])
    config = EntrezConfig(email=None, base_url="http://127.0.0.1:9/nowhere")
    offline = EntrezClient(config, RawCache(tmp_path / "cache"), offline=True)
    assert offline.fetch(PMIDS[:5]) == first
    assert offline.stats.requests == 0
    with pytest.raises(FetchError, match=r"not in the raw cache.*without --offline"):
        offline.fetch(PMIDS[5:7])


def test_an_email_is_required_online() -> None:
    with pytest.raises(FetchError, match="NCBI_EMAIL"):
        EntrezClient(EntrezConfig(email=None))


def test_the_api_key_is_never_cached_or_shown(server: FakeEutils, tmp_path: Path) -> None:
    c = client(server, tmp_path, api_key="SECRET-KEY-123", max_tries=2)
    c.fetch(PMIDS[:3])
    server.inject("efetch", Fault.server_error(500), Fault.server_error(500))
    with pytest.raises(FetchError) as info:
        c.fetch(PMIDS[3:5])
    assert "SECRET-KEY-123" not in str(info.value)
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert b"SECRET-KEY-123" not in path.read_bytes()


@contextlib.contextmanager
def cpu_load(processes: int = 3) -> Iterator[None]:
    """Busy processes competing for the CPU (the machine's other jobs, at their worst)."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("api_key", "limit", "requests"), [(None, 3, 18), ("test-key", 10, 60)])
def test_no_sliding_second_holds_more_than_the_limit_under_cpu_load(
    tmp_path: Path, api_key: str | None, limit: int, requests: int
) -> None:
    """The server refuses (429) any request arriving when ``limit`` others arrived in the
    second before it, as NCBI counts; the client must never be refused, with the CPU busy."""
    fake = FakeEutils(rate_limit=limit, latency=0.05)
    pmids = [str(33000000 + n) for n in range(requests)]
    for pmid in pmids:
        fake.add_record(pmid)
    with fake, cpu_load():
        c = client(fake, tmp_path, rate=None, api_key=api_key, efetch_batch=1, concurrency=3, max_tries=1)
        result = c.fetch(pmids)
    assert len(result.articles) == requests
    assert [r for r in fake.requests if r.rejected] == []
    assert fake.max_requests_in_any_window(1.0) <= limit
