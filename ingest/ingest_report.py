"""What ``kb ingest`` shows: rich progress bars while files are read, one report line per file after.

Progress goes to the error console, and only when it is a terminal (a cron log gets the
report alone). Each file in flight has a bar counting its records stored, with records per
second; the overall bar counts the files' bytes, for the ETA. With ``--workers`` or
``--scheduler`` a file's records are counted when the writer stores them, after its worker
has finished it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ingest.bulk_ingest import BulkReport, FileReport


class IngestProgress:
    """A :class:`ingest.bulk_ingest.Progress` drawn with rich (a no-op off a terminal)."""

    def __init__(self, console: Console) -> None:
        self.enabled = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[records]:>9,} records  {task.fields[rate]:>7} rec/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.overall = TaskID(0)
        self.files: dict[str, tuple[TaskID, float]] = {}  # file -> (its bar, when it started)
        self.counts: dict[str, int] = {}
        self.total = 0  # bytes of the files started or decided so far
        self.records = 0
        self.began = time.perf_counter()

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self.progress.start()
            self.overall = self.progress.add_task("all files", total=None, records=0, rate="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.enabled:
            self.progress.stop()

    def started(self, name: str, size: int) -> None:
        if not self.enabled or name in self.files:
            return
        self.files[name] = (self.progress.add_task(name, total=None, records=0, rate=""), time.perf_counter())
        self.counts[name] = 0
        self.total += size
        self.progress.update(self.overall, total=self.total)

    def advanced(self, name: str, records: int) -> None:
        self.records += records
        if not self.enabled:
            return
        now = time.perf_counter()
        if name in self.files:
            task, began = self.files[name]
            self.counts[name] += records
            self.progress.update(task, records=self.counts[name], rate=_rate(self.counts[name], now - began))
        self.progress.update(self.overall, records=self.records, rate=_rate(self.records, now - self.began))

    def finished(self, report: FileReport, size: int) -> None:
        if not self.enabled:
            return
        if name_task := self.files.pop(report.name, None):
            self.progress.remove_task(name_task[0])
            self.counts.pop(report.name, None)
        else:
            self.total += size
            self.progress.update(self.overall, total=self.total)
        self.progress.advance(self.overall, size)
        self.progress.console.print(Text.assemble((report.name, "bold"), f" {report.status}"), highlight=False)


def _rate(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f}" if seconds > 0 else ""


def report_lines(report: BulkReport) -> Iterator[str]:
    """One line per file (records read, relevant, stored, findings, deleted, refused, elapsed), then the totals."""
    for f in report.files:
        if f.status in ("skipped", "refused") and not f.records:
            yield f"{f.name}: {f.status}" + (" (already applied; --force redoes it)" if f.status == "skipped" else "")
            continue
        yield (
            f"{f.name}: {f.records} records read, {f.relevant} relevant, {f.stored} stored, {f.findings} findings, "
            f"{f.deleted} deleted, {len(f.refused)} refused, {f.elapsed:.1f} s ({f.status})"
        )
        yield from (f"  refused: {message}" for message in f.refused[:20])
        if len(f.refused) > 20:
            yield f"  … and {len(f.refused) - 20} more refused"
        if f.kept_despite_deletion:
            yield "  kept although PubMed deleted them (curated findings cite them): " + ", ".join(
                f.kept_despite_deletion
            )
    c = report.changes
    yield (
        f"articles: {c.articles.added} new, {c.articles.updated} updated, {c.articles.unchanged} unchanged; "
        f"citations: {c.citations} new; provenance records: {c.sources} new; {report.elapsed:.1f} s"
    )
