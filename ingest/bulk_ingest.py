"""``kb ingest``: PubMed baseline and update files into the KB, in order, with one writer.

The plan (:func:`plan_files`) reads the KB's ledger of applied files (:class:`kb.models.AppliedFile`):
a file applied before for the same topic with the same checksum is skipped (``force`` redoes
it), one applied with another checksum is refused, and an NCBI-numbered file older than the
newest one applied in its series is refused, since it would bring back older versions of
records the later files revised. The files left are processed (:mod:`ingest.bulk_work`) in
this process, in a process pool (``workers``) or on a Dask cluster (``scheduler``); whichever
runs them, one writer stores their results in file order, then applies each file's
``DeleteCitation`` entries and records it in the ledger. Every write is idempotent, so a run
killed anywhere and run again ends with the KB of one clean run.
"""

from __future__ import annotations

import gc
import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Protocol

from ingest.bulk_work import Chunk, FileResult, FileTask, prepare_topics, process_file, run_file
from ingest.errors import IngestError
from ingest.extractors import DEFAULT_EXTRACTOR
from kb.bulk import BulkChanges, applied_files, has_missing, save_applied_file, save_bulk
from kb.models import AppliedFile, FindingRecord, MissingRecord
from kb.store import Store
from kb.topic import TopicPack

_NCBI_NAME = re.compile(r"^(?P<series>(?:pubmed|medline)\d{2})n(?P<number>\d{4})\.xml(?:\.gz)?$")
NO_TOPIC = ""


@dataclass(slots=True)
class FileReport:
    """What happened to one file."""

    name: str
    status: str = "applied"  # applied, skipped, refused or failed
    why: str = ""  # for skipped, refused and failed files
    records: int = 0
    relevant: int = 0
    stored: int = 0
    findings: int = 0
    deleted: int = 0
    refused: list[str] = field(default_factory=list)
    elapsed: float = 0.0  # seconds from its start to its end (processing and storing)
    processing: float = 0.0  # seconds its per-file work took (parse, filter, extract), in its worker
    storing: float = 0.0  # seconds the writer spent storing it
    kept_despite_deletion: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BulkReport:
    """What a ``kb ingest`` run did, file by file."""

    files: list[FileReport] = field(default_factory=list)
    changes: BulkChanges = field(default_factory=BulkChanges)
    elapsed: float = 0.0

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status in ("failed", "refused")]


class Progress(Protocol):
    """What a caller may show while files are read (the CLI draws rich progress bars)."""

    def started(self, name: str, size: int) -> None: ...
    def advanced(self, name: str, records: int) -> None: ...
    def finished(self, report: FileReport, size: int) -> None: ...


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A file and what the plan decided for it."""

    path: Path
    name: str
    size: int
    sha256: str
    series: str
    number: int | None
    topics: tuple[str, ...]  # the topics to apply it for ("" alone: no topic); empty if skipped or refused
    fill_only: bool = False  # older than what the KB holds: fill empty fields, never overwrite
    status: str = "apply"  # apply, skip or refuse
    why: str = ""


def file_series(name: str) -> tuple[str, int | None]:
    """NCBI's series and number of a file name (``pubmed26n1335.xml.gz``: ``("pubmed26", 1335)``)."""
    match = _NCBI_NAME.match(name)
    return (match["series"], int(match["number"])) if match else ("", None)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def plan_files(
    store: Store, paths: Sequence[Path], topic_ids: Sequence[str], *, force: bool = False
) -> list[PlannedFile]:
    """Decide, per file, whether to apply, skip or refuse it, and sort the files into order.

    NCBI-numbered files are put in the order of their series and numbers (after the others,
    which keep the order given).

    Raises:
        IngestError: two files given have the same name.
    """
    names = [p.name for p in paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise IngestError(f"files with the same name given twice: {', '.join(repeated)}; give each file once")
    wanted = tuple(topic_ids) or (NO_TOPIC,)
    ledger: dict[tuple[str, str], AppliedFile] = {(f.name, f.topic_id): f for f in applied_files(store)}
    applied_names = {name for name, _ in ledger}
    newest: dict[str, AppliedFile] = {}
    for row in ledger.values():
        if row.number is not None and (row.series not in newest or row.number > (newest[row.series].number or 0)):
            newest[row.series] = row
    ordered = sorted(enumerate(paths), key=_order)
    plan: list[PlannedFile] = []
    for _, path in ordered:
        series, number = file_series(path.name)
        size = path.stat().st_size
        digest = sha256_of(path)
        base = PlannedFile(path, path.name, size, digest, series, number, topics=())
        todo: list[str] = []
        problems: list[str] = []
        for topic in wanted:
            done = ledger.get((path.name, topic))
            if done is None or force:
                todo.append(topic)
            elif done.sha256 != digest:
                problems.append(
                    f"{path.name} was applied{_for(topic)} with another checksum (sha256 {done.sha256[:12]}…, "
                    f"this file {digest[:12]}…): NCBI does not change a published file, so this copy may be "
                    "damaged; download it again and check it against NCBI's .md5, or give --force to apply it"
                )
        if problems:
            plan.append(replace(base, status="refuse", why="; ".join(problems)))
            continue
        if not todo:
            plan.append(replace(base, status="skip", why="already applied (--force redoes it)"))
            continue
        head = newest.get(series) if number is not None else None
        behind = head is not None and number is not None and number < (head.number or 0)
        if behind and not force and path.name not in applied_names:
            assert head is not None
            why = (
                f"{path.name} comes before {head.name}, which this KB has already applied: applying it now "
                "would bring back older versions of the records later files revised. Apply update files in "
                "the order of their numbers (to rebuild, start a new KB from the baseline), or give --force"
            )
            plan.append(replace(base, status="refuse", why=why))
            continue
        plan.append(replace(base, topics=tuple(todo), fill_only=behind))
    return plan


def _order(item: tuple[int, Path]) -> tuple[int, str, int, int]:
    """NCBI-numbered files after the others, by series and number; the others as given."""
    series, number = file_series(item[1].name)
    return (1, series, number, item[0]) if number is not None else (0, "", 0, item[0])


def _for(topic: str) -> str:
    return f" for topic {topic}" if topic else " (for no topic)"


def ingest_bulk(
    store: Store,
    paths: Sequence[Path],
    packs: Sequence[TopicPack] = (),
    *,
    workers: int = 1,
    scheduler: str | None = None,
    force: bool = False,
    extractor: str = DEFAULT_EXTRACTOR,
    progress: Progress | None = None,
) -> BulkReport:
    """Apply PubMed files to the KB: see the module's description.

    Args:
        store: the KB.
        paths: the files, in any order (NCBI-numbered ones are sorted).
        packs: the topics to build (none: store every article, for no topic).
        workers: processes for the per-file work (1: in this process, streaming).
        scheduler: a Dask scheduler's address; the per-file work runs on its cluster.
        force: apply files already applied, or out of order.
        extractor: the extractor to run on relevant articles.
        progress: told as files start, advance and finish.

    Raises:
        IngestError: a bad option, or the Dask scheduler cannot be reached.
        StoreError: the database rejected a write.
    """
    if workers < 1:
        raise IngestError(f"--workers must be 1 or more, not {workers}")
    started = time.perf_counter()
    report = BulkReport()
    if packs:
        from ingest.pipeline import sync_pack  # the extraction pipeline: not needed without topics

        for pack in packs:
            sync_pack(store, pack)
    plan = plan_files(store, paths, [p.id for p in packs], force=force)
    folders = {p.id: str(p.path.resolve()) for p in packs}
    runnable: list[PlannedFile] = []
    for planned in plan:
        if planned.status != "apply":
            report.files.append(
                FileReport(planned.name, status="skipped" if planned.status == "skip" else "refused", why=planned.why)
            )
            if progress is not None:
                progress.finished(report.files[-1], planned.size)
            continue
        runnable.append(planned)
    tasks = [
        FileTask(str(p.path.resolve()), p.name, tuple(folders[t] for t in p.topics if t), extractor) for p in runnable
    ]
    writer = _Writer(store, report, progress)
    for planned, result in zip(runnable, _results(tasks, runnable, writer, workers, scheduler), strict=True):
        if result is None:  # an earlier file of its series failed
            continue
        writer.finish(planned, result)
    store.refresh_summary()
    report.elapsed = time.perf_counter() - started
    return report


def _results(
    tasks: list[FileTask], plan: list[PlannedFile], writer: _Writer, workers: int, scheduler: str | None
) -> Iterator[FileResult | None]:
    """Each file's result, in order, its chunks already stored (or spooled, stored by ``finish``);
    None for a file not to apply, as an earlier file of its series failed (the writer reports it)."""
    if scheduler is not None:
        yield from _on_dask(tasks, plan, writer, scheduler)
        return
    if workers == 1:
        for task, planned in zip(tasks, plan, strict=True):
            if writer.blocked(planned):
                yield None
                continue
            writer.start(planned)
            yield run_file(task, partial(writer.chunk, planned))
        return
    spool = tempfile.mkdtemp(prefix="kb-ingest-")
    try:
        spooled = [FileTask(t.path, t.name, t.topics, t.extractor, spool_dir=spool) for t in tasks]
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(tasks)) as pool:
            for planned in plan[:workers]:
                writer.start(planned)
            for n, result in enumerate(pool.map(process_file, spooled)):
                if n + workers < len(plan):
                    writer.start(plan[n + workers])
                yield None if writer.blocked(plan[n]) else result
    finally:
        gc.unfreeze()
        shutil.rmtree(spool, ignore_errors=True)


def _pool_context(tasks: list[FileTask]) -> BaseContext:
    """Forked workers, where the platform forks, that inherit the topics' prepared lexicons.

    Loading a topic's lexicon (the drug dictionary, the general tables) took several seconds
    per worker when each spawned worker loaded its own; it is loaded once here instead. The
    workers touch nothing the parent holds open (the KB, the console): they parse files and
    write their spool files.
    """
    if "fork" not in get_all_start_methods():
        return get_context("spawn")
    for task in tasks[:1]:
        prepare_topics(task)
    # What is loaded now lives as long as the workers: out of the collector's sight, their
    # collections neither walk it nor touch its pages (which forked processes share until written).
    gc.freeze()
    return get_context("fork")


def _on_dask(
    tasks: list[FileTask], plan: list[PlannedFile], writer: _Writer, scheduler: str
) -> Iterator[FileResult | None]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise IngestError(
            "--scheduler needs Dask's distributed scheduler: pip install -e '.[dask]' (on the workers too)"
        ) from exc
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise IngestError(f"could not reach the Dask scheduler at {scheduler}: {exc}; check the address") from exc
    try:
        futures = client.map(process_file, tasks, retries=2, pure=False)
        for planned in plan:
            writer.start(planned)
        for planned, future in zip(plan, futures, strict=True):
            result = future.result()
            yield None if writer.blocked(planned) else result
    finally:
        client.close()


class _Writer:
    """The one writer: stores chunks and finishes files (deletions, ledger), in order."""

    def __init__(self, store: Store, report: BulkReport, progress: Progress | None) -> None:
        self.store = store
        self.report = report
        self.progress = progress
        self.stored: dict[str, BulkChanges] = {}
        self.storing: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.failed_series: dict[str, str] = {}

    def blocked(self, planned: PlannedFile) -> bool:
        """Whether an earlier file of the file's series failed (then the file is refused, reported)."""
        earlier = self.failed_series.get(planned.series) if planned.series else None
        if earlier is None:
            return False
        why = f"not applied: {earlier}, before it in its series, failed; fix that file, then rerun"
        self.report.files.append(FileReport(planned.name, status="refused", why=why))
        if self.progress is not None:
            self.progress.finished(self.report.files[-1], planned.size)
        return True

    def start(self, planned: PlannedFile) -> None:
        self.started.setdefault(planned.name, time.perf_counter())
        if self.progress is not None:
            self.progress.started(planned.name, planned.size)

    def chunk(self, planned: PlannedFile, chunk: Chunk) -> None:
        began = time.perf_counter()
        changes = save_bulk(self.store, chunk.rows, fill_only=planned.fill_only)
        # One replacement per extractor over every topic's findings: replacing topic by topic
        # would let the second topic's findings of an article remove the first's.
        merged: dict[tuple[str, str], dict[str, list[FindingRecord]]] = {}
        for found in chunk.findings:
            if found.vocabulary is not None:
                self.store.save_vocabulary(found.vocabulary)
            per_article = merged.setdefault((found.extractor, found.version), {})
            for article_id, records in found.per_article.items():
                per_article.setdefault(article_id, []).extend(records)
        for (extractor, version), per_article in merged.items():
            self.store.replace_extracted_findings_of(per_article, extractor, version)
        if has_missing(self.store):
            self.store.clear_missing(r[0] for r in chunk.rows.articles)
        self.stored.setdefault(planned.name, BulkChanges())
        self.stored[planned.name] += changes
        self.storing[planned.name] = self.storing.get(planned.name, 0.0) + time.perf_counter() - began
        self.report.changes += changes
        if self.progress is not None:
            self.progress.advanced(planned.name, len(chunk.rows.articles))

    def finish(self, planned: PlannedFile, result: FileResult) -> FileReport:
        if result.spool is not None or result.chunks:
            for chunk in result.stored_chunks():
                self.chunk(planned, chunk)
        began = time.perf_counter()
        changes = self.stored.pop(planned.name, BulkChanges())
        file_report = FileReport(
            planned.name,
            records=result.records,
            relevant=sum(result.relevant.values()) if result.relevant else result.kept,
            stored=changes.articles.added + changes.articles.updated,
            findings=result.findings,
            refused=result.refused,
        )
        if result.error is not None:
            file_report.status = "failed"
            if planned.series:
                self.failed_series[planned.series] = planned.name
            file_report.why = (
                f"{result.error}. Stored from it before the error (committed): {result.kept} records; its "
                "DeleteCitation entries were not applied and it is not recorded as applied. Re-running "
                "'kb ingest' on it is safe (records are upserted, nothing is duplicated)"
            )
        else:
            if result.deleted:
                deleted, kept = self.store.delete_articles(f"pubmed:{p}" for p in result.deleted)
                file_report.deleted = deleted.removed
                file_report.kept_despite_deletion = kept
                self.store.save_missing(
                    MissingRecord(id=f"pubmed:{p}", reason="deleted", detail=planned.name) for p in result.deleted
                )
            for topic in planned.topics:
                save_applied_file(self.store, _ledger_row(planned, topic, result, file_report))
        now = time.perf_counter()
        file_report.elapsed = now - self.started.pop(planned.name, now)
        # In this process (one worker) the chunks were stored while the file was read.
        inline = result.spool is None and not result.chunks
        file_report.processing = result.elapsed - (self.storing.get(planned.name, 0.0) if inline else 0.0)
        file_report.storing = self.storing.pop(planned.name, 0.0) + now - began
        self.report.files.append(file_report)
        if self.progress is not None:
            self.progress.finished(file_report, planned.size)
        return file_report


def _ledger_row(planned: PlannedFile, topic: str, result: FileResult, report: FileReport) -> AppliedFile:
    return AppliedFile(
        name=planned.name,
        topic_id=topic,
        series=planned.series,
        number=planned.number,
        sha256=planned.sha256,
        size=planned.size,
        records=result.records,
        relevant=result.relevant.get(topic, 0) if topic else result.kept,
        stored=report.stored,
        findings=report.findings,
        deleted=report.deleted,
        refused=len(result.refused),
        applied_at=datetime.now(UTC),
    )
