"""Benchmark: the PubMed XML parser against Bio.Entrez.read, pubmed_parser and a bare lxml loop.

Input: the real records of the four NLM/pmparser samples in ``../shared/fixtures/pubmed-bulk``
(413 PubmedArticle), replicated into one in-memory ``PubmedArticleSet`` of at least 8,800
records (about 100 MB). Throughput is records per second, median of three runs; each ratio is
ours / theirs, so above 1 means we are faster. Targets: >= 5 against Bio.Entrez, >= 2.5
against pubmed_parser, >= 0.8 against the bare loop, which extracts only PMID, title, abstract
and MeSH names while ours extracts every field.

pubmed_parser only reads gzip files from a path, so that row times both parsers on the same
``.xml.gz`` file (decompression included on both sides).

Memory: peak RSS (VmHWM, Linux) of a fresh interpreter streaming 1x and then 10x the input
from a gzip file on disk (the 10x stream is generated on the fly, so only the parser's own
memory can grow).

Bio.Entrez runs last: it holds about 100 KB per record, and the heap it leaves behind slows
whatever runs after it in the same process.

Run with ``python tests/benchmarks/run.py parse`` once ``bench_parse`` is registered there.
"""

from __future__ import annotations

import gzip
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from run import Result

REPO = Path(__file__).resolve().parents[2]
BULK = REPO.parent / "shared" / "fixtures" / "pubmed-bulk"
SAMPLES = ("pubmedsample_2019.xml.gz", "pubmedsample18n0001.xml.gz", "pubmed26n1334.xml.gz", "pubmed26n1335.xml.gz")
MIN_RECORDS = 8_800
HEADER = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
FOOTER = b"\n</PubmedArticleSet>\n"

# Peak RSS of a fresh interpreter streaming HEADER + BODY x copies + FOOTER through the parser.
_MEMORY_SCRIPT = """
import gzip, io, sys
sys.path.insert(0, sys.argv[1])
from ingest.pubmed import parse_pubmed_xml

body, copies, expected = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
header, footer = bytes.fromhex(sys.argv[5]), bytes.fromhex(sys.argv[6])

class Stream:
    def __init__(self):
        self.parts = iter([header, *[body] * copies, footer])
        self.current = None
    def read(self, size=-1):
        while True:
            if self.current is None:
                part = next(self.parts, None)
                if part is None:
                    return b""
                self.current = gzip.open(part, "rb") if isinstance(part, str) else io.BytesIO(part)
            chunk = self.current.read(size)
            if chunk:
                return chunk
            self.current.close()
            self.current = None

count = sum(1 for _ in parse_pubmed_xml(Stream(), source_name="stream"))
assert count == expected, (count, expected)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
"""


def _body() -> tuple[bytes, int]:
    """The PubmedArticle elements of the samples, as written, and how many there are."""
    parts = []
    count = 0
    for name in SAMPLES:
        data = gzip.decompress((BULK / name).read_bytes())
        start = data.index(b"<PubmedArticle>")
        end = data.rindex(b"</PubmedArticle>") + len(b"</PubmedArticle>")
        parts.append(data[start:end])
        count += data[start:end].count(b"<PubmedArticle>")
    return b"\n".join(parts), count


def _median_rate(fn: Callable[[], int], records: int, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - start)
        if got != records:
            raise RuntimeError(f"parsed {got} records, expected {records}")
    return records / statistics.median(times)


def _ours(source: object) -> int:
    from ingest.pubmed import PubmedArticle, parse_pubmed_xml

    return sum(1 for r in parse_pubmed_xml(source) if isinstance(r, PubmedArticle))  # type: ignore[arg-type]


def _bio(data: bytes) -> int:
    from Bio import Entrez

    return len(Entrez.read(io.BytesIO(data), validate=False)["PubmedArticle"])


def _bare(data: bytes) -> int:
    return sum(1 for _ in _bare_records(data))


def _bare_records(data: bytes | IO[bytes]) -> Iterator[tuple[str | None, str | None, str, list[str | None]]]:
    """A bare, streaming lxml loop: PMID, title, abstract and MeSH names, nothing else (a document or a stream)."""
    from lxml import etree

    events = etree.iterparse(
        io.BytesIO(data) if isinstance(data, bytes) else data,
        events=("end",),
        tag="PubmedArticle",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    for _, elem in events:
        pmid = elem.findtext("MedlineCitation/PMID")
        title_el = elem.find("MedlineCitation/Article/ArticleTitle")
        title = "".join(title_el.itertext()) if title_el is not None else None
        abstract = " ".join(
            "".join(a.itertext()) for a in elem.iterfind("MedlineCitation/Article/Abstract/AbstractText")
        )
        mesh = [d.text for d in elem.iterfind("MedlineCitation/MeshHeadingList/MeshHeading/DescriptorName")]
        elem.clear()
        parent = elem.getparent()
        while elem.getprevious() is not None:
            del parent[0]
        yield pmid, title, abstract, mesh


def _peak_rss_mb(body_gz: Path, copies: int, expected: int) -> float:
    argv = [str(REPO), str(body_gz), str(copies), str(expected), HEADER.hex(), FOOTER.hex()]
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, *argv], capture_output=True, text=True, check=True, timeout=600
    )
    return float(done.stdout.strip())


def bench_parse() -> list[Result]:
    """Records/s of ingest.pubmed and three baselines, and peak memory at 1x and 10x input."""
    from run import Result

    if not all((BULK / name).exists() for name in SAMPLES):
        print(f"parse: skipped, the PubMed samples are not in {BULK} (the shared folder sits beside the repository)")
        return []
    body, per_copy = _body()
    copies = -(-MIN_RECORDS // per_copy)
    records = per_copy * copies
    data = HEADER + b"\n".join([body] * copies) + FOOTER
    print(f"parse: {records:,} real records ({per_copy} x {copies}), {len(data) / 1e6:.0f} MB of XML")

    ours = _median_rate(lambda: _ours(data), records)
    bare = _median_rate(lambda: _bare(data), records)
    results = [
        Result("parse", "ingest.pubmed, all fields", ours, "bare lxml (PMID, title, abstract, MeSH)", bare, "rec/s")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        body_gz = Path(tmp) / "body.xml.gz"
        body_gz.write_bytes(gzip.compress(b"\n".join([body] * copies) + b"\n", compresslevel=1))
        small = _peak_rss_mb(body_gz, 1, records)
        large = _peak_rss_mb(body_gz, 10, 10 * records)
        packed = Path(tmp) / "input.xml.gz"
        packed.write_bytes(gzip.compress(data, compresslevel=1))
        try:
            import pubmed_parser
        except ImportError as exc:
            print(f"parse: pubmed_parser is unavailable ({exc}); pip install pubmed_parser to compare with it")
        else:

            def pp() -> int:
                return sum(1 for r in pubmed_parser.parse_medline_xml(str(packed)) if not r.get("delete"))

            ours_packed = _median_rate(lambda: _ours(packed), records)
            results.append(
                Result(
                    "parse",
                    "ingest.pubmed, all fields (.xml.gz)",
                    ours_packed,
                    "pubmed_parser.parse_medline_xml",
                    _median_rate(pp, records),
                    "rec/s",
                )
            )
    bio = _median_rate(lambda: _bio(data), records)
    results.insert(
        0, Result("parse", "ingest.pubmed, all fields", ours, "Bio.Entrez.read (validate=False)", bio, "rec/s")
    )
    results.append(
        Result("parse", f"peak RSS, {10 * records:,} records (10x)", large, f"{records:,} records (1x)", small, "MB")
    )
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for r in bench_parse():
        print(
            f"{r.measured:<40} {r.value:>10.1f} {r.unit:<6} {r.baseline:<42} {r.baseline_value:>10.1f} {r.ratio:>6.2f}"
        )
