"""The store: the only module that writes to the knowledge base.

Every ``save_*`` method is an upsert keyed on the row's natural key and reports what it
changed as :class:`Changes`; saving the same data twice changes nothing (not even a
timestamp). Findings are keyed on their content hash. Curated findings are synchronised with
their topic pack and are never touched by the extraction path, which replaces one
extractor's findings (of any earlier version) for one article at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Result, delete, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, SQLModel, col

from kb.aggregate import summary_statements
from kb.db import create_kb_engine, db_error, require_writable_file, sqlite_file
from kb.errors import StoreError
from kb.models import (
    Article,
    ArticleRecord,
    ArticleSource,
    Citation,
    Condition,
    ConditionContext,
    DiseaseContext,
    EvidenceSummary,
    Finding,
    FindingRecord,
    Intervention,
    InterventionClass,
    InterventionComponent,
    KBState,
    MissingRecord,
    RefreshRun,
    RefreshWatermark,
    ReviewDecision,
    Topic,
    TopicVocabulary,
    finding_id,
)
from kb.schema import Upgrade
from kb.schema import upgrade as upgrade_schema
from kb.topic import TopicPack
from kb.vocab_merge import GENERAL, merge_entries
from kb.vocabulary import Vocabulary

RowT = TypeVar("RowT", bound=SQLModel)

_CHUNK = 500


@dataclass(slots=True)
class Changes:
    """What a save did: rows added, updated, removed and left as they were."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    def __iadd__(self, other: Changes) -> Changes:
        self.added += other.added
        self.updated += other.updated
        self.removed += other.removed
        self.unchanged += other.unchanged
        return self

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _now() -> datetime:
    # Full precision, like a refresh run's start and end: the changelog and "new since the
    # last refresh" attribute articles to runs by comparing these times. Rounded to the
    # second, an article stored in the second its run began sorted before the run's start
    # and was listed under no run at all.
    return datetime.now(UTC)


class Store:
    """Writes to one knowledge-base database.

    Use :meth:`open` to connect (creating or upgrading the schema to the newest revision).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.upgraded: Upgrade | None = None
        """The schema upgrade :meth:`open` applied (None if the schema was current)."""
        self.vocabulary_notes: list[str] = []
        """Fields on which the last :meth:`save_topic`'s pack disagrees with another topic's (kept as it was)."""

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True, backup: bool = True) -> Store:
        """Connect to the KB at ``url`` (default: ``KB_DATABASE_URL`` or ``kb.sqlite``).

        A new database gets the schema; a KB written by an older version is upgraded (a
        SQLite file is copied to ``PATH.before-REV`` first; see :func:`kb.schema.upgrade`).

        Args:
            url: the database URL.
            upgrade: create or upgrade the schema; False opens the database as it is.
            backup: copy a SQLite KB before upgrading it.

        Raises:
            NotAKnowledgeBase: the database holds another program's tables.
            NewerKnowledgeBase: a newer version of kb wrote it.
            KBBusy: another process held the schema for too long.
            StoreError: the database cannot be reached, written or upgraded.
        """
        engine = create_kb_engine(url)
        store = cls(engine)
        if not upgrade:
            return store
        try:
            path = sqlite_file(engine.url)
            if path is not None:
                require_writable_file(path)
            store.upgraded = upgrade_schema(engine, backup=backup)
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error.

        A session that changed any row also moves the KB's revision (:class:`KBState`), in
        the same transaction: derived tables stamped with an older revision are then stale.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            event.listen(session, "before_flush", _note_flushed_changes)
            event.listen(session, "do_orm_execute", _note_executed_changes)
            try:
                yield session
                session.flush()
                if session.info.get(_CHANGED):
                    _move_revision(session)
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                cause = exc.orig if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError) else None
                if isinstance(cause, BaseException):
                    # Not the database's error: something raised while a statement ran (a signal's
                    # handler, a bug), which SQLAlchemy wrapped. Let the caller see what it was.
                    raise cause from exc
                raise StoreError(f"could not write to the KB: {db_error(exc, self.engine.url)}") from exc
            except BaseException:
                session.rollback()
                raise

    # -- topic and vocabulary ------------------------------------------------------------

    def save_topic(self, pack: TopicPack) -> Changes:
        """Save a topic pack's settings and vocabulary.

        The pack's vocabulary is recorded as this topic's entries and merged with what other
        topics define for the same ids (:mod:`kb.vocab_merge`): it adds to shared rows, never
        overwrites another topic's values. Disagreements are left in :attr:`vocabulary_notes`.
        """
        spec = pack.spec
        changes = self.save_vocabulary(pack.vocabulary, source=spec.id)
        row = Topic(
            id=spec.id,
            title=spec.title,
            question=spec.question,
            description=spec.description,
            condition_id=spec.condition,
            seeds=list(spec.seeds),
            queries=[q.model_dump(exclude_none=True) for q in spec.queries],
        )
        with self.session() as session:
            changes += _upsert(session, Topic, [row])
        return changes

    def save_vocabulary(self, vocabulary: Vocabulary, *, source: str = GENERAL) -> Changes:
        """Record ``source``'s entries for a vocabulary's classes, interventions, conditions and
        contexts, and bring the shared rows of those ids to the merge of every source's entries.

        ``source`` is a topic id (its pack: entries the pack no longer defines are forgotten) or
        :data:`kb.vocab_merge.GENERAL` (entries the extractors drew from the general
        resources; never forgotten). Rows are never deleted here: another topic may use them.
        """
        classes = [
            InterventionClass(
                id=c.id,
                name=c.name,
                atc=c.atc,
                mesh=c.mesh,
                synonyms=[*c.synonyms, *c.abbreviations],
                description=c.description,
            )
            for c in vocabulary.classes
        ]
        interventions = [
            Intervention(
                id=i.id,
                name=i.name,
                kind=i.kind,
                class_id=i.class_id,
                atc=i.atc,
                mesh=i.mesh,
                synonyms=[*i.synonyms, *i.brands, *i.abbreviations],
                description=i.description,
            )
            for i in vocabulary.interventions
        ]
        components = [
            InterventionComponent(combination_id=i.id, component_id=comp, position=pos)
            for i in vocabulary.interventions
            for pos, comp in enumerate(i.components)
        ]
        contexts = [
            DiseaseContext(
                id=c.id,
                name=c.name,
                parent_id=c.parent,
                mesh=c.mesh,
                synonyms=[*c.synonyms, *c.abbreviations],
                description=c.description,
            )
            for c in vocabulary.contexts
        ]
        conditions = [
            Condition(
                id=c.id,
                name=c.name,
                mesh=c.mesh,
                synonyms=[*c.synonyms, *c.abbreviations],
                description=c.description,
            )
            for c in vocabulary.conditions
        ]
        pairs = [
            ConditionContext(condition_id=c.id, context_id=ctx) for c in vocabulary.conditions for ctx in c.contexts
        ]
        changes = Changes()
        notes: list[str] = []
        forget = source != GENERAL
        with self.session() as session:
            changes += _save_merged(session, source, "class", InterventionClass, classes, forget, notes)
            changes += _save_merged(session, source, "intervention", Intervention, interventions, forget, notes)
            changes += _upsert(session, InterventionComponent, components)
            changes += _save_merged(session, source, "context", DiseaseContext, contexts, forget, notes)
            changes += _save_merged(session, source, "condition", Condition, conditions, forget, notes)
            changes += _upsert(session, ConditionContext, pairs)
        if forget:
            self.vocabulary_notes = notes
        return changes

    def save_review_decisions(self, topic_id: str, decisions: Sequence[ReviewDecision]) -> Changes:
        """Make the topic's review decisions exactly ``decisions`` (as its pack records them)."""
        with self.session() as session:
            current = {
                r.review_id: r
                for r in session.execute(
                    select(ReviewDecision).where(col(ReviewDecision.topic_id) == topic_id)
                ).scalars()
            }
            wanted = {d.review_id for d in decisions}
            stale = [r for rid, r in current.items() if rid not in wanted]
            for row in stale:
                session.delete(row)
            changes = _upsert(session, ReviewDecision, list(decisions))
            changes.removed += len(stale)
        return changes

    def copy_from(self, source: Engine) -> int:
        """Copy every row of another KB at this version's schema into this (new, empty) KB; returns
        how many rows. Used to publish a variant of a KB (``kb build --reviewed-only``)."""
        copied = 0
        with source.connect() as reading, self.engine.begin() as writing:
            for table in reversed(SQLModel.metadata.sorted_tables):
                writing.execute(delete(table))  # what creating the schema wrote (the KB's state row)
            for table in SQLModel.metadata.sorted_tables:
                rows = [dict(r._mapping) for r in reading.execute(select(table))]
                for batch in _chunks(rows):
                    writing.execute(insert(table), batch)
                copied += len(rows)
        return copied

    def delete_extracted_findings(self) -> Changes:
        """Remove every machine finding (origin ``extracted``): the KB keeps curated and reviewed ones."""
        with self.session() as session:
            result = session.execute(delete(Finding).where(col(Finding.origin) == "extracted"))
            return Changes(removed=result.rowcount or 0)  # type: ignore[attr-defined]

    # -- literature ----------------------------------------------------------------------

    def save_articles(self, records: Iterable[ArticleRecord], *, fill_only: bool = False) -> Changes:
        """Upsert articles by id.

        An empty value in a record (None, "", []) never erases a stored one, so sources that
        know different fields (PubMed, curated records) converge instead of flip-flopping.

        Args:
            records: articles to save.
            fill_only: only fill fields that are empty in the stored row. Curated
                bibliographic data uses this so it never overwrites what PubMed says.
        """
        now = _now()
        changes = Changes()
        fields = list(ArticleRecord.model_fields)
        for batch in _chunks(list(records)):
            with self.session() as session:
                existing = _existing(session, Article, [r.id for r in batch])
                for record in batch:
                    row = existing.get(record.id)
                    if row is None:
                        row = Article.model_validate(record.model_dump())
                        row.created_at = row.updated_at = now
                        session.add(row)
                        existing[record.id] = row
                        changes.added += 1
                        continue
                    updated = False
                    for name in fields:
                        new, old = getattr(record, name), getattr(row, name)
                        if new is None or new == [] or new == "":
                            continue  # an absent value never erases a known one
                        if fill_only and not (old is None or old == [] or old == ""):
                            continue
                        if new != old:
                            setattr(row, name, new)
                            updated = True
                    if updated:
                        row.updated_at = now
                        changes.updated += 1
                    else:
                        changes.unchanged += 1
        return changes

    def save_article_sources(self, sources: Iterable[ArticleSource]) -> Changes:
        """Record how articles entered the KB; the first sighting of each route is kept."""
        return self._save_first_seen(ArticleSource, list(sources), keep={"first_seen", "depth"})

    def save_citations(self, citations: Iterable[Citation]) -> Changes:
        """Record citation links (citing → cited, with how each is known)."""
        with self.session() as session:
            return _upsert(session, Citation, list(citations))

    def save_missing(self, records: Iterable[MissingRecord]) -> Changes:
        """Record identifiers NCBI did not return; the first sighting's time is kept."""
        return self._save_first_seen(MissingRecord, list(records), keep={"first_seen"})

    def _save_first_seen(self, model: type[RowT], rows: list[RowT], keep: set[str]) -> Changes:
        """Upsert rows that carry a ``first_seen`` time: set now on new rows, never updated."""
        now = _now()
        for row in rows:
            row.first_seen = row.first_seen or now  # type: ignore[attr-defined]
        with self.session() as session:
            return _upsert(session, model, rows, keep=keep)

    def clear_missing(self, ids: Iterable[str]) -> Changes:
        """Forget that these identifiers were missing (they have been fetched since)."""
        wanted = list(ids)
        changes = Changes()
        with self.session() as session:
            for batch in _chunks(wanted):
                result = session.execute(delete(MissingRecord).where(col(MissingRecord.id).in_(batch)))
                changes.removed += result.rowcount or 0  # type: ignore[attr-defined]
        return changes

    def delete_articles(self, ids: Iterable[str]) -> tuple[Changes, list[str]]:
        """Apply PubMed deletions: remove articles with their sources, citations and extracted findings.

        An article that curated findings cite is kept (a curator must decide) and returned in
        the second element.
        """
        wanted = list(dict.fromkeys(ids))
        changes = Changes()
        kept: list[str] = []
        with self.session() as session:
            for batch in _chunks(wanted):
                curated = set(
                    session.execute(
                        select(col(Finding.article_id)).where(
                            col(Finding.article_id).in_(batch), col(Finding.origin) == "curated"
                        )
                    ).scalars()
                )
                kept.extend(a for a in batch if a in curated)
                doomed = [a for a in batch if a not in curated]
                if not doomed:
                    continue
                session.execute(delete(Finding).where(col(Finding.article_id).in_(doomed)))
                session.execute(delete(ArticleSource).where(col(ArticleSource.article_id).in_(doomed)))
                session.execute(
                    delete(Citation).where(col(Citation.citing_id).in_(doomed) | col(Citation.cited_id).in_(doomed))
                )
                result = session.execute(delete(Article).where(col(Article.id).in_(doomed)))
                changes.removed += result.rowcount or 0  # type: ignore[attr-defined]
        return changes, kept

    # -- derived tables --------------------------------------------------------------------

    def revision(self) -> int:
        """The KB's current revision (0 for a KB nothing was ever saved to)."""
        with self.engine.connect() as connection:
            state = connection.execute(select(col(KBState.revision)).where(col(KBState.id) == 1)).scalar()
        return int(state or 0)

    def refresh_summary(self, *, force: bool = False) -> bool:
        """Recompute ``evidence_summary`` unless it is already at the current revision.

        Run after a build or refresh; until then, aggregates are computed live from the
        findings (always right, slower on a large KB). The revision is read before counting,
        so a write that lands meanwhile leaves the summary stale rather than wrongly fresh.

        Returns:
            Whether the summary was recomputed.

        Raises:
            StoreError: the database refused the write.
        """
        try:
            with self.engine.begin() as connection:
                # FOR UPDATE (PostgreSQL; SQLite's writer lock does the same) queues concurrent refreshes.
                state = connection.execute(
                    select(col(KBState.revision), col(KBState.summary_revision)).with_for_update()
                ).first()
                revision = int(state.revision) if state is not None else 0
                if not force and state is not None and state.summary_revision == revision:
                    return False
                connection.execute(delete(EvidenceSummary))
                for statement in summary_statements():
                    connection.execute(statement)
                stamp = {"summary_revision": revision, "summary_built_at": _now()}
                if state is None:
                    connection.execute(insert(KBState).values(id=1, revision=revision, **stamp))
                else:
                    connection.execute(update(KBState).where(col(KBState.id) == 1).values(**stamp))
        except SQLAlchemyError as exc:
            raise StoreError(f"could not refresh the evidence summary: {db_error(exc, self.engine.url)}") from exc
        return True

    # -- findings ------------------------------------------------------------------------

    def save_curated_findings(self, topic_id: str, records: Sequence[FindingRecord]) -> Changes:
        """Make the topic's curated findings exactly ``records``.

        Curated findings the pack no longer lists are removed; extracted findings are not
        touched.

        Raises:
            StoreError: a record is not curated or belongs to another topic.
        """
        for record in records:
            if record.origin != "curated" or record.topic_id != topic_id:
                raise StoreError(f"save_curated_findings({topic_id!r}) got a non-curated or foreign record: {record}")
        with self.session() as session:
            current = session.execute(
                select(Finding).where(col(Finding.origin) == "curated", col(Finding.topic_id) == topic_id)
            ).scalars()
            return _sync_findings(session, list(current), records)

    def replace_extracted_findings(
        self, article_id: str, extractor: str, version: str, records: Sequence[FindingRecord]
    ) -> Changes:
        """Make one extractor's findings for one article exactly ``records`` (made by ``version``).

        Findings an earlier version of the same extractor made are replaced too, so an upgrade
        of the extractor leaves no stale findings; curated findings and other extractors'
        findings are never touched.

        Raises:
            StoreError: a record does not match the article, extractor and version given.
        """
        return self.replace_extracted_findings_of({article_id: records}, extractor, version)

    def replace_extracted_findings_of(
        self,
        per_article: Mapping[str, Sequence[FindingRecord]],
        extractor: str,
        version: str,
        *,
        topic_id: str | None = None,
    ) -> Changes:
        """:meth:`replace_extracted_findings` for many articles, a few hundred per transaction.

        With ``topic_id``, only that topic's findings are replaced: an article gathered by
        several topics keeps the findings each extracted for itself.

        Raises:
            StoreError: a record does not match its article, the extractor, the version (or the topic).
        """
        for article_id, records in per_article.items():
            for record in records:
                if (record.origin, record.article_id, record.extractor, record.extractor_version) != (
                    "extracted",
                    article_id,
                    extractor,
                    version,
                ) or (topic_id is not None and record.topic_id != topic_id):
                    raise StoreError(f"record does not belong to {article_id} / {extractor} {version}: {record}")
        changes = Changes()
        for batch in _chunks(list(per_article), 200):
            with self.session() as session:
                current: dict[str, list[Finding]] = {a: [] for a in batch}
                rows = session.execute(
                    select(Finding).where(
                        col(Finding.article_id).in_(batch),
                        col(Finding.origin) == "extracted",
                        col(Finding.extractor) == extractor,
                        *([col(Finding.topic_id) == topic_id] if topic_id is not None else []),
                    )
                ).scalars()
                for row in rows:
                    current[row.article_id].append(row)
                for article_id in batch:
                    changes += _sync_findings(session, current[article_id], per_article[article_id])
        return changes

    # -- refresh: watermarks, runs, retractions -----------------------------------------

    def get_watermarks(self, topic_id: str) -> dict[tuple[str, str], date]:
        """The topic's watermarks, keyed on (saved query name, date type)."""
        with self.session() as session:
            rows = session.execute(select(RefreshWatermark).where(col(RefreshWatermark.topic_id) == topic_id)).scalars()
            return {(r.query, r.datetype): r.watermark for r in rows}

    def set_watermarks(self, topic_id: str, query: str, marks: dict[str, date]) -> None:
        """Move a saved query's watermarks (date type -> last day searched), in one transaction."""
        now = _now()
        rows = [
            RefreshWatermark(topic_id=topic_id, query=query, datetype=datetype, watermark=day, updated_at=now)
            for datetype, day in marks.items()
        ]
        with self.session() as session:
            _upsert(session, RefreshWatermark, rows)

    def start_run(self, topic_id: str, started_at: datetime) -> int:
        """Record a run as ``running``; return its id.

        Rows left ``running`` by earlier runs (killed before they could finish: only one run
        holds the lock, so they cannot be alive) are marked ``failed``.
        """
        with self.session() as session:
            session.execute(
                update(RefreshRun)
                .where(col(RefreshRun.status) == "running")
                .values(
                    status="failed",
                    message="interrupted: the process stopped before it finished (killed or crashed); "
                    "the next run redid its windows",
                )
            )
            run = RefreshRun(topic_id=topic_id, started_at=started_at, status="running")
            session.add(run)
            session.flush()
            assert run.id is not None
            return run.id

    def save_run(self, run_id: int, **values: Any) -> None:
        """Update a run's record (status, counts, windows as JSON text, message, finished_at).

        Raises:
            StoreError: no such run, or a field that is not a column of ``refresh_run``.
        """
        unknown = set(values) - set(RefreshRun.model_fields)
        if unknown:
            raise StoreError(f"refresh_run has no column(s) {', '.join(sorted(unknown))}")
        with self.session() as session:
            result = session.execute(update(RefreshRun).where(col(RefreshRun.id) == run_id).values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise StoreError(f"no refresh run {run_id} to update")

    def count_retracted(self, topic_id: str) -> int:
        """How many of the topic's articles PubMed marks as retracted."""
        with self.session() as session:
            return int(
                session.execute(
                    select(func.count())
                    .select_from(Article)
                    .where(
                        col(Article.retracted).is_(True),
                        col(Article.id).in_(
                            select(col(ArticleSource.article_id)).where(col(ArticleSource.topic_id) == topic_id)
                        ),
                    )
                ).scalar_one()
            )

    def abstracts(self, ids: Iterable[str]) -> dict[str, str]:
        """The abstracts the KB holds for these article ids (articles without one are left out)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, str] = {}
        with self.session() as session:
            for batch in _chunks(wanted):
                rows = session.execute(
                    select(col(Article.id), col(Article.abstract)).where(
                        col(Article.id).in_(batch), col(Article.abstract).is_not(None)
                    )
                )
                found.update((r[0], r[1]) for r in rows)
        return found

    def known_articles(self, ids: Iterable[str]) -> set[str]:
        """Which of these article ids the KB holds."""
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.session() as session:
            for batch in _chunks(wanted):
                found.update(session.execute(select(col(Article.id)).where(col(Article.id).in_(batch))).scalars())
        return found

    def known_missing(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids are already recorded as missing (NCBI did not return them before)."""
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.session() as session:
            for batch in _chunks(wanted):
                found.update(
                    session.execute(select(col(MissingRecord.id)).where(col(MissingRecord.id).in_(batch))).scalars()
                )
        return found

    def get_runs(self, topic_id: str | None = None, limit: int = 20) -> list[RefreshRun]:
        """The most recent refresh runs, newest first (of one topic, or all)."""
        query = select(RefreshRun).order_by(col(RefreshRun.id).desc()).limit(limit)
        if topic_id:
            query = query.where(col(RefreshRun.topic_id) == topic_id)
        with self.session() as session:
            return list(session.execute(query).scalars())

    def topic_article_ids(self, topic_id: str, *, max_depth: int | None = None) -> list[str]:
        """PubMed articles gathered for a topic (optionally only those at most ``max_depth`` hops out)."""
        query = select(col(ArticleSource.article_id)).where(
            col(ArticleSource.topic_id) == topic_id, col(ArticleSource.article_id).startswith("pubmed:")
        )
        if max_depth is not None:
            query = query.where(col(ArticleSource.depth) <= max_depth)
        with self.session() as session:
            return sorted(set(session.execute(query).scalars()))


# -- helpers --------------------------------------------------------------------------------

_CHANGED = "kb_changed"


# Tables that record how the KB is kept, not what it holds: writing them does not move the
# revision (a refresh run's own record would otherwise make every summary stale at once).
_BOOKKEEPING = frozenset(
    {"kb_state", "evidence_summary", "refresh_run", "refresh_watermark", "refresh_lock", "applied_file"}
)


def _holds_content(row: object) -> bool:
    return getattr(row, "__tablename__", None) not in _BOOKKEEPING


def _note_flushed_changes(session: Session, _context: Any, _instances: Any) -> None:
    changed = [*session.new, *session.deleted, *(row for row in session.dirty if session.is_modified(row))]
    if any(_holds_content(row) for row in changed):
        session.info[_CHANGED] = True


def _note_executed_changes(state: ORMExecuteState) -> Result[Any] | None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _BOOKKEEPING:
        return None
    result = state.invoke_statement()
    if getattr(result, "rowcount", 1):
        state.session.info[_CHANGED] = True
    return result


def _move_revision(session: Session) -> None:
    moved = session.execute(update(KBState).where(col(KBState.id) == 1).values(revision=KBState.revision + 1))
    if not moved.rowcount:  # type: ignore[attr-defined]
        session.add(KBState(id=1, revision=1))


def _sync_findings(session: Session, current: list[Finding], records: Sequence[FindingRecord]) -> Changes:
    changes = Changes()
    wanted: dict[str, FindingRecord] = {}
    for record in records:
        wanted.setdefault(record.compute_hash(), record)
    by_hash = {row.content_hash: row for row in current}
    stale = [row.id for h, row in by_hash.items() if h not in wanted]
    if stale:
        session.execute(delete(Finding).where(col(Finding.id).in_(stale)))
        changes.removed += len(stale)
    # A finding with the same content may already exist under another owner (an identical
    # extraction by another version is a different hash, so this only guards true repeats).
    already = _existing_hashes(session, [h for h in wanted if h not in by_hash])
    now = _now()
    for content_hash, record in wanted.items():
        if content_hash in by_hash or content_hash in already:
            changes.unchanged += 1
            continue
        row = Finding.model_validate(
            {**record.model_dump(), "id": finding_id(content_hash), "content_hash": content_hash, "created_at": now}
        )
        session.add(row)
        changes.added += 1
    return changes


def _existing_hashes(session: Session, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for batch in _chunks(hashes):
        found.update(
            session.execute(select(col(Finding.content_hash)).where(col(Finding.content_hash).in_(batch))).scalars()
        )
    return found


def _primary_key(model: type[SQLModel]) -> list[str]:
    return [c.name for c in model.__table__.primary_key.columns]  # type: ignore[attr-defined]


def _key(row: SQLModel, names: list[str]) -> tuple[Any, ...]:
    return tuple(getattr(row, n) for n in names)


def _existing(session: Session, model: type[RowT], ids: list[Any]) -> dict[Any, RowT]:
    pk = getattr(model, _primary_key(model)[0])
    found: dict[Any, RowT] = {}
    for batch in _chunks(ids):
        for row in session.execute(select(model).where(col(pk).in_(batch))).scalars():
            found[getattr(row, pk.key)] = row
    return found


def _upsert(session: Session, model: type[RowT], rows: list[RowT], keep: set[str] | None = None) -> Changes:
    """Insert or update ``rows`` by primary key; fields in ``keep`` are never updated."""
    changes = Changes()
    if not rows:
        return changes
    names = _primary_key(model)
    columns = [c.name for c in model.__table__.columns if c.name not in set(names) | (keep or set())]  # type: ignore[attr-defined]
    first_ids = list({getattr(r, names[0]) for r in rows})
    candidates: dict[tuple[Any, ...], RowT] = {}
    pk0 = getattr(model, names[0])
    for batch in _chunks(first_ids):
        for row in session.execute(select(model).where(col(pk0).in_(batch))).scalars():
            candidates[_key(row, names)] = row
    for new in rows:
        key = _key(new, names)
        old = candidates.get(key)
        if old is None:
            session.add(new)
            candidates[key] = new
            changes.added += 1
            continue
        diff = {c: getattr(new, c) for c in columns if getattr(new, c) != getattr(old, c)}
        if diff:
            for c, value in diff.items():
                setattr(old, c, value)
            changes.updated += 1
        else:
            changes.unchanged += 1
    return changes


def _save_merged(
    session: Session,
    source: str,
    kind: str,
    model: type[RowT],
    rows: list[RowT],
    forget: bool,
    notes: list[str],
) -> Changes:
    """Record ``source``'s entries for ``rows`` and upsert each touched id's merged row.

    With ``forget``, the source's entries of this kind that ``rows`` no longer hold are
    dropped (their rows are re-merged from the other sources, or left as they are).
    """
    wanted: dict[str, dict[str, Any]] = {}
    for row in rows:
        fields = row.model_dump()
        wanted[fields.pop("id")] = fields
    mine = {
        e.entry_id: e
        for e in session.execute(
            select(TopicVocabulary).where(col(TopicVocabulary.topic_id) == source, col(TopicVocabulary.kind) == kind)
        ).scalars()
    }
    for entry_id, fields in wanted.items():
        entry = mine.get(entry_id)
        if entry is None:
            session.add(TopicVocabulary(topic_id=source, kind=kind, entry_id=entry_id, entry=fields))
        elif entry.entry != fields:
            entry.entry = fields
    ids = set(wanted)
    if forget:
        for entry_id, entry in mine.items():
            if entry_id not in wanted:
                session.delete(entry)
                ids.add(entry_id)
    session.flush()
    entries: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for batch in _chunks(sorted(ids)):
        for e in session.execute(
            select(TopicVocabulary).where(col(TopicVocabulary.kind) == kind, col(TopicVocabulary.entry_id).in_(batch))
        ).scalars():
            entries.setdefault(e.entry_id, []).append((e.topic_id, e.entry))
    merged: list[RowT] = []
    for entry_id in sorted(entries):
        fields, disagreements = merge_entries(entries[entry_id])
        merged.append(model(id=entry_id, **fields))
        notes.extend(f"{kind} {entry_id!r}: {d}" for d in disagreements if f"{source!r} says" in d)
    return _upsert(session, model, merged)


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
