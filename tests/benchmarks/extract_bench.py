"""Extraction throughput: abstracts per second on one core, on the development corpus
replicated, against the issue's target of 1,000 abstracts per second per core.

The corpus is read from ``../shared/corpus``; without it the benchmark reports nothing.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from run import REPO, Result

CORPUS = REPO.parent / "shared" / "corpus" / "calcinosis_dev.jsonl"
TARGET = 1000.0  # abstracts per second per core
REPLICATE = 30


def bench_extract() -> list[Result]:
    from ingest.extraction.corpus import read_jsonl
    from ingest.extraction.lexicon import Lexicon
    from ingest.extractors import get
    from kb.topic import load_topic

    if not CORPUS.exists():
        print(f"extract: skipped, {CORPUS} is not available")
        return []
    pack = load_topic("calcinosis")
    lexicon = Lexicon(pack.vocabulary)  # compiled once per run, as the pipeline does
    extractor = get("rules")
    articles = [item.article for item in read_jsonl(Path(CORPUS))] * REPLICATE
    rates = []
    for _ in range(5):  # one process, one core: the median of five passes
        start = time.perf_counter()
        for article in articles:
            extractor(article, lexicon)
        rates.append(len(articles) / (time.perf_counter() - start))
    rate = statistics.median(rates)
    return [
        Result(
            "extract",
            f"rules extractor, {len(articles)} abstracts",
            rate,
            "target (abstracts per second)",
            TARGET,
            " a/s",
        )
    ]
