"""Extraction throughput: abstracts per second on one core, over the three development
corpora replicated, against the drug dictionary's own matcher alone over the same abstracts
in the same run (``drug_named_entity_recognition.find_drugs`` on whitespace tokens, exact
matching: the cheapest pass that recognises drugs at all), both timed in CPU time with their
passes alternated. Issue 14 asks for no slower than 0.1× that matcher.

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


def _rates(ours, ours_count: int, baseline, baseline_count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median rates of five passes of each, alternated so both see the same machine. Time is
    the process's CPU time: on a shared machine the wall clock also counts other processes'
    turns, which a 0.5 s pass and a 10 s pass suffer unequally."""
    mine, theirs = [], []
    for _ in range(5):
        start = time.process_time()
        ours()
        mine.append(ours_count / (time.process_time() - start))
        start = time.process_time()
        baseline()
        theirs.append(baseline_count / (time.process_time() - start))
    return statistics.median(mine), statistics.median(theirs)


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

    rate, baseline = _rates(ours, len(work), matcher, len(texts))
    return [
        Result(
            "extract",
            f"rules extractor, general lexicon, {len(work)} abstracts (3 topics)",
            rate,
            "drug dictionary matcher alone (abstracts/s, CPU time)",
            baseline,
            " a/s",
        )
    ]
