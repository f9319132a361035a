"""The raw cache: every E-utilities response body, exactly as received, gzip-compressed.

A body is written to disk *before* it is parsed, as ``pending``; once the client has checked
it (well-formed, no ``<ERROR>``, the ids it should have) it is promoted to a result, which
``--offline`` replays. A body that fails the checks is moved to ``rejected/`` for diagnosis
and is never replayed as a result. Each entry has a JSON sidecar with the request metadata
(endpoint, parameters, status, content type, time); credentials (``api_key``, ``email``) are
never written.

Entries are keyed on the endpoint and the request parameters (order-insensitive, without
credentials), so the same request replays the same body.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Parameters that identify the caller, not the request: never part of a key, never stored.
CREDENTIALS = frozenset({"api_key", "email", "tool"})

ParamValue = str | int | Sequence[str]


def normalise_params(params: Mapping[str, object]) -> dict[str, object]:
    """Request parameters without credentials, with values as strings or lists of strings."""
    clean: dict[str, object] = {}
    for name, value in sorted(params.items()):
        if name in CREDENTIALS or value is None:
            continue
        if isinstance(value, (list, tuple)):
            clean[name] = [str(v) for v in value]
        else:
            clean[name] = str(value)
    return clean


def cache_key(endpoint: str, params: Mapping[str, object]) -> str:
    """The cache key of a request: a SHA-256 over the endpoint and its normalised parameters."""
    blob = json.dumps({"endpoint": endpoint, "params": normalise_params(params)}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached response: where its body is and the request that produced it."""

    key: str
    endpoint: str
    params: dict[str, object]
    body_path: Path
    fetched_at: str
    status: int
    content_type: str

    def read(self) -> bytes:
        with gzip.open(self.body_path, "rb") as handle:
            return handle.read()


class RawCache:
    """A folder of raw responses (see the module docs)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _paths(self, endpoint: str, key: str) -> tuple[Path, Path, Path]:
        folder = self.root / endpoint / key[:2]
        return folder / f"{key}.xml.gz", folder / f"{key}.pending.gz", folder / f"{key}.json"

    def put_pending(
        self, endpoint: str, params: Mapping[str, object], body: bytes, *, status: int, content_type: str
    ) -> str:
        """Store a body as received, before anyone parses it; return its key."""
        key = cache_key(endpoint, params)
        _, pending, meta = self._paths(endpoint, key)
        pending.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(pending, gzip.compress(body, compresslevel=6, mtime=0))
        metadata = {
            "endpoint": endpoint,
            "params": normalise_params(params),
            "status": status,
            "content_type": content_type,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _atomic_write(meta, json.dumps(metadata, indent=1, sort_keys=True).encode("utf-8"))
        return key

    def promote(self, endpoint: str, key: str) -> None:
        """Mark a pending body as a checked result: ``--offline`` will replay it."""
        result, pending, _ = self._paths(endpoint, key)
        os.replace(pending, result)

    def reject(self, endpoint: str, key: str, reason: str) -> None:
        """Move a pending body that failed its checks to ``rejected/``, with the reason."""
        _, pending, meta = self._paths(endpoint, key)
        if not pending.exists():
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.root / "rejected" / endpoint / f"{key}-{stamp}.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(pending, target)
        details = json.loads(meta.read_text()) if meta.exists() else {}
        details["rejected_because"] = reason
        _atomic_write(target.with_suffix(".json"), json.dumps(details, indent=1, sort_keys=True).encode("utf-8"))

    def get(self, endpoint: str, params: Mapping[str, object]) -> bytes | None:
        """The checked body cached for this request, or None."""
        result, _, _ = self._paths(endpoint, cache_key(endpoint, params))
        if not result.is_file():
            return None
        with gzip.open(result, "rb") as handle:
            return handle.read()

    def entries(self, endpoint: str | None = None) -> Iterator[CacheEntry]:
        """Every checked result in the cache (optionally of one endpoint), in key order."""
        folders = [self.root / endpoint] if endpoint else sorted(p for p in self.root.glob("*") if p.name != "rejected")
        for folder in folders:
            for body in sorted(folder.glob("*/*.xml.gz")):
                key = body.name.removesuffix(".xml.gz")
                meta = json.loads((body.parent / f"{key}.json").read_text())
                yield CacheEntry(
                    key=key,
                    endpoint=meta["endpoint"],
                    params=meta["params"],
                    body_path=body,
                    fetched_at=meta["fetched_at"],
                    status=meta["status"],
                    content_type=meta["content_type"],
                )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
