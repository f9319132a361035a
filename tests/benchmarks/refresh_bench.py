"""Refresh benchmark: ``refresh_topic`` against the fake E-utilities server (50 ms latency),
on a SQLite file, with a two-query topic following references and citing papers one level.

- a no-op refresh (nothing new): requests made ÷ the minimum (one ESearch per saved query),
  and seconds;
- a refresh adding 1,000 new articles (each citing two of 200 stored papers), without an
  API key (3 requests/s) and with one (10/s): requests made ÷ the minimum (1 ESearch per
  query + EFetch and ELink batches for the new articles only), and seconds ÷ the rate-limit
  bound (requests ÷ allowed rate): how much time goes to anything but waiting for NCBI.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for fake_eutils

NEW = 1000
STORED = 200
LATENCY = 0.05
TOPIC = """id: bench
title: Refresh benchmark
question: What treats calcinosis?
description: Synthetic.
condition: calcinosis
queries:
  - name: qa
    term: qa[tiab]
    since: "2000"
  - name: qb
    term: qb[tiab]
    since: "2000"
expansion:
  refs_depth: 1
  cited_by_depth: 1
"""
ABSTRACT = (
    "We treated {n} patients with systemic sclerosis and calcinosis with diltiazem. "
    "Calcinosis improved in {r} of {n} patients treated with diltiazem."
)


def _pack(root: Path):  # type: ignore[no-untyped-def]
    from kb.topic import load_topic

    folder = root / "pack"
    folder.mkdir()
    shutil.copy(HERE.parent / "fixtures" / "minitopic" / "vocabulary.yaml", folder / "vocabulary.yaml")
    (folder / "topic.yaml").write_text(TOPIC)
    return load_topic(folder)


def _abstract(pmid: int) -> str:
    n = 5 + pmid % 30
    return ABSTRACT.format(n=n, r=pmid % n)


def _refresh(fake, url: str, pack, api_key: str | None):  # type: ignore[no-untyped-def]
    from ingest.entrez import EntrezClient, EntrezConfig
    from ingest.refresh import refresh_topic
    from kb.store import Store

    store = Store.open(url)
    client = EntrezClient(EntrezConfig(email="bench@example.org", api_key=api_key, base_url=fake.base_url))
    start = time.perf_counter()
    report = refresh_topic(client, store, pack)
    elapsed = time.perf_counter() - start
    store.close()
    return report, elapsed, client.config


def bench_refresh() -> list:  # type: ignore[type-arg]
    from run import Result

    from fake_eutils import FakeEutils

    results = []
    recent = f"{datetime.now(UTC).date() - timedelta(days=1):%Y/%m/%d}"
    for label, api_key in (("no key, 3/s", None), ("API key, 10/s", "bench-key")):
        with tempfile.TemporaryDirectory() as tmp, FakeEutils(latency=LATENCY) as fake:
            pack = _pack(Path(tmp))
            url = f"sqlite:///{tmp}/kb.sqlite"
            stored = [str(36_000_000 + i) for i in range(STORED)]
            for i, pmid in enumerate(stored):
                fake.add_record(pmid, edat=f"2015/{1 + i % 12:02d}/10", abstract=_abstract(int(pmid)))
            fake.set_search("qa[tiab]", stored[: STORED // 2])
            fake.set_search("qb[tiab]", stored[STORED // 2 :])
            first, _, _ = _refresh(fake, url, pack, api_key)
            assert first.status == "success", first.lines()

            fake.requests.clear()
            noop, noop_seconds, config = _refresh(fake, url, pack, api_key)
            assert noop.status == "nothing_new", noop.lines()
            results.append(Result("refresh", f"no-op requests ({label})", noop.requests, "1 per saved query", 2, ""))
            bound = noop.requests / config.allowed_rate
            results.append(Result("refresh", f"no-op seconds ({label})", noop_seconds, "rate-limit bound", bound))

            new = {
                "qa": [str(37_000_000 + i) for i in range(NEW // 2)],
                "qb": [str(37_500_000 + i) for i in range(NEW // 2)],
            }
            for name, pmids in new.items():
                for i, pmid in enumerate(pmids):
                    cites = [stored[(i * 7) % STORED], stored[(i * 13 + 1) % STORED]]
                    fake.add_record(pmid, refs=cites, edat=recent, abstract=_abstract(int(pmid)))
                fake.set_search(
                    f"{name}[tiab]", (stored[: STORED // 2] if name == "qa" else stored[STORED // 2 :]) + pmids
                )
            fake.requests.clear()
            added, seconds, config = _refresh(fake, url, pack, api_key)
            assert added.articles.added == NEW, added.lines()
            per_query = NEW // 2
            minimum = 2 * (
                1 + math.ceil(per_query / config.efetch_batch) + 2 * math.ceil(per_query / config.elink_batch)
            )
            results.append(
                Result("refresh", f"+{NEW} requests ({label})", added.requests, "minimum (new only)", minimum, "")
            )
            bound = added.requests / config.allowed_rate
            results.append(Result("refresh", f"+{NEW} seconds ({label})", seconds, "rate-limit bound", bound))
            by_endpoint = ", ".join(f"{k} {v}" for k, v in sorted(_endpoints(fake).items()))
            print(
                f"  refresh ({label}): +{NEW} articles, {added.findings.added} findings in {seconds:.1f} s; "
                f"requests {by_endpoint}",
                file=sys.stderr,
            )
    return results


def _endpoints(fake) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    for request in fake.requests:
        counts[request.endpoint] = counts.get(request.endpoint, 0) + 1
    return counts
