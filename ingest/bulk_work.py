"""The per-file work of ``kb ingest``: parse → relevance filter → extract, with no I/O but the file.

:func:`process_file` is the unit a process pool or a Dask cluster runs: it takes a
:class:`FileTask` (plain, picklable values: the file's path, the topic packs' folders) and
returns a :class:`FileResult`, the rows to store in :class:`Chunk` batches. It never opens
the KB: one writer stores the results, in file order (:mod:`ingest.bulk_ingest`). This
module must stay importable on a Dask worker, which has the project installed but nothing
else of the client's state.

Without topics every article is kept, attached to no topic (topic id ``""``), and nothing is
extracted. With topics, an article is kept when a topic's relevance rule admits it
(:mod:`ingest.relevance`); the filter runs first, and only the articles it admits (with an
abstract) reach the extractor, the slow step.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ingest.errors import ParseError
from ingest.extractors import DEFAULT_EXTRACTOR
from ingest.pubmed import (
    DeletedCitations,
    PubmedArticle,
    RefusedRecord,
    SkippedRecord,
    article_fields,
    parse_pubmed_xml,
)
from ingest.relevance import RelevanceFilter
from kb.bulk import ARTICLE_COLUMNS, BulkRows
from kb.models import FindingRecord
from kb.topic import TopicPack, load_topic
from kb.vocabulary import Vocabulary

if TYPE_CHECKING:
    from ingest.extraction.text import ArticleText
    from ingest.pipeline import TopicExtraction

_T = TypeVar("_T")

#: Records per chunk: the writer stores one chunk per transaction.
CHUNK_RECORDS = 5_000


@dataclass(frozen=True, slots=True)
class FileTask:
    """One file to process, in values any worker can receive."""

    path: str  # where the worker reads it (the same path on every machine of a cluster)
    name: str  # the file's name, recorded as provenance
    topics: tuple[str, ...] = ()  # topic pack folders; none: keep every article, for no topic
    extractor: str = DEFAULT_EXTRACTOR
    spool_dir: str | None = None  # write chunks to a file here instead of returning them
    chunk_records: int = CHUNK_RECORDS


@dataclass(slots=True)
class TopicFindings:
    """One topic's findings from a chunk, per article, and the vocabulary they need first."""

    topic_id: str
    extractor: str
    version: str
    per_article: dict[str, list[FindingRecord]]
    vocabulary: Vocabulary | None


@dataclass(slots=True)
class Chunk:
    """Rows to store in one transaction."""

    rows: BulkRows = field(default_factory=BulkRows)
    findings: list[TopicFindings] = field(default_factory=list)


@dataclass(slots=True)
class FileResult:
    """What processing one file gave: counts, deletions, refusals, and the chunks (or their spool)."""

    name: str
    records: int = 0  # records read: articles, deletions and refused records
    articles: int = 0  # articles read
    kept: int = 0  # articles to store (relevant to a topic; all of them without topics)
    relevant: dict[str, int] = field(default_factory=dict)  # per topic
    findings: int = 0
    deleted: list[str] = field(default_factory=list)  # PMIDs of its DeleteCitation entries
    refused: list[str] = field(default_factory=list)  # one message per refused record
    error: str | None = None  # the file failed part-way: what happened
    elapsed: float = 0.0  # seconds spent processing (not storing)
    chunks: list[Chunk] = field(default_factory=list)
    spool: str | None = None  # when the chunks were written to a file instead

    def stored_chunks(self) -> Iterator[Chunk]:
        """The chunks, in order, read back from the spool file when there is one (then removed)."""
        if self.spool is None:
            yield from self.chunks
            return
        try:
            with open(self.spool, "rb") as f:
                while True:
                    try:
                        yield pickle.load(f)  # noqa: S301 - written by process_file in this run
                    except EOFError:
                        return
        finally:
            Path(self.spool).unlink(missing_ok=True)


def process_file(task: FileTask) -> FileResult:
    """Parse, filter and extract one file; the chunks are returned, or spooled to ``task.spool_dir``.

    A file that fails part-way (malformed or truncated) gives the chunks read before the
    fault and ``error``; its deletions are then not to be applied.
    """
    if task.spool_dir is None:
        chunks: list[Chunk] = []
        result = run_file(task, chunks.append)
        result.chunks = chunks
        return result
    spool = os.path.join(task.spool_dir, f"{os.getpid()}-{task.name}.chunks")
    with open(spool, "wb") as f:
        result = run_file(task, lambda chunk: pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL))
    result.spool = spool
    return result


def run_file(task: FileTask, emit: Callable[[Chunk], None]) -> FileResult:
    """Process one file, handing each chunk to ``emit`` as soon as it is complete."""
    started = time.perf_counter()
    result = FileResult(task.name)
    topics = [_prepared(t, task.extractor) for t in task.topics]
    result.relevant = {f.topic_id: 0 for f, _ in topics}
    extractions = [(f, _Extraction(pack, task.extractor)) for f, pack in topics]
    chunk = Chunk()
    pending = 0
    try:
        records = parse_pubmed_xml(
            task.path, source_name=task.path, select=_select(extractions), raw_select=_raw_select(extractions)
        )
        for record in records:
            result.records += 1
            if isinstance(record, SkippedRecord):  # no topic's rule could admit it: never built
                result.articles += 1
            elif isinstance(record, PubmedArticle):
                result.articles += 1
                pending += _keep(record, task.name, extractions, chunk, result)
            elif isinstance(record, DeletedCitations):
                result.deleted.extend(record.pmids)
            elif isinstance(record, RefusedRecord):
                result.refused.append(record.message)
            if pending >= task.chunk_records:
                emit(_finish(chunk, extractions))
                chunk, pending = Chunk(), 0
    except ParseError as exc:
        result.error = str(exc)
    if pending or chunk.findings:
        emit(_finish(chunk, extractions))
    result.elapsed = time.perf_counter() - started
    return result


def _select(extractions: list[tuple[RelevanceFilter, _Extraction]]) -> Callable[[Any], bool] | None:
    """The parser's pre-filter for a topic run: an article no topic's rule could admit is not built."""
    return _any_of([f.may_match for f, _ in extractions])


def _raw_select(extractions: list[tuple[RelevanceFilter, _Extraction]]) -> Callable[[bytes], bool] | None:
    """The pre-filter on an article's bytes: one no topic's rule could admit is never parsed."""
    return _any_of([f.may_match_raw for f, _ in extractions])


def _any_of(tests: list[Callable[[_T], bool]]) -> Callable[[_T], bool] | None:
    """A test passed when any of ``tests`` passes: None without tests, the test itself for one."""
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _keep(
    article: PubmedArticle,
    name: str,
    extractions: list[tuple[RelevanceFilter, _Extraction]],
    chunk: Chunk,
    result: FileResult,
) -> int:
    """Add the article to the chunk if it is kept (with its provenance and findings); 1 if kept."""
    rows = chunk.rows
    curie = article.curie
    sources: list[tuple[str, str, str, str | None]] = []
    if not extractions:
        sources.append((curie, "", name, None))
    else:
        text: ArticleText | None = None
        for relevance, extraction in extractions:
            rule = relevance.match(article)
            if rule is None:
                continue
            sources.append((curie, relevance.topic_id, name, rule))
            result.relevant[relevance.topic_id] += 1
            prepared = extraction.prepared()
            findings: list[FindingRecord] = []
            if article.abstract:  # without one, findings of an earlier version of the record go
                text = text or _article_text(article)
                findings = prepared.findings(text)
            result.findings += len(findings)
            _findings_of(chunk, prepared).per_article[curie] = findings
        if not sources:
            return 0
    fields = article_fields(article)
    rows.articles.append(tuple([fields[c] for c in ARTICLE_COLUMNS]))
    rows.sources.extend(sources)
    rows.citations.extend((curie, f"pubmed:{ref}") for ref in dict.fromkeys(article.references))
    result.kept += 1
    return 1


def _article_text(article: PubmedArticle) -> ArticleText:
    from ingest.extraction.text import ArticleText

    # The fields the KB stores and extract_findings reads back: extraction from a file and
    # re-extraction from the KB (kb build, kb refresh) see the same article.
    return ArticleText(
        article.curie,
        article.title or "",
        article.abstract or "",
        tuple(name for _, name in article.publication_types),
        tuple(m.descriptor for m in article.mesh_headings),
    )


def _findings_of(chunk: Chunk, extraction: TopicExtraction) -> TopicFindings:
    for found in chunk.findings:
        if found.topic_id == extraction.pack.id:
            return found
    found = TopicFindings(extraction.pack.id, extraction.name, extraction.version, {}, None)
    chunk.findings.append(found)
    return found


def _finish(chunk: Chunk, extractions: list[tuple[RelevanceFilter, _Extraction]]) -> Chunk:
    for found in chunk.findings:
        extraction = next(e for _, e in extractions if e.pack.id == found.topic_id)
        found.vocabulary = extraction.prepared().vocabulary_needed()
    return chunk


class _Extraction:
    """A topic's extraction for one file, prepared on the first article the topic's rule admits.

    Preparing it the first time in a process loads the topic's lexicon (the drug dictionary,
    the general tables: seconds), which a file without a relevant article never needs; later
    files reuse the loaded lexicon. A process pool forks after :func:`prepare_topics`, so its
    workers inherit it, loaded once per run.
    """

    __slots__ = ("_prepared", "extractor", "pack")

    def __init__(self, pack: TopicPack, extractor: str) -> None:
        self.pack = pack
        self.extractor = extractor
        self._prepared: TopicExtraction | None = None

    def prepared(self) -> TopicExtraction:
        """The extraction (what its findings used is this file's alone)."""
        if self._prepared is None:
            from ingest.pipeline import TopicExtraction

            self._prepared = TopicExtraction.prepare(self.pack, self.extractor)
        return self._prepared


def prepare_topics(task: FileTask) -> None:
    """Load the task's topics and their lexicons now (cached for this process and its forks)."""
    from ingest.pipeline import TopicExtraction

    for topic in task.topics:
        _, pack = _prepared(topic, task.extractor)
        TopicExtraction.prepare(pack, task.extractor)


@lru_cache(maxsize=16)
def _prepared(topic: str, extractor: str) -> tuple[RelevanceFilter, TopicPack]:
    """A topic's relevance filter and pack, loaded once per worker process."""
    pack = load_topic(topic)
    return RelevanceFilter(pack), pack
