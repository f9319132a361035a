"""The store on real databases: schema migrations, idempotent upserts, curated vs extracted."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from ingest.curated import load_curated
from ingest.pipeline import build_topic
from kb.db import alembic_config, create_kb_engine
from kb.errors import StoreError
from kb.models import ArticleRecord, FindingRecord
from kb.store import Store


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every KB table, sorted: a database's whole content."""
    store = Store.open(url, upgrade=False)
    tables = sorted(t for t in inspect(store.engine).get_table_names() if t != "alembic_version")
    with store.engine.connect() as conn:
        dump = {t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr) for t in tables}
    store.close()
    return dump


def test_migrations_create_exactly_the_models_schema(db_url: str) -> None:
    store = Store.open(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    store.close()
    assert diff == [], "the models changed without a migration: run alembic revision --autogenerate"
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_kb_made_by_the_first_release_survives_the_upgrade(db_url: str) -> None:
    engine = create_kb_engine(db_url)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO article (id, title, authors, publication_types, mesh_terms, retracted) "
                "VALUES ('pubmed:1', 'Kept', '[]', '[]', '[]', false)"
            )
        )
    engine.dispose()
    store = Store.open(db_url)  # upgrades to the newest revision
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM article")).scalar_one() == "Kept"
        assert conn.execute(text("SELECT COUNT(*) FROM missing_record")).scalar_one() == 0
    store.close()


def test_opening_twice_keeps_data(mini_kb: str) -> None:
    before = _dump(mini_kb)
    Store.open(mini_kb).close()  # migrate again: nothing to do
    assert _dump(mini_kb) == before


def test_build_is_idempotent(mini_kb: str, mini_pack) -> None:
    before = _dump(mini_kb)
    store = Store.open(mini_kb)
    report = build_topic(store, mini_pack)
    store.close()
    assert not report.changed, report.changes
    assert _dump(mini_kb) == before
    assert len(before["finding"]) == 7
    assert len(before["article"]) == 5


def test_curated_articles_never_overwrite_pubmed_fields(mini_kb: str, mini_pack) -> None:
    store = Store.open(mini_kb)
    pubmed = ArticleRecord(id="pubmed:100", pmid="100", title="Title as PubMed has it", abstract="Text.", year=2001)
    assert store.save_articles([pubmed]).updated == 1
    build_topic(store, mini_pack)  # curated data only fills gaps
    with store.engine.connect() as conn:
        title, abstract, journal = conn.execute(
            text("SELECT title, abstract, journal FROM article WHERE id = 'pubmed:100'")
        ).one()
    store.close()
    assert (title, abstract, journal) == ("Title as PubMed has it", "Text.", "Journal of Tests")


def _extracted(article: str, version: str, response: str = "improved") -> FindingRecord:
    return FindingRecord(
        article_id=article,
        intervention_id="diltiazem",
        condition_id="calcinosis",
        context_id="systemic-sclerosis",
        response=response,
        study_design="case_report",
        evidence="A sentence.",
        origin="extracted",
        extractor="rules",
        extractor_version=version,
    )


def test_extraction_replaces_its_own_findings_and_never_curated(mini_kb: str, mini_pack) -> None:
    store = Store.open(mini_kb)
    first = store.replace_extracted_findings("pubmed:100", "rules", "1", [_extracted("pubmed:100", "1")])
    again = store.replace_extracted_findings("pubmed:100", "rules", "1", [_extracted("pubmed:100", "1")])
    changed = store.replace_extracted_findings("pubmed:100", "rules", "1", [_extracted("pubmed:100", "1", "none")])
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT origin, response FROM finding WHERE article_id = 'pubmed:100'")).all()
    store.close()
    assert (first.added, again.added, again.unchanged) == (1, 0, 1)
    assert (changed.added, changed.removed) == (1, 1)
    assert sorted(rows) == [("curated", "mixed"), ("extracted", "none")]


def test_replace_extracted_rejects_curated_records(mini_kb: str, mini_pack) -> None:
    _, curated = load_curated(mini_pack)
    store = Store.open(mini_kb)
    with pytest.raises(StoreError, match="does not belong"):
        store.replace_extracted_findings("pubmed:100", "rules", "1", curated[:1])
    store.close()


def test_curated_sync_removes_findings_dropped_from_the_pack(mini_kb: str, mini_pack) -> None:
    _, curated = load_curated(mini_pack)
    store = Store.open(mini_kb)
    store.replace_extracted_findings("pubmed:100", "rules", "1", [_extracted("pubmed:100", "1")])
    changes = store.save_curated_findings("mini", curated[1:])
    with store.engine.connect() as conn:
        origins = conn.execute(text("SELECT origin, COUNT(*) FROM finding GROUP BY origin ORDER BY origin")).all()
    store.close()
    assert (changes.removed, changes.added, changes.unchanged) == (1, 0, 6)
    assert origins == [("curated", 6), ("extracted", 1)]


def test_unreachable_database_gives_an_actionable_error() -> None:
    with pytest.raises(StoreError, match="KB_DATABASE_URL"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")


class _Interrupted(Exception):
    """Stands for what a signal handler raises while a statement runs."""


def test_an_exception_raised_while_a_statement_runs_is_not_reported_as_a_database_error(db_url: str) -> None:
    """SQLAlchemy wraps it (StatementError); the store re-raises the real one, so a SIGTERM's
    'terminated by signal' is what the user reads, not 'could not write to the KB'."""
    from sqlalchemy import bindparam, text
    from sqlalchemy.types import Integer, TypeDecorator

    from kb.db import db_error
    from kb.store import Store

    class Interrupting(TypeDecorator[int]):
        impl = Integer
        cache_ok = True

        def process_bind_param(self, value: int | None, dialect: object) -> int | None:
            raise _Interrupted("terminated by signal 15")

    store = Store.open(db_url)
    try:
        with pytest.raises(_Interrupted, match="terminated by signal 15"), store.session() as session:
            session.execute(text("SELECT :x").bindparams(bindparam("x", type_=Interrupting())), {"x": 1})
    finally:
        store.close()
    from sqlalchemy.exc import StatementError

    wrapped = StatementError("outer", "SELECT 1", {}, _Interrupted("terminated by signal 15"))
    wrapped.add_detail("raised as a result of Query-invoked autoflush")
    assert "terminated by signal 15" in db_error(wrapped, db_url)
