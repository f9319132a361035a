"""Benchmark: ``kb ingest`` of PubMed bulk files against a bare lxml pass over the same files.

Input: four files of 10,000 records each, made from the real records of the samples in
``../shared/fixtures/pubmed-bulk`` (413 PubmedArticle), each copy with a new, unique PMID;
about 1 % have "Calcinosis cutis: " put before their title, so that the calcinosis topic's
rule admits them and the extractor runs on them. Nothing can be served from a cache keyed
on text: every record is parsed, filtered and, if relevant, extracted.

Rows (each against the bare pass of the same run: PMID, title, abstract and MeSH of every
record, the four files one after the other):

- ``kb ingest FILES`` (every article stored, SQLite), the installed command;
- ``kb ingest --topic calcinosis --workers 2 FILES``;
- the topic run's throughput with 2 workers against 1: the installed command's (start-up and
  the lexicon's loading included), and in this process with the lexicon loaded;
- the peak memory of one worker (a fresh interpreter running the per-file work) on a file of
  1,000 records and on one of 10,000;
- an already-applied file skipped, against its ingest (in this process, no start-up cost);
- the projected time for the whole baseline (36 million records) on 2 and 16 cores, from the
  measured per-worker rate and the writer's measured rate: the single writer bounds it.

Run with ``python tests/benchmarks/run.py ingest``.
"""

from __future__ import annotations

import gzip
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

REPO = Path(__file__).resolve().parents[2]
BULK = REPO.parent / "shared" / "fixtures" / "pubmed-bulk"
SAMPLES = ("pubmedsample_2019.xml.gz", "pubmedsample18n0001.xml.gz", "pubmed26n1334.xml.gz", "pubmed26n1335.xml.gz")
KB = Path(sys.executable).with_name("kb")
BASELINE_RECORDS = 36_000_000
HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n'
FOOTER = b"\n</PubmedArticleSet>\n"
_PMID = re.compile(rb'(<PMID Version="\d+">)(\d+)(</PMID>)')
_ARTICLE_ID = re.compile(rb'(<ArticleId IdType="pubmed">)(\d+)(</ArticleId>)')

_MEMORY_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from ingest.bulk_work import FileTask, process_file
from kb.topic import load_topic

task = FileTask(sys.argv[2], "bench.xml.gz", (str(load_topic("calcinosis").path),), spool_dir=sys.argv[3])
result = process_file(task)
assert result.articles == int(sys.argv[4]), result.articles
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
"""


def _templates() -> list[bytes]:
    """The samples' PubmedArticle elements, as bytes, with their PMID replaced by ``{pmid}`` markers."""
    from lxml import etree

    out = []
    for name in SAMPLES:
        with gzip.open(BULK / name) as f:
            root = etree.parse(f, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)).getroot()
        for elem in root.iter("PubmedArticle"):
            xml = etree.tostring(elem)
            pmid = _PMID.search(xml)
            if pmid is None:
                continue
            own = pmid[2]

            def marked(m: re.Match[bytes], own: bytes = own) -> bytes:
                return m[1] + b"{pmid}" + m[3] if m[2] == own else m[0]

            xml = _PMID.sub(marked, xml, count=1)
            xml = _ARTICLE_ID.sub(marked, xml)
            out.append(xml)
    return out


def write_files(folder: Path, files: int, per_file: int, first_pmid: int = 60_000_001) -> list[Path]:
    """``files`` gzip files of ``per_file`` records each (NCBI-numbered names), every PMID new."""
    templates = _templates()
    paths = []
    pmid = first_pmid
    for n in range(1, files + 1):
        path = folder / f"pubmed99n{n:04d}.xml.gz"
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(HEADER)
            for i in range(per_file):
                xml = templates[(pmid + i) % len(templates)].replace(b"{pmid}", str(pmid).encode())
                if pmid % 100 == 7:  # about 1 %: relevant to the calcinosis topic
                    xml = xml.replace(b"<ArticleTitle>", b"<ArticleTitle>Calcinosis cutis: ", 1)
                f.write(xml)
                f.write(b"\n")
                pmid += 1
            f.write(FOOTER)
        paths.append(path)
    return paths


def _bare_records(path: Path) -> Iterator[tuple[str | None, str | None, str, list[str | None]]]:
    """The bare lxml pass of ``parse_bench`` (PMID, title, abstract, MeSH), streaming a gzip file."""
    from parse_bench import _bare_records as bare

    with gzip.open(path) as f:
        yield from bare(f)


_CPU: dict[str, float] = {}


def _timed_kb(*args: str, label: str = "") -> float:
    """Wall time of the installed command; its CPU time (with its workers') is kept under ``label``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(KB), *args], check=True, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU[label] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall


def _peak_worker_mb(path: Path, records: int, spool: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(REPO), str(path), str(spool), str(records)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    return float(done.stdout.strip())


def bench_ingest() -> list[Result]:
    """The rows listed in the module's description."""
    from run import Result

    from ingest.bulk_ingest import ingest_bulk
    from kb.store import Store
    from kb.topic import load_topic

    if not all((BULK / name).exists() for name in SAMPLES):
        print(f"ingest: skipped, the PubMed samples are not in {BULK} (the shared folder sits beside the repository)")
        return []
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "files").mkdir()
        paths = write_files(root / "files", files=4, per_file=10_000)
        names = [str(p) for p in paths]
        records = 40_000

        start, cpu = time.perf_counter(), time.process_time()
        assert sum(1 for p in paths for _ in _bare_records(p)) == records
        bare, bare_cpu = time.perf_counter() - start, time.process_time() - cpu

        every = _timed_kb("ingest", *names, "--db", f"sqlite:///{root}/every.sqlite", label="every")
        results.append(Result("ingest", "kb ingest FILES (all stored, SQLite)", every, "bare lxml pass", bare))
        # CPU seconds too: on a shared machine the wall clock also measures the others' load.
        results.append(Result("ingest", "kb ingest FILES (CPU s)", _CPU["every"], "bare lxml pass (CPU s)", bare_cpu))
        one = _timed_kb("ingest", *names, "--topic", "calcinosis", "--db", f"sqlite:///{root}/one.sqlite", label="1")
        two = _timed_kb(
            "ingest",
            *names,
            "--topic",
            "calcinosis",
            "--workers",
            "2",
            "--db",
            f"sqlite:///{root}/two.sqlite",
            label="2",
        )
        results.append(Result("ingest", "kb ingest --topic calcinosis --workers 2", two, "bare lxml pass", bare))
        results.append(
            Result("ingest", "topic run, 2 workers (rec/s)", records / two, "1 worker", records / one, "rec/s")
        )
        # The work done, whatever the cores free: the CPU seconds of each run, its workers included.
        results.append(Result("ingest", "topic run, 2 workers (CPU s)", _CPU["2"], "1 worker (CPU s)", _CPU["1"]))
        results.append(Result("ingest", "topic run, 1 worker (CPU s)", _CPU["1"], "bare lxml pass (CPU s)", bare_cpu))

        (root / "small").mkdir()
        (root / "large").mkdir()
        small = write_files(root / "small", files=1, per_file=1_000)[0]
        large = write_files(root / "large", files=1, per_file=10_000)[0]
        small_mb = _peak_worker_mb(small, 1_000, root / "small")
        large_mb = _peak_worker_mb(large, 10_000, root / "large")
        results.append(
            Result("ingest", "peak RSS of a worker, 10,000 records", large_mb, "1,000 records", small_mb, "MB")
        )

        # Skipping an applied file, and the rates behind the projection, in this process.
        pack = load_topic("calcinosis")
        store = Store.open(f"sqlite:///{root}/inproc.sqlite")
        try:
            first = ingest_bulk(store, [large])
            start = time.perf_counter()
            skipped = ingest_bulk(store, [large])
            skip = time.perf_counter() - start
            assert skipped.files[0].status == "skipped"
            results.append(Result("ingest", "an applied file skipped", skip, "its ingest (all stored)", first.elapsed))
            store_rate = records_rate(first.files[0].records, first.files[0].storing)
            topic = ingest_bulk(store, paths, [pack], workers=2)
        finally:
            store.close()
        # The same topic runs in this process, the lexicon already loaded (by the run above) and
        # no interpreter to start: the throughput of the per-file work and the writer alone.
        warm = {}
        for workers in (1, 2):
            store = Store.open(f"sqlite:///{root}/warm{workers}.sqlite")
            try:
                start = time.perf_counter()
                ingest_bulk(store, paths, [pack], workers=workers)
                warm[workers] = records / (time.perf_counter() - start)
            finally:
                store.close()
        results.append(
            Result("ingest", "topic run in process, lexicon loaded, 2 workers", warm[2], "1 worker", warm[1], "rec/s")
        )
        worker_rate = sum(f.records for f in topic.files) / sum(f.processing for f in topic.files)
        relevant = sum(f.relevant for f in topic.files) / records
        for cores in (2, 16):
            work = BASELINE_RECORDS / (cores * worker_rate)
            writer = BASELINE_RECORDS * relevant / store_rate
            every_writer = BASELINE_RECORDS / store_rate
            results.append(
                Result(
                    "ingest",
                    f"baseline, topic run, {cores} cores (h)",
                    max(work, writer) / 3600,
                    "every article stored (h)",
                    max(work, every_writer) / 3600,
                    "h",
                )
            )
        print(
            f"ingest: per-worker rate {worker_rate:,.0f} rec/s (parse, filter, extract); writer {store_rate:,.0f} "
            f"rec/s stored; relevant fraction {relevant:.2%}; projection = max(36M / (cores x worker rate), "
            "records stored / writer rate)"
        )
    return results


def records_rate(records: int, seconds: float) -> float:
    return records / seconds if seconds else float("inf")
