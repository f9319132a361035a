"""Benchmarks: each measures something and a named baseline in the same run, and prints
the ratio. Timings are medians of repeated runs; nothing here asserts a speed (machines are
shared and noisy), the ratios are for people to read.

Run with ``make bench`` (or ``python tests/benchmarks/run.py [NAME ...]``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Result:
    benchmark: str
    measured: str
    value: float
    baseline: str
    baseline_value: float
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_store_build() -> list[Result]:
    """Loading the bundled topic into a fresh SQLite KB, against re-loading it unchanged."""
    from ingest.pipeline import build_topic
    from kb.store import Store
    from kb.topic import load_topic

    pack = load_topic("calcinosis")
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1000))

        def cold() -> None:
            store = Store.open(f"sqlite:///{tmp}/cold{next(counter)}.sqlite")
            build_topic(store, pack)
            store.close()

        warm_store = Store.open(f"sqlite:///{tmp}/warm.sqlite")
        build_topic(warm_store, pack)
        cold_time = median_time(cold)
        warm_time = median_time(lambda: build_topic(warm_store, pack))
        warm_store.close()
    return [
        Result("store", "rebuild of an unchanged KB (no-op upserts)", warm_time, "first build (fresh DB)", cold_time)
    ]


def bench_site_build() -> list[Result]:
    """Site build times (bundled topic, 5,000 articles) and the render and MkDocs shares (see site_bench.py)."""
    import site_bench

    return site_bench.bench_site()  # type: ignore[no-any-return]


def bench_parse() -> list[Result]:
    """PubMed XML parsing throughput and memory (see parse_bench.py)."""
    import parse_bench

    return parse_bench.bench_parse()  # type: ignore[no-any-return]


def bench_fetch() -> list[Result]:
    """Entrez client request counts and rate against the fake server (see fetch_bench.py)."""
    import fetch_bench

    return fetch_bench.bench_fetch()  # type: ignore[no-any-return]


def bench_extract() -> list[Result]:
    """Extraction throughput on the development corpus (see extract_bench.py)."""
    import extract_bench

    return extract_bench.bench_extract()  # type: ignore[no-any-return]


def bench_query() -> list[Result]:
    """Query latency on a 300,000-finding synthetic KB, graph build time and memory (see query_bench.py)."""
    import query_bench

    return query_bench.bench_query()  # type: ignore[no-any-return]


def bench_refresh() -> list[Result]:
    """``kb refresh``: a no-op run and one adding 1,000 articles, against the fake server (see refresh_bench.py)."""
    import refresh_bench

    return refresh_bench.bench_refresh()  # type: ignore[no-any-return]


def bench_ingest() -> list[Result]:
    """``kb ingest`` of four 10,000-record bulk files against a bare lxml pass (see ingest_bench.py)."""
    import ingest_bench

    return ingest_bench.bench_ingest()  # type: ignore[no-any-return]


BENCHMARKS: dict[str, Callable[[], list[Result]]] = {
    "store": bench_store_build,
    "site": bench_site_build,
    "parse": bench_parse,
    "fetch": bench_fetch,
    "extract": bench_extract,
    "query": bench_query,
    "refresh": bench_refresh,
    "ingest": bench_ingest,
}


def main(names: list[str]) -> int:
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    chosen = names or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    print(f"{'benchmark':<10} {'measured':<45} {'value':>15} {'baseline':<32} {'value':>15} {'ratio':>7}")
    for name in chosen:
        for r in BENCHMARKS[name]():
            print(
                f"{r.benchmark:<10} {r.measured:<45} {r.value:>10.3f}{r.unit:<5} {r.baseline:<32} "
                f"{r.baseline_value:>10.3f}{r.unit:<5} {r.ratio:>7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
