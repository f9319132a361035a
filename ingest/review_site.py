"""``kb build --reviewed-only``: publish only what a person has checked.

The site is built from a copy of the KB (a SQLite file beside the site, whatever database the
KB is on) from which every unreviewed machine finding is removed; curated findings, reviewed
ones among them, stay. The KB itself is not changed.
"""

from __future__ import annotations

from pathlib import Path

from kb.db import sqlite_url
from kb.store import Store


def reviewed_only_copy(db: str | None, target: Path) -> str:
    """Write a copy of the KB at ``db`` without unreviewed machine findings to ``target`` (a new
    SQLite file, replacing an earlier copy); return its URL.

    Raises:
        StoreError: either database cannot be read or written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in (target, target.with_name(target.name + "-journal")):
        stale.unlink(missing_ok=True)
    url = sqlite_url(target)
    source = Store.open(db, upgrade=False)
    copy = Store.open(url, backup=False)
    try:
        copy.copy_from(source.engine)
        copy.delete_extracted_findings()
        copy.refresh_summary(force=True)
    finally:
        copy.close()
        source.close()
    return url
