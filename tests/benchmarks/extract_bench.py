"""Extraction throughput: abstracts per second on one core, over the three development
corpora replicated, against the drug dictionary's own matcher alone over the same abstracts
in the same run (``drug_named_entity_recognition.find_drugs`` on whitespace tokens, exact
matching: the cheapest pass that recognises drugs at all). Issue 14 asks for no slower than
0.1× that matcher.

The corpora are read from ``../shared/corpus``; without them the benchmark reports nothing.
"""

from __future__ import annotations

import statistics
import time

from run import REPO, Result

CORPORA = {
    "calcinosis": "calcinosis_dev.jsonl",
    "pyoderma-gangrenosum": "pg_dev.jsonl",
    "ssc-ild": "ssc_ild_dev.jsonl",
}
REPLICATE = 10


def _rate(fn, count: int) -> float:  # type: ignore[no-untyped-def]
    rates = []
    for _ in range(5):  # one process, one core: the median of five passes
        start = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_extract() -> list[Result]:
    from ingest.extraction.corpus import read_jsonl
    from ingest.extraction.lexicon import topic_lexicon
    from ingest.extractors import get
    from kb.topic import load_topic

    folder = REPO.parent / "shared" / "corpus"
    work = []
    for topic, name in CORPORA.items():
        path = folder / name
        if not path.exists():
            print(f"extract: skipped, {path} is not available")
            return []
        pack = load_topic(topic)
        lexicon = topic_lexicon(pack)  # compiled once per run, as the pipeline does
        work.extend((item.article, lexicon) for item in read_jsonl(path))
    work *= REPLICATE
    extractor = get("rules")

    def ours() -> None:
        for article, lexicon in work:
            extractor(article, lexicon)

    from drug_named_entity_recognition import find_drugs  # its import builds its index: not timed

    texts = [f"{article.title} {article.abstract}".split() for article, _ in work]

    def matcher() -> None:
        for tokens in texts:
            find_drugs(tokens, is_ignore_case=True)

    return [
        Result(
            "extract",
            f"rules extractor, general lexicon, {len(work)} abstracts (3 topics)",
            _rate(ours, len(work)),
            "drug dictionary matcher alone (abstracts/s)",
            _rate(matcher, len(texts)),
            " a/s",
        )
    ]
