"""Fetch benchmark: the Entrez client against the fake E-utilities server with 200 ms latency.

Two ratios per rate limit (3 requests/s without an API key, 10 with one):

- requests made ÷ the minimum for the batch sizes (1 search + ceil(n/efetch batch) fetches
  + ceil(n/elink batch) link requests); target ≤ 1.1;
- sustained request rate seen by the server ÷ the allowed rate; target ≥ 0.9 and never
  above 1.0 in any sliding second.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for fake_eutils

RECORDS = 2000
LATENCY = 0.2


def _server():  # type: ignore[no-untyped-def]  # returns (FakeEutils, ids)
    from fake_eutils import FakeEutils

    fake = FakeEutils(latency=LATENCY)
    ids = [str(32000000 + n) for n in range(RECORDS)]
    for n, pmid in enumerate(ids):
        fake.add_record(pmid, refs=[ids[n - 1]] if n else [], edat=f"2022/{1 + n % 12:02d}/10")
    fake.set_search("bench", ids)
    return fake, ids


def bench_fetch() -> list:  # type: ignore[type-arg]
    from run import Result

    from ingest.cache import RawCache
    from ingest.entrez import EntrezClient, EntrezConfig

    results = []
    for label, api_key in (("no key, 3/s", None), ("API key, 10/s", "bench-key")):
        fake, _ = _server()
        with fake, tempfile.TemporaryDirectory() as tmp:
            config = EntrezConfig(email="bench@example.org", api_key=api_key, base_url=fake.base_url)
            client = EntrezClient(config, RawCache(Path(tmp)))
            start = time.perf_counter()
            found = client.search("bench")
            fetched = client.fetch(found.pmids)
            links = client.links(found.pmids, "pubmed_pubmed_refs")
            elapsed = time.perf_counter() - start
            assert len(fetched.articles) == RECORDS and len(links.links) == RECORDS
            minimum = 1 + math.ceil(RECORDS / config.efetch_batch) + math.ceil(RECORDS / config.elink_batch)
            times = sorted(r.time for r in fake.requests)
            sustained = (len(times) - 1) / (times[-1] - times[0])
            peak = fake.max_requests_in_any_window(1.0)
            allowed = config.allowed_rate
        results.append(
            Result("fetch", f"requests made ({label})", len(times), "minimum for the batch sizes", minimum, "")
        )
        results.append(Result("fetch", f"sustained req/s ({label})", sustained, "allowed rate", allowed, "/s"))
        results.append(Result("fetch", f"peak req in any 1 s ({label})", peak, "allowed rate", allowed, ""))
        print(f"  fetch ({label}): {RECORDS} records + links in {elapsed:.1f} s", file=sys.stderr)
    return results
