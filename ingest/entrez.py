"""The Entrez client: the only module that talks to NCBI.

Requests are built by Biopython's ``Bio.Entrez`` and sent through ``Bio.Entrez.urlopen``, but
sending, pacing, retrying and checking are ours, because Bio.Entrez (1.88) gets them wrong
for a long unattended job: its rate limiter is a global without a lock, it retries 429 and
5xx at once without passing the limiter again, it never retries a truncated body, it calls
``urlopen`` without a timeout, and a comma-joined ``id`` list to ELink merges every paper's
links into one set.

Here:

- one lock-protected limiter paces *every* attempt (3 requests/s without an API key, 10 with
  one, or lower if configured) by the times requests were actually sent, so that no sliding
  second holds more than the limit (see :class:`RateLimiter`), and a 429 pauses it for
  everyone; a ``Retry-After`` is waited out up to ``retry_after_cap`` (60 s), and a longer
  one fails the request at once (and every request until that time) instead of sleeping;
- retries use exponential backoff with full jitter, for 429, 5xx, connection errors,
  timeouts, truncated bodies, HTML pages and transient ``<ERROR>`` messages inside a 200;
- 400 and 414 split the batch in two;
- EFetch posts batches of ids and checks the PMIDs returned against those requested; ids
  still missing after one more try are reported, not retried forever;
- ELink asks one link name at a time in the one-set-per-id form, so each link keeps its source;
- ESearch works in date windows and splits a window that reaches PubMed's 9,999-record cap;
- every body goes to the raw cache before it is parsed; ``offline`` replays the cache.

The API key is never logged, stored in the cache or shown in errors.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import os
import random
import re
import threading
import time
import urllib.error
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

from Bio import Entrez

from ingest.cache import RawCache
from ingest.errors import FetchError, ParseError
from ingest.pubmed import DeletedCitations, PubmedArticle, RefusedRecord, parse_pubmed_bytes
from kb.identifiers import is_pmid, shown

log = logging.getLogger(__name__)

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
SEARCH_CAP = 9999
LinkName = Literal["pubmed_pubmed_refs", "pubmed_pubmed_citedin"]
DateType = Literal["edat", "mdat", "pdat"]

T = TypeVar("T")

#: ``<ERROR>`` messages that no retry will fix.
_PERMANENT_ERRORS = (
    "invalid",
    "cannot be larger than",
    "empty id list",
    "neither query_key nor id",
    "unknown",
    "not supported",
    "bad request",
)
_ERROR_RE = re.compile(rb"<ERROR>(.*?)</ERROR>", re.DOTALL)


@dataclass(frozen=True)
class EntrezConfig:
    """How to reach NCBI and how hard to push it.

    ``NCBI_EMAIL``, ``NCBI_API_KEY`` and ``KB_EUTILS_URL`` come from the environment through
    :meth:`from_env`; the key is kept out of ``repr``.
    """

    email: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tool: str = "treatment-evidence-kb"
    base_url: str = EUTILS_URL
    rate: float | None = None
    concurrency: int = 3
    timeout: float = 60.0
    max_tries: int = 6
    backoff: float = 0.5
    backoff_cap: float = 60.0
    #: The longest a ``Retry-After`` is waited out; a longer one ends the request (see request()).
    retry_after_cap: float = 60.0
    efetch_batch: int = 200
    elink_batch: int = 100

    @classmethod
    def from_env(cls, **overrides: Any) -> EntrezConfig:
        values: dict[str, Any] = {
            "email": os.environ.get("NCBI_EMAIL") or None,
            "api_key": os.environ.get("NCBI_API_KEY") or None,
            "base_url": os.environ.get("KB_EUTILS_URL") or EUTILS_URL,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def allowed_rate(self) -> float:
        """Requests per second: NCBI's limit (3, or 10 with a key), or the configured lower rate."""
        ncbi = 10.0 if self.api_key else 3.0
        return min(self.rate, ncbi) if self.rate else ncbi


#: How much wider than NCBI's limit requests are spaced: at most ``limit`` sends in any
#: ``1.05`` s (and starts ``1.05 / rate`` s apart), so that a send can reach NCBI up to 50 ms
#: later than the next one without two landing in one second.
SAFETY_MARGIN = 0.05


class _Send:
    """One request's place in the limiter: when it started and when its bytes were all sent."""

    __slots__ = ("sent", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.sent: float | None = None


class RateLimiter:
    """At most ``limit`` requests in any sliding window, measured on *actual* send times.

    NCBI counts the requests it receives in each second, wherever the second starts. A
    schedule of evenly spaced slots is not enough: a thread that wakes late, or is slow to
    connect, sends close to the next one. Here a request may start only when

    - the ``limit``-th request before it has finished sending (its last byte handed to the
      network, :meth:`sent`) at least ``window`` seconds ago, and
    - the request before it started at least ``window / limit`` seconds ago;

    where ``limit`` is ``rate`` rounded down (at least 1) and ``window`` is
    ``max(1, limit / rate)`` seconds widened by :data:`SAFETY_MARGIN`. A request starts after
    :meth:`acquire` returns, so it arrives after its recorded start; the request ``limit``
    places earlier arrived before its recorded end of sending (plus the network's delay,
    which the margin covers). No sliding second at the server then holds more than ``limit``.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.limit = max(1, int(rate))
        self.window = max(1.0, self.limit / rate) * (1 + SAFETY_MARGIN)
        self.interval = self.window / self.limit
        self._clock = clock
        self._recent: deque[_Send] = deque(maxlen=self.limit)
        self._paused_until = 0.0
        self._cond = threading.Condition()

    def acquire(self) -> _Send:
        """Wait until a request may start; return its ticket, to pass to :meth:`sent`."""
        with self._cond:
            while True:
                now = self._clock()
                ready = self._paused_until
                if self._recent:
                    ready = max(ready, self._recent[-1].start + self.interval)
                if len(self._recent) == self.limit:
                    oldest = self._recent[0]
                    if oldest.sent is None:  # still sending: its end is not known yet
                        self._cond.wait(0.05)
                        continue
                    ready = max(ready, oldest.sent + self.window)
                if ready <= now:
                    ticket = _Send(now)
                    self._recent.append(ticket)
                    return ticket
                self._cond.wait(ready - now)

    def sent(self, ticket: _Send) -> None:
        """Record that the request has been sent (or failed before it could be); idempotent."""
        with self._cond:
            if ticket.sent is None:
                ticket.sent = self._clock()
                self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (after a 429)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


class _StampedBody:
    """A request body that tells the limiter when its last byte has been handed to the socket.

    ``http.client`` sends an iterable body chunk by chunk; the code after the ``yield`` runs
    when it asks for the next chunk, i.e. once ``sendall`` of the whole body has returned.
    """

    def __init__(self, data: bytes, on_sent: Callable[[], None]) -> None:
        self._data = data
        self._on_sent = on_sent

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        self._on_sent()


@dataclass
class RequestStats:
    """Counts of what the client did, for reports and benchmarks."""

    requests: int = 0
    retries: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def problem(self, kind: str) -> None:
        with self._lock:
            self.retries += 1
            self.problems[kind] = self.problems.get(kind, 0) + 1


class _Retry(Exception):
    """A transient failure: wait and try again (``wait`` overrides the backoff)."""

    def __init__(self, kind: str, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.wait = wait


class _Split(Exception):
    """The server refused the batch as too large (400 / 414): split it."""


@dataclass(frozen=True)
class SearchResult:
    """PMIDs matching a query, and the date windows that were searched."""

    pmids: tuple[str, ...]
    windows: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class FetchResult:
    """Articles returned by EFetch, deletions announced, and requested ids never returned.

    ``refused`` holds a message per record the parser refused (an identifier not of its
    shape); such a record is not in ``articles``, and its PMID, if it was asked for, is in
    ``missing``.
    """

    articles: tuple[PubmedArticle, ...]
    deleted: tuple[str, ...]
    missing: tuple[str, ...]
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkResult:
    """For each source PMID, the PMIDs linked under one link name; ids with no answer."""

    linkname: str
    links: dict[str, tuple[str, ...]]
    missing: tuple[str, ...]


class EntrezClient:
    """A polite, fault-tolerant E-utilities client (see the module docs).

    Args:
        config: where NCBI is and how hard to push it.
        cache: the raw cache; every response is written there before it is parsed.
        offline: answer only from the cache, never touch the network.
    """

    def __init__(self, config: EntrezConfig, cache: RawCache | None = None, *, offline: bool = False) -> None:
        if not offline and not config.email:
            raise FetchError("NCBI asks every E-utilities user for an email address: pass --email or set NCBI_EMAIL")
        if offline and cache is None:
            raise FetchError("offline mode replays the raw cache, but no cache was given")
        self.config = config
        self.cache = cache
        self.offline = offline
        self.limiter = RateLimiter(config.allowed_rate)
        self.stats = RequestStats()
        self._blocked_until = 0.0  # wall-clock time NCBI asked us not to send before (Retry-After)

    # -- the request loop ----------------------------------------------------------------

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        full = {"tool": self.config.tool, "email": self.config.email, **params}
        if self.config.api_key:
            full["api_key"] = self.config.api_key
        return full

    def request(
        self,
        endpoint: str,
        params: dict[str, Any],
        check: Callable[[bytes], T],
        *,
        post: bool = False,
        join_ids: bool = True,
    ) -> T:
        """Send one E-utilities request until it yields a body that ``check`` accepts.

        ``check`` parses the body and raises :class:`ParseError` (or ``_Retry``) when the
        body is not what was asked for; that counts as a failed attempt.

        Raises:
            FetchError: every attempt failed, or the failure is permanent; the message says
                what happened and what to do.
            _Split: the server refused the batch as too large.
        """
        cache_params = {**params, "_form": "per-id" if not join_ids else "joined"}
        if self.offline:
            assert self.cache is not None
            body = self.cache.get(endpoint, cache_params)
            if body is None:
                raise FetchError(
                    f"{endpoint} {_describe(params)} is not in the raw cache at {self.cache.root}; "
                    "run without --offline to fetch it"
                )
            self.stats.cache_hits += 1
            return check(body)

        last = "no attempt made"
        for attempt in range(1, self.config.max_tries + 1):
            self._check_not_blocked(endpoint, params)
            ticket = self.limiter.acquire()
            self.stats.count(endpoint)
            try:
                try:
                    body, status, content_type = self._send(
                        endpoint,
                        params,
                        post=post,
                        join_ids=join_ids,
                        on_sent=functools.partial(self.limiter.sent, ticket),
                    )
                finally:
                    self.limiter.sent(ticket)  # a GET, or a request that failed before its body went out
                key = (
                    self.cache.put_pending(endpoint, cache_params, body, status=status, content_type=content_type)
                    if self.cache
                    else None
                )
                try:
                    result = self._check(body, content_type, check)
                except (_Retry, FetchError) as exc:
                    if self.cache and key:
                        self.cache.reject(endpoint, key, str(exc))
                    raise
                if self.cache and key:
                    self.cache.promote(endpoint, key)
                return result
            except _Retry as exc:
                last = str(exc)
                self.stats.problem(exc.kind)
                if exc.kind == "429" and exc.wait is not None and exc.wait > self.config.retry_after_cap:
                    self._blocked_until = max(self._blocked_until, time.time() + exc.wait)
                    raise FetchError(
                        f"{endpoint} {_describe(params)}: NCBI answered 429 with Retry-After {exc.wait:.0f} s, "
                        f"longer than the {self.config.retry_after_cap:.0f} s this client waits; stopped instead "
                        "of waiting (what was fetched is kept; run again later)"
                    ) from None
                if attempt == self.config.max_tries:
                    break
                wait = exc.wait if exc.wait is not None else self._backoff(attempt)
                if exc.kind == "429":
                    self.limiter.pause(wait)
                log.info("%s attempt %d failed (%s); retrying in %.1f s", endpoint, attempt, exc, wait)
                time.sleep(wait)
        raise FetchError(
            f"{endpoint} {_describe(params)} failed after {self.config.max_tries} attempts; last: {last}. "
            "NCBI may be down or throttling; run again later (what was fetched is kept)"
        )

    def _check_not_blocked(self, endpoint: str, params: dict[str, Any]) -> None:
        """Refuse to send while a ``Retry-After`` longer than the cap is running.

        Raises:
            FetchError: NCBI asked for no requests until a time still ahead.
        """
        if time.time() < self._blocked_until:
            until = datetime.fromtimestamp(self._blocked_until, UTC)
            raise FetchError(
                f"{endpoint} {_describe(params)} not sent: NCBI asked (Retry-After) for no requests before "
                f"{until:%Y-%m-%d %H:%M:%S} UTC; run again after that"
            )

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.config.backoff_cap, self.config.backoff * 2**attempt))  # noqa: S311

    def _send(
        self, endpoint: str, params: dict[str, Any], *, post: bool, join_ids: bool, on_sent: Callable[[], None]
    ) -> tuple[bytes, int, str]:
        url = f"{self.config.base_url.rstrip('/')}/{endpoint}.fcgi"
        request = Entrez._build_request(url, self._params(params), post=post or None, join_ids=join_ids)
        if isinstance(request.data, bytes):
            # Sent as an iterable so the limiter learns when the body has gone out; the
            # length is set after the body (setting ``data`` drops a Content-Length header).
            data = request.data
            request.data = _StampedBody(data, on_sent)  # type: ignore[assignment]
            request.add_header("Content-Length", str(len(data)))
        try:
            with Entrez.urlopen(request, timeout=self.config.timeout) as response:
                body = response.read()
                status = response.status
                content_type = response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            code = exc.code
            if code == 429:
                raise _Retry(
                    "429", "HTTP 429 Too Many Requests", _retry_after(exc.headers.get("Retry-After"))
                ) from None
            if code in (400, 414):
                raise _Split(f"HTTP {code}") from None
            if code >= 500:
                raise _Retry(f"{code}", f"HTTP {code} {exc.reason}") from None
            raise FetchError(f"{endpoint} {_describe(params)} was refused: HTTP {code} {exc.reason}") from None
        except http.client.IncompleteRead as exc:
            raise _Retry("truncated", f"body cut off after {len(exc.partial)} bytes") from None
        except TimeoutError as exc:
            raise _Retry("timeout", f"no answer within {self.config.timeout:.0f} s") from exc
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise _Retry("timeout", f"no answer within {self.config.timeout:.0f} s") from exc
            raise _Retry("connection", f"connection failed: {reason}") from exc
        return body, status, content_type

    @staticmethod
    def _check(body: bytes, content_type: str, check: Callable[[bytes], T]) -> T:
        head = body[:1024].lstrip().lower()
        if content_type == "text/html" or head.startswith((b"<!doctype html", b"<html")):
            raise _Retry("html", "an HTML page came back instead of XML")
        error = _ERROR_RE.search(body[:65536])
        if error and error.group(1).strip():
            message = error.group(1).decode("utf-8", "replace").strip()
            if any(p in message.lower() for p in _PERMANENT_ERRORS):
                raise FetchError(f"NCBI answered with an error: {message}")
            raise _Retry("error-200", f"NCBI answered with an error: {message}")
        try:
            return check(body)
        except ParseError as exc:
            raise _Retry("malformed", str(exc)) from exc

    # -- ESearch ---------------------------------------------------------------------------

    def search(
        self,
        term: str,
        *,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: DateType = "edat",
    ) -> SearchResult:
        """Every PMID matching ``term`` with a ``datetype`` date in [mindate, maxdate].

        Windows reaching PubMed's 9,999-record cap are split in two until each fits.

        Raises:
            FetchError: the search failed, or a single day holds more than 9,999 records.
        """
        start = mindate or date(1800, 1, 1)
        end = maxdate or date.today()
        pmids: dict[str, None] = {}
        windows: list[tuple[str, str, int]] = []
        pending = [(start, end)]
        while pending:
            low, high = pending.pop(0)
            count, ids = self._search_window(term, low, high, datetype)
            if count > len(ids):
                if low >= high:
                    raise FetchError(
                        f"{count} records match {term!r} on {low:%Y/%m/%d} alone, more than PubMed returns "
                        f"({SEARCH_CAP}); narrow the query"
                    )
                middle = low + (high - low) // 2
                pending[:0] = [(low, middle), (middle + timedelta(days=1), high)]
                continue
            windows.append((f"{low:%Y/%m/%d}", f"{high:%Y/%m/%d}", count))
            pmids.update(dict.fromkeys(ids))
        return SearchResult(pmids=tuple(pmids), windows=tuple(windows))

    def search_since(self, term: str, since: dict[DateType, date], until: date) -> SearchResult:
        """PMIDs matching ``term`` with *any* of several dates in its window, in one request.

        ``since`` maps date types to the first day of their window, e.g. ``{"edat": d1,
        "mdat": d2}``: records entered since d1 or modified since d2, up to ``until``. The
        windows are written into the query as ``FROM:TO[edat] OR FROM:TO[mdat]``, PubMed's
        date-range syntax, so a refresh that finds nothing costs one request per saved
        query. Should the union reach PubMed's 9,999-record cap, each date type is searched
        on its own with :meth:`search`, which splits its window.

        Raises:
            FetchError: the search failed.
        """
        if not since:
            raise ValueError("search_since needs at least one date type")
        ranges = " OR ".join(f"{low:%Y/%m/%d}:{until:%Y/%m/%d}[{datetype}]" for datetype, low in sorted(since.items()))
        combined = f"({term}) AND ({ranges})"
        params = {"db": "pubmed", "term": combined, "retmax": SEARCH_CAP, "retmode": "xml"}

        def check(body: bytes) -> tuple[int, list[str]]:
            record = _entrez_read(body, "esearch")
            return int(record["Count"]), _pmids_only([str(i) for i in record["IdList"]], "esearch")

        count, ids = self.request("esearch", params, check, post=True)
        first = min(since.values())
        if count <= len(ids):
            window = (f"{first:%Y/%m/%d}", f"{until:%Y/%m/%d}", count)
            return SearchResult(pmids=tuple(dict.fromkeys(ids)), windows=(window,))
        pmids: dict[str, None] = {}
        windows: list[tuple[str, str, int]] = []
        for datetype, low in sorted(since.items()):
            part = self.search(term, mindate=low, maxdate=until, datetype=datetype)
            pmids.update(dict.fromkeys(part.pmids))
            windows.extend(part.windows)
        return SearchResult(pmids=tuple(pmids), windows=tuple(windows))

    def _search_window(self, term: str, low: date, high: date, datetype: str) -> tuple[int, list[str]]:
        params = {
            "db": "pubmed",
            "term": term,
            "datetype": datetype,
            "mindate": f"{low:%Y/%m/%d}",
            "maxdate": f"{high:%Y/%m/%d}",
            "retmax": SEARCH_CAP,
            "retmode": "xml",
        }

        def check(body: bytes) -> tuple[int, list[str]]:
            record = _entrez_read(body, "esearch")
            return int(record["Count"]), _pmids_only([str(i) for i in record["IdList"]], "esearch")

        return self.request("esearch", params, check, post=True)

    # -- EFetch ----------------------------------------------------------------------------

    def fetch(self, pmids: Iterable[str]) -> FetchResult:
        """PubMed records for ``pmids``, fetched in POST batches by a few threads.

        Ids the first pass did not return are asked for once more on their own; those still
        missing are reported in ``missing`` (deleted, merged or never existed).
        """
        wanted = sorted(set(_check_pmids(pmids)), key=int)
        articles: dict[str, PubmedArticle] = {}
        deleted: set[str] = set()
        refused: dict[str, str] = {}  # PMID (or message) → message; a refused record is not asked for again
        for _ in range(2):
            todo = [p for p in wanted if p not in articles and p not in refused]
            for found, gone, bad in self._batched(todo, self.config.efetch_batch, self._fetch_batch):
                articles.update((a.pmid, a) for a in found)
                deleted.update(gone)
                refused.update((r.pmid or r.message, r.message) for r in bad)
        return FetchResult(
            articles=tuple(articles[p] for p in wanted if p in articles),
            deleted=tuple(sorted(deleted, key=int)),
            missing=tuple(p for p in wanted if p not in articles),
            refused=tuple(refused.values()),
        )

    def _fetch_batch(self, batch: list[str]) -> tuple[list[PubmedArticle], list[str], list[RefusedRecord]]:
        params = {"db": "pubmed", "id": ",".join(batch), "retmode": "xml"}
        requested = set(batch)

        def check(body: bytes) -> tuple[list[PubmedArticle], list[str], list[RefusedRecord]]:
            records = parse_pubmed_bytes(body, source_name=f"efetch of {len(batch)} ids")
            found = [r for r in records if isinstance(r, PubmedArticle)]
            gone = [p for r in records if isinstance(r, DeletedCitations) for p in r.pmids]
            refused = [r for r in records if isinstance(r, RefusedRecord)]
            stray = {a.pmid for a in found} - requested
            if stray:
                raise ParseError(f"efetch returned PMIDs that were not asked for: {sorted(stray)[:5]}")
            return found, gone, refused

        try:
            return self.request("efetch", params, check, post=True)
        except _Split:
            if len(batch) == 1:
                raise FetchError(f"NCBI refuses to fetch PMID {batch[0]} (HTTP 400)") from None
            half = len(batch) // 2
            first, second = self._fetch_batch(batch[:half]), self._fetch_batch(batch[half:])
            return first[0] + second[0], first[1] + second[1], first[2] + second[2]

    # -- ELink -----------------------------------------------------------------------------

    def links(self, pmids: Iterable[str], linkname: LinkName) -> LinkResult:
        """For each PMID, the PMIDs it is linked to by ``linkname``.

        ``pubmed_pubmed_refs`` gives what each paper cites, ``pubmed_pubmed_citedin`` the
        papers citing it. Ids are sent in the one-set-per-id form so every link keeps its
        source; ids without an answer are asked for once more, then reported in ``missing``.
        """
        wanted = sorted(set(_check_pmids(pmids)), key=int)
        links: dict[str, tuple[str, ...]] = {}
        for _ in range(2):
            todo = [p for p in wanted if p not in links]
            for part in self._batched(todo, self.config.elink_batch, lambda b: self._link_batch(b, linkname)):
                links.update(part)
        return LinkResult(
            linkname=linkname,
            links={p: links[p] for p in wanted if p in links},
            missing=tuple(p for p in wanted if p not in links),
        )

    def _link_batch(self, batch: list[str], linkname: str) -> dict[str, tuple[str, ...]]:
        params = {"dbfrom": "pubmed", "db": "pubmed", "linkname": linkname, "cmd": "neighbor", "id": list(batch)}
        requested = set(batch)

        def check(body: bytes) -> dict[str, tuple[str, ...]]:
            result: dict[str, tuple[str, ...]] = {}
            for linkset in _entrez_read(body, "elink"):
                ids = [str(i) for i in linkset.get("IdList", [])]
                if len(ids) != 1:
                    raise ParseError(f"elink merged {len(ids)} ids into one link set; expected one set per id")
                if ids[0] not in requested:
                    raise ParseError(f"elink answered for PMID {ids[0]}, which was not asked for")
                targets = [
                    str(link["Id"])
                    for db in linkset.get("LinkSetDb", [])
                    if db.get("LinkName") == linkname
                    for link in db.get("Link", [])
                ]
                _pmids_only(targets, "elink")
                result[ids[0]] = tuple(targets)
            return result

        try:
            return self.request("elink", params, check, post=True, join_ids=False)
        except _Split:
            if len(batch) == 1:
                raise FetchError(f"NCBI refuses links for PMID {batch[0]} (HTTP 400)") from None
            half = len(batch) // 2
            return {**self._link_batch(batch[:half], linkname), **self._link_batch(batch[half:], linkname)}

    # -- helpers ---------------------------------------------------------------------------

    def _batched(self, ids: list[str], size: int, fn: Callable[[list[str]], T]) -> list[T]:
        """``fn`` over ``ids`` in batches of ``size``, run by up to ``concurrency`` threads."""
        return self._map(fn, [ids[i : i + size] for i in range(0, len(ids), size)])

    def _map(self, fn: Callable[[list[str]], T], batches: Sequence[list[str]]) -> list[T]:
        if len(batches) <= 1 or self.config.concurrency <= 1:
            return [fn(b) for b in batches]
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="entrez") as pool:
            return list(pool.map(fn, batches))


def _entrez_read(body: bytes, endpoint: str) -> Any:
    try:
        return Entrez.read(io.BytesIO(body), validate=True)
    except RuntimeError as exc:  # an <ERROR> the pre-check did not see
        raise ParseError(f"{endpoint}: {exc}") from exc
    except Exception as exc:  # CorruptedXMLError, NotXMLError, ValidationError, expat errors
        raise ParseError(
            f"{endpoint}: the response is not valid E-utilities XML ({type(exc).__name__}: {exc})"
        ) from exc


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _pmids_only(ids: list[str], endpoint: str) -> list[str]:
    """``ids`` from an answer, which must all be PMIDs.

    Raises:
        ParseError: one is not (a malformed answer: the attempt fails and is retried).
    """
    bad = next((i for i in ids if not is_pmid(i)), None)
    if bad is not None:
        raise ParseError(f"{endpoint} answered with {shown(bad)}, which is not a PMID")
    return ids


def _check_pmids(pmids: Iterable[str]) -> list[str]:
    checked = []
    for pmid in pmids:
        text = str(pmid).strip().removeprefix("pubmed:")
        if not text.isdigit():
            raise FetchError(f"{pmid!r} is not a PMID (PMIDs are whole numbers such as 38535057)")
        checked.append(str(int(text)))
    return checked


def _describe(params: dict[str, Any]) -> str:
    ids = params.get("id")
    if ids is not None:
        n = len(ids) if isinstance(ids, list) else len(str(ids).split(","))
        return f"for {n} id{'s' if n != 1 else ''}"
    if "term" in params:
        return f"for {params['term']!r} {params.get('mindate', '')}–{params.get('maxdate', '')}"
    return ""
