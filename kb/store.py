"""The store: the only module that writes to the knowledge base.

Every ``save_*`` method is an upsert keyed on the row's natural key and reports what it
changed as :class:`Changes`; saving the same data twice changes nothing (not even a
timestamp). Findings are keyed on their content hash. Curated findings are synchronised with
their topic pack and are never touched by the extraction path, which replaces one
extractor version's findings for one article at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Result, delete, event, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, SQLModel, col

from kb.aggregate import summary_statements
from kb.db import create_kb_engine, migrate
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
    Topic,
    finding_id,
)
from kb.topic import TopicPack
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
    return datetime.now(UTC).replace(microsecond=0)


class Store:
    """Writes to one knowledge-base database.

    Use :meth:`open` to connect (and migrate the schema to the newest revision).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Store:
        """Connect to the KB at ``url`` (default: ``KB_DATABASE_URL`` or ``kb.sqlite``).

        Raises:
            StoreError: the database cannot be reached or migrated.
        """
        engine = create_kb_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

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
                raise StoreError(f"could not write to the KB: {exc}") from exc
            except BaseException:
                session.rollback()
                raise

    # -- topic and vocabulary ------------------------------------------------------------

    def save_topic(self, pack: TopicPack) -> Changes:
        """Save a topic pack's settings and vocabulary."""
        spec = pack.spec
        changes = self.save_vocabulary(pack.vocabulary)
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

    def save_vocabulary(self, vocabulary: Vocabulary) -> Changes:
        """Upsert a vocabulary's classes, interventions, conditions and contexts.

        Rows are never deleted here: another topic may share them.
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
        with self.session() as session:
            changes += _upsert(session, InterventionClass, classes)
            changes += _upsert(session, Intervention, interventions)
            changes += _upsert(session, InterventionComponent, components)
            changes += _upsert(session, DiseaseContext, contexts)
            changes += _upsert(session, Condition, conditions)
            changes += _upsert(session, ConditionContext, pairs)
        return changes

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
                state = connection.execute(select(col(KBState.revision), col(KBState.summary_revision))).first()
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
            raise StoreError(f"could not refresh the evidence summary: {exc}") from exc
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
        """Make one extractor version's findings for one article exactly ``records``.

        Curated findings and other extractors' findings are never touched.

        Raises:
            StoreError: a record does not match the article, extractor and version given.
        """
        for record in records:
            if (record.origin, record.article_id, record.extractor, record.extractor_version) != (
                "extracted",
                article_id,
                extractor,
                version,
            ):
                raise StoreError(f"record does not belong to {article_id} / {extractor} {version}: {record}")
        with self.session() as session:
            current = session.execute(
                select(Finding).where(
                    col(Finding.article_id) == article_id,
                    col(Finding.origin) == "extracted",
                    col(Finding.extractor) == extractor,
                    col(Finding.extractor_version) == version,
                )
            ).scalars()
            return _sync_findings(session, list(current), records)


# -- helpers --------------------------------------------------------------------------------

_CHANGED = "kb_changed"


def _note_flushed_changes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(row) for row in session.dirty):
        session.info[_CHANGED] = True


def _note_executed_changes(state: ORMExecuteState) -> Result[Any] | None:
    if not (state.is_insert or state.is_update or state.is_delete):
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


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
