"""The literature refresh: grow a topic's KB from PubMed, incrementally, safely, with a changelog.

``kb refresh`` runs this from cron, a systemd timer or a CI schedule. One run:

1. takes the KB's refresh lock (:mod:`kb.lock`), or refuses at once if a live run holds it;
2. records itself in ``refresh_run`` as ``running``;
3. brings the store in line with the topic pack (settings, vocabulary, curated records);
4. for each saved query, searches its *window*: on the first run everything entered since
   the query's ``since`` date (as ``kb fetch`` does); afterwards, in **one** ESearch request,
   records entered (``edat``) or modified (``mdat``) since the query's watermarks minus the
   overlap days, up to today. What it finds is fetched, its references and citing papers
   are followed to the topic's depth, everything fetched is re-extracted, and only then, when
   the whole window succeeded, do the query's watermarks move to today;
5. on a slower cadence (``citedin_every_days``), asks ELink again who cites the topic's
   seeds and query results, and brings in new citing papers;
6. records what changed (articles new, updated, deleted, newly retracted; findings added,
   changed, removed) and how each window ended.

Why it is safe to kill: every write is an idempotent upsert, and a window's watermark moves
in its own transaction after everything else of that window is stored. A run killed at any
point leaves the previous watermark; the next run redoes the window and converges on the
KB one clean run would have made.

Retractions and errata: the parser marks an article retracted when PubMed gives it the
publication type "Retracted Publication" or a ``RetractionIn`` correction, and lists its
notices (``ErratumIn``, ``ExpressionOfConcernIn``, ``RetractionIn``, republications and
updates); a revised record is found through its modification date, re-fetched, and both are
stored on the article. Findings carry them through their article (``queries.findings`` has
``retracted`` and ``notices`` columns), and aggregates no longer count a retracted article.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from ingest.entrez import EntrezClient
from ingest.errors import FetchError
from ingest.fetch import FetchReport, fetch_into_store, recheck_cited_by
from ingest.pipeline import extract_findings, sync_pack
from kb.identifiers import is_pmid, shown
from kb.lock import STALE_AFTER, RefreshLockHandle, acquire
from kb.store import Changes, Store
from kb.topic import SavedQuery, TopicPack

log = logging.getLogger(__name__)

#: Exit codes of ``kb refresh`` (documented in its --help, README and site/docs/operations.md).
EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_NOTHING_NEW = 10
EXIT_PARTIAL = 11
EXIT_REFUSED = 12

_EXIT_CODES = {"success": EXIT_SUCCESS, "nothing_new": EXIT_NOTHING_NEW, "partial": EXIT_PARTIAL}

SEEDS = "(seeds)"
CITED_BY = "(cited-by re-check)"


@dataclass(frozen=True)
class RefreshOptions:
    """How a refresh searches.

    Attributes:
        overlap_days: each window starts this many days before the watermark, so records
            PubMed indexes late (with an older date) are still found.
        citedin_every_days: re-ask who cites the topic's articles when the last complete
            re-check is at least this old.
        today: the last day of every window (default: today in UTC).
    """

    overlap_days: int = 3
    citedin_every_days: int = 30
    today: date | None = None

    def __post_init__(self) -> None:
        if self.overlap_days < 0 or self.citedin_every_days < 0:
            raise ValueError("overlap_days and citedin_every_days must not be negative")


@dataclass
class Window:
    """One searched window, as recorded in ``refresh_run.windows``."""

    query: str
    datetype: str
    mindate: str | None
    maxdate: str
    status: str = "running"
    found: int = 0
    fetched: int = 0
    message: str | None = None


@dataclass
class RefreshReport:
    """What one run did."""

    topic_id: str
    run_id: int | None = None
    status: str = "running"
    windows: list[Window] = field(default_factory=list)
    requests: int = 0
    articles: Changes = field(default_factory=Changes)
    articles_deleted: int = 0
    articles_retracted: int = 0
    findings: Changes = field(default_factory=Changes)
    links_added: int = 0
    message: str | None = None

    @property
    def exit_code(self) -> int:
        """The process exit code for this run's status."""
        return _EXIT_CODES.get(self.status, EXIT_FAILED)

    @property
    def changed(self) -> bool:
        return bool(
            self.articles.added
            or self.articles.updated
            or self.articles_deleted
            or self.findings.changed
            or self.links_added
        )

    def run_values(self) -> dict[str, object]:
        """The ``refresh_run`` columns for this report."""
        return {
            "status": self.status,
            "windows": json.dumps([asdict(w) for w in self.windows], ensure_ascii=False),
            "requests": self.requests,
            "articles_new": self.articles.added,
            "articles_updated": self.articles.updated,
            "articles_deleted": self.articles_deleted,
            "articles_retracted": self.articles_retracted,
            "findings_added": self.findings.added,
            "findings_changed": self.findings.updated,
            "findings_removed": self.findings.removed,
            "message": self.message,
        }

    def lines(self) -> list[str]:
        """A human summary, one line per fact."""
        out = [f"run {self.run_id}: {self.status}" + (f" — {self.message}" if self.message else "")]
        for w in self.windows:
            span = f"{w.mindate or 'start'}–{w.maxdate}"
            note = f" ({w.message})" if w.message else ""
            out.append(f"  {w.query} [{w.datetype}] {span}: {w.status}, {w.found} found, {w.fetched} fetched{note}")
        a, f = self.articles, self.findings
        out.append(
            f"articles: {a.added} new, {a.updated} updated, {self.articles_deleted} deleted, "
            f"{self.articles_retracted} newly retracted"
        )
        out.append(f"findings: {f.added} added, {f.updated} changed, {f.removed} removed")
        out.append(f"requests: {self.requests}")
        return out


def refresh_topic(
    client: EntrezClient,
    store: Store,
    pack: TopicPack,
    options: RefreshOptions | None = None,
    *,
    lock_stale_after: timedelta | None = None,
) -> RefreshReport:
    """Run one refresh of ``pack``'s topic (see the module docs).

    A window that fails (NCBI unreachable after every retry, results EFetch does not return
    the first time) is recorded and its watermark kept; the other windows go on, and the run
    ends ``partial``.

    Raises:
        LockHeld: another live refresh holds the lock (nothing was done or recorded).
        LockLost: the lock was taken over mid-run (the run is recorded as failed).
        StoreError: the database failed (the run is recorded as failed if it can be).
    """
    options = options or RefreshOptions()
    lock = acquire(store.engine, pack.id, stale_after=lock_stale_after or STALE_AFTER)
    try:
        report = RefreshReport(topic_id=pack.id)
        report.run_id = store.start_run(pack.id, datetime.now(UTC))
        with _recorded(store, report, client):
            _refresh(client, store, pack, options, lock, report)
        return report
    finally:
        lock.release()


@contextmanager
def _recorded(store: Store, report: RefreshReport, client: EntrezClient) -> Iterator[None]:
    """Record the run's outcome in ``refresh_run``, whether it ends well or not."""
    assert report.run_id is not None
    try:
        yield
    except BaseException as exc:
        report.status = "failed"
        report.message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        report.requests = client.stats.requests
        try:
            store.save_run(report.run_id, finished_at=datetime.now(UTC), **report.run_values())
        except Exception:  # the database itself may be what failed; the original error matters
            log.exception("could not record the failed run")
        raise
    report.requests = client.stats.requests
    store.save_run(report.run_id, finished_at=datetime.now(UTC), **report.run_values())


def _refresh(
    client: EntrezClient,
    store: Store,
    pack: TopicPack,
    options: RefreshOptions,
    lock: RefreshLockHandle,
    report: RefreshReport,
) -> None:
    today = options.today or datetime.now(UTC).date()
    sync_pack(store, pack)
    retracted_before = store.count_retracted(pack.id)
    marks = store.get_watermarks(pack.id)
    if pack.spec.seeds and (SEEDS, "seed") not in marks:
        lock.check()
        window = Window(SEEDS, "seed", None, f"{today:%Y/%m/%d}")
        report.windows.append(window)
        _run_window(client, store, pack, report, window, today)
    for query in pack.spec.queries:
        lock.check()
        _run_query(client, store, pack, query, marks, options, today, report)
    if pack.spec.expansion.cited_by_depth > 0:
        lock.check()
        _recheck_cited_by(client, store, pack, marks, options, today, report)
    report.articles_retracted = max(0, store.count_retracted(pack.id) - retracted_before)
    store.refresh_summary()  # a no-op unless something above changed the KB's content
    failed = [w for w in report.windows if w.status != "success"]
    if failed:
        report.status = "partial"
        report.message = (
            f"{len(failed)} of {len(report.windows)} windows incomplete; their watermarks were kept "
            "and the next run redoes them"
        )
    else:
        report.status = "success" if report.changed else "nothing_new"


def _run_query(
    client: EntrezClient,
    store: Store,
    pack: TopicPack,
    query: SavedQuery,
    marks: dict[tuple[str, str], date],
    options: RefreshOptions,
    today: date,
    report: RefreshReport,
) -> None:
    """Search one saved query's window, then fetch, expand and extract what it found."""
    overlap = timedelta(days=options.overlap_days)
    edat, mdat = marks.get((query.name, "edat")), marks.get((query.name, "mdat"))
    maxdate = f"{today:%Y/%m/%d}"
    if edat is None:
        first = _since(query.since)
        window = Window(query.name, "edat", f"{first:%Y/%m/%d}" if first else None, maxdate)
    else:
        since = {"edat": edat - overlap, "mdat": (mdat or edat) - overlap}
        window = Window(query.name, "edat,mdat", f"{min(since.values()):%Y/%m/%d}", maxdate)
    report.windows.append(window)
    try:
        if edat is None:
            found = client.search(query.term, mindate=_since(query.since), maxdate=today, datetype="edat")
        else:
            found = client.search_since(query.term, since, today)  # type: ignore[arg-type]
    except FetchError as exc:
        window.status, window.message = "failed", str(exc)
        return
    window.found = len(found.pmids)
    _run_window(client, store, pack, report, window, today, pmids=found.pmids)


def _run_window(
    client: EntrezClient,
    store: Store,
    pack: TopicPack,
    report: RefreshReport,
    window: Window,
    today: date,
    pmids: tuple[str, ...] = (),
) -> None:
    """Fetch a window's records with their citations, re-extract, then move its watermarks."""
    seeds = window.query == SEEDS
    wanted = list(pack.spec.seeds) if seeds else list(pmids)
    if seeds:
        window.found = len(wanted)
    if wanted:
        known_missing = store.known_missing(f"pubmed:{p}" for p in wanted)
        expansion = pack.spec.expansion
        try:
            fetched = fetch_into_store(
                client,
                store,
                pack.id,
                pmids=wanted if seeds else (),
                query_name=None if seeds else window.query,
                query_pmids=() if seeds else wanted,
                refs_depth=expansion.refs_depth,
                cited_by_depth=expansion.cited_by_depth,
            )
        except FetchError as exc:
            window.status, window.message = "failed", str(exc)
            return
        _count(report, fetched)
        window.fetched = len(fetched.fetched)
        refused = (
            f"{len(fetched.refused)} record(s) refused, not stored: {fetched.refused[0]}" if fetched.refused else None
        )
        window.message = refused
        report.findings += extract_findings(store, pack, article_ids={f"pubmed:{p}" for p in fetched.fetched})
        lost = [p for p in fetched.start_missing if f"pubmed:{p}" not in known_missing]
        if lost:
            window.status = "failed"
            window.message = (
                f"EFetch did not return {len(lost)} of the records found ({', '.join(lost[:5])}"
                f"{' …' if len(lost) > 5 else ''}); recorded as missing, and accepted as gone if the next run "
                "does not get them either" + (f"; {refused}" if refused else "")
            )
            return
    datetypes = ("seed",) if seeds else ("edat", "mdat")
    store.set_watermarks(pack.id, window.query, dict.fromkeys(datetypes, today))
    window.status = "success"


def _recheck_cited_by(
    client: EntrezClient,
    store: Store,
    pack: TopicPack,
    marks: dict[tuple[str, str], date],
    options: RefreshOptions,
    today: date,
    report: RefreshReport,
) -> None:
    """Re-ask who cites the topic's seeds and query results, when the last check is old enough."""
    last = marks.get(("", "citedin"))
    if last is None:
        # The first run just followed every cited-by link: start the cadence from here.
        if all(w.status == "success" for w in report.windows):
            store.set_watermarks(pack.id, "", {"citedin": today})
        return
    if (today - last).days < options.citedin_every_days:
        return
    window = Window(CITED_BY, "citedin", f"{last:%Y/%m/%d}", f"{today:%Y/%m/%d}")
    report.windows.append(window)
    stored = [a.removeprefix("pubmed:") for a in store.topic_article_ids(pack.id, max_depth=0)]
    # Only PMIDs can be asked about. The parser refuses records with any other id, but a KB
    # written by an older version may hold one: it is named, not allowed to stop the check.
    frontier = [p for p in stored if is_pmid(p)]
    skipped = [p for p in stored if not is_pmid(p)]
    try:
        fetched = recheck_cited_by(client, store, pack.id, frontier, pack.spec.expansion.cited_by_depth)
    except FetchError as exc:
        window.status, window.message = "failed", str(exc)
        return
    _count(report, fetched)
    window.found = fetched.citations.added
    window.fetched = len(fetched.fetched)
    report.findings += extract_findings(store, pack, article_ids={f"pubmed:{p}" for p in fetched.fetched})
    store.set_watermarks(pack.id, "", {"citedin": today})
    window.status = "success"
    if skipped:
        window.message = (
            f"skipped {len(skipped)} stored article id(s) that are not PMIDs, e.g. {shown('pubmed:' + skipped[0])}; "
            "remove them (a current 'kb ingest' or 'kb fetch' refuses such records)"
        )


def _count(report: RefreshReport, fetched: FetchReport) -> None:
    report.articles += fetched.articles
    report.articles_deleted += fetched.deleted.removed
    report.links_added += fetched.citations.added + fetched.sources.added


def _since(value: str | None) -> date | None:
    """A saved query's ``since`` (YYYY, YYYY/MM or YYYY/MM/DD) as the first day it covers."""
    if not value:
        return None
    parts = [int(p) for p in value.split("/")]
    return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
