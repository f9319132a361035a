"""When the KB was last updated, and at which revision: the stamp every site page carries.

"Last updated" is the latest moment anything entered the KB: an article or finding was
stored, or a refresh run finished successfully. The revision is the KB's change counter
(:class:`kb.models.KBState`), so two builds of the same revision show the same numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect
from sqlmodel import Session, col, select

from kb.models import Article, Finding, KBState, RefreshRun
from queries.db import DB, connect

__all__ = ["kb_stamp", "stamp_text"]


def kb_stamp(*, db: DB = None) -> dict[str, Any]:
    """The KB's ``revision`` (None before any write) and ``updated`` (an aware UTC datetime, or None)."""
    engine = connect(db)
    with Session(engine) as session:
        revision = None
        if inspect(engine).has_table("kb_state"):
            revision = session.exec(select(KBState.revision).where(KBState.id == 1)).first()
        moments = [
            session.exec(select(func.max(col(Article.created_at)))).one(),
            session.exec(select(func.max(col(Finding.created_at)))).one(),
            session.exec(
                select(func.max(col(RefreshRun.finished_at))).where(
                    col(RefreshRun.status).in_(("success", "nothing_new"))
                )
            ).one(),
        ]
    known = [m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments if isinstance(m, datetime)]
    return {"revision": revision, "updated": max(known) if known else None}


def stamp_text(*, db: DB = None) -> str:
    """``Last updated 2025-06-01 · KB revision 12``, as every page's footer shows it."""
    stamp = kb_stamp(db=db)
    updated = stamp["updated"].strftime("%Y-%m-%d") if stamp["updated"] else "never"
    revision = stamp["revision"] if stamp["revision"] is not None else "–"
    return f"Last updated {updated} · KB revision {revision}"
