"""The raw cache and the request pacing: pure, local, no server needed."""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import pytest

from ingest.cache import RawCache, cache_key
from ingest.entrez import EntrezConfig, RateLimiter, _retry_after


def test_key_ignores_credentials_and_parameter_order() -> None:
    a = cache_key("efetch", {"db": "pubmed", "id": "1,2", "email": "a@b", "api_key": "K"})
    b = cache_key("efetch", {"id": "1,2", "db": "pubmed", "tool": "x"})
    assert a == b
    assert cache_key("efetch", {"db": "pubmed", "id": "1,3"}) != a
    assert cache_key("esearch", {"db": "pubmed", "id": "1,2"}) != a


def test_pending_body_is_replayed_only_after_promotion(tmp_path: Path) -> None:
    cache = RawCache(tmp_path)
    params = {"db": "pubmed", "id": "1", "api_key": "SECRET-KEY", "email": "me@example.org"}
    key = cache.put_pending("efetch", params, b"<xml/>", status=200, content_type="text/xml")
    assert cache.get("efetch", params) is None  # written, but not yet a result
    cache.promote("efetch", key)
    assert cache.get("efetch", params) == b"<xml/>"
    [entry] = list(cache.entries())
    assert entry.params == {"db": "pubmed", "id": "1"}
    assert entry.read() == b"<xml/>"
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    stored += b"".join(gzip.decompress(p.read_bytes()) for p in tmp_path.rglob("*.gz"))
    assert b"SECRET-KEY" not in stored and b"me@example.org" not in stored


def test_rejected_body_is_kept_for_diagnosis_but_never_replayed(tmp_path: Path) -> None:
    cache = RawCache(tmp_path)
    params = {"db": "pubmed", "id": "1"}
    key = cache.put_pending("efetch", params, b"<html>busy</html>", status=200, content_type="text/html")
    cache.reject("efetch", key, "an HTML page came back instead of XML")
    assert cache.get("efetch", params) is None
    assert list(cache.entries()) == []
    [body] = list((tmp_path / "rejected").rglob("*.gz"))
    assert gzip.decompress(body.read_bytes()) == b"<html>busy</html>"
    assert "HTML page" in body.with_suffix(".json").read_text()


def test_rate_limiter_spaces_starts_across_threads() -> None:
    limiter = RateLimiter(20)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            ticket = limiter.acquire()
            with lock:
                starts.append(time.monotonic())
            limiter.sent(ticket)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 32
    # Never faster than the rate: the k-th start comes k intervals after the first, or later.
    # (Not "every gap is an interval": a thread records its start after waking from its sleep,
    # which a loaded machine delays by milliseconds, so two recorded starts can sit closer
    # together than their slots did. That check failed now and then on a busy machine.)
    assert all(start - starts[0] >= k / 20 - 0.01 for k, start in enumerate(starts)), starts
    window = max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts)
    assert window <= 20


def test_rate_limiter_pause_holds_everyone_back() -> None:
    limiter = RateLimiter(100)
    limiter.acquire()
    limiter.pause(0.3)
    start = time.monotonic()
    limiter.acquire()
    assert time.monotonic() - start >= 0.25


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None)])
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    assert _retry_after(header) == expected


def test_retry_after_http_date_is_in_the_future() -> None:
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))
    value = _retry_after(stamp)
    assert value is not None and 3 <= value <= 6


def test_config_rate_follows_ncbi_limits_and_hides_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCBI_EMAIL", "me@example.org")
    monkeypatch.setenv("NCBI_API_KEY", "SECRET-KEY")
    monkeypatch.setenv("KB_EUTILS_URL", "http://127.0.0.1:1/eutils")
    config = EntrezConfig.from_env()
    assert (config.email, config.base_url, config.allowed_rate) == ("me@example.org", "http://127.0.0.1:1/eutils", 10)
    assert "SECRET-KEY" not in repr(config)
    assert EntrezConfig(rate=2).allowed_rate == 2
    assert EntrezConfig(rate=50).allowed_rate == 3
