"""What ``kb ingest`` shows: rich progress bars while files are read, one report line per file after.

Progress goes to the error console, and only when it is a terminal (a cron log gets the
report alone). Each file in flight has a bar counting its records stored, with records per
second; the overall bar counts the files' bytes, for the ETA. With ``--workers`` or
``--scheduler`` a file's records are counted when the writer stores them, after its worker
has finished it.
"""

from __future__ import annotations

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
        self.overall: TaskID | None = None
        self.files: dict[str, TaskID] = {}
        self.records = 0

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
        self.files[name] = self.progress.add_task(name, total=None, records=0, rate="")
        overall = self.progress.tasks[self.overall or 0]
        self.progress.update(self.overall or TaskID(0), total=(overall.total or 0) + size)

    def advanced(self, name: str, records: int) -> None:
        if not self.enabled:
            return
        task = self.files.get(name)
        if task is not None:
            done = self.progress.tasks[task].fields["records"] + records
            elapsed = self.progress.tasks[task].elapsed or 0
            self.progress.update(task, records=done, rate=f"{done / elapsed:,.0f}" if elapsed else "")
        self.records += records
        elapsed = self.progress.tasks[self.overall or 0].elapsed or 0
        rate = f"{self.records / elapsed:,.0f}" if elapsed else ""
        self.progress.update(self.overall or TaskID(0), records=self.records, rate=rate)

    def finished(self, report: FileReport, size: int) -> None:
        if not self.enabled:
            return
        task = self.files.pop(report.name, None)
        if task is not None:
            self.progress.remove_task(task)
        else:
            overall = self.progress.tasks[self.overall or 0]
            self.progress.update(self.overall or TaskID(0), total=(overall.total or 0) + size)
        self.progress.advance(self.overall or TaskID(0), size)
        self.progress.console.print(Text.assemble((report.name, "bold"), f" {report.status}"), highlight=False)


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
