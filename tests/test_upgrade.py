"""Upgrading a KB written by any earlier release, on SQLite and PostgreSQL: nothing lost.

Each test builds a KB at one past schema revision with Alembic, fills it with plain SQL the
way that release wrote it (articles with their sources, citations, curated and extracted
findings, and, where the revision has them, missing records, summary rows, refresh runs and
watermarks), all referring to each other as in a real KB, then upgrades it to this version's
schema and compares table by table.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

import queries
from kb.db import alembic_config, create_kb_engine, sqlite_file
from kb.errors import StoreError, UpgradeRequired
from kb.schema import head_revision, known_revisions, read_state
from kb.store import Store

KB = Path(sys.executable).with_name("kb")
PAST = known_revisions()[:-1]

_TIME = "2025-05-01 04:00:00.000000"


def _insert(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        columns = ", ".join(row)
        conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row)


def fill(conn: Connection, revision: str) -> None:
    """Rows as the release at ``revision`` wrote them (columns of that revision only)."""
    _insert(
        conn,
        "topic",
        [
            {
                "id": "calcinosis",
                "title": "Calcinosis",
                "question": "What helps?",
                "description": "Calcinosis in SSc.",
                "condition_id": "calcinosis",
                "seeds": '["38535057"]',
                "queries": '[{"name": "main", "term": "calcinosis[tiab]"}]',
            }
        ],
    )
    _insert(
        conn,
        "intervention_class",
        [{"id": "ccb", "name": "calcium channel blocker", "atc": "C08", "synonyms": '["CCB"]'}],
    )
    _insert(
        conn,
        "intervention",
        [
            {"id": "diltiazem", "name": "diltiazem", "kind": "drug", "class_id": "ccb", "synonyms": '["Cardizem"]'},
            {"id": "sts", "name": "sodium thiosulfate", "kind": "drug", "class_id": None, "synonyms": "[]"},
            {"id": "diltiazem-sts", "name": "diltiazem + STS", "kind": "combination", "synonyms": "[]"},
        ],
    )
    _insert(
        conn,
        "intervention_component",
        [
            {"combination_id": "diltiazem-sts", "component_id": "diltiazem", "position": 0},
            {"combination_id": "diltiazem-sts", "component_id": "sts", "position": 1},
        ],
    )
    _insert(conn, "condition", [{"id": "calcinosis", "name": "calcinosis", "mesh": "D002114", "synonyms": "[]"}])
    _insert(conn, "disease_context", [{"id": "ssc", "name": "systemic sclerosis", "synonyms": '["SSc"]'}])
    _insert(conn, "condition_context", [{"condition_id": "calcinosis", "context_id": "ssc"}])
    articles = [
        {
            "id": f"pubmed:{pmid}",
            "pmid": str(pmid),
            "title": f"Article {pmid} on calcinosis",
            "journal": "J Tests",
            "year": 2010 + i,
            "authors": '["Alpha A", "O\'Brien P"]',
            "abstract": "Twelve patients were treated with diltiazem; three improved.",
            "publication_types": '["Journal Article"]',
            "mesh_terms": '["Calcinosis"]',
            "retracted": i == 2,
            "created_at": _TIME,
            "updated_at": _TIME,
        }
        for i, pmid in enumerate((101, 102, 103))
    ]
    _insert(conn, "article", articles)
    _insert(
        conn,
        "article_source",
        [
            {
                "article_id": "pubmed:101",
                "topic_id": "calcinosis",
                "kind": "seed",
                "detail": "",
                "depth": 0,
                "first_seen": _TIME,
            },
            {
                "article_id": "pubmed:102",
                "topic_id": "calcinosis",
                "kind": "query",
                "detail": "main",
                "depth": 0,
                "first_seen": _TIME,
            },
            {
                "article_id": "pubmed:103",
                "topic_id": "calcinosis",
                "kind": "refs",
                "detail": "pubmed:101",
                "depth": 1,
                "first_seen": _TIME,
            },
        ],
    )
    _insert(
        conn,
        "citation",
        [
            {"citing_id": "pubmed:101", "cited_id": "pubmed:103", "source": "pubmed_pubmed_refs"},
            {"citing_id": "pubmed:102", "cited_id": "pubmed:101", "source": "pubmed_pubmed_citedin"},
            {"citing_id": "pubmed:101", "cited_id": "pubmed:999", "source": "pubmed_pubmed_refs"},
        ],
    )
    base = {
        "condition_id": "calcinosis",
        "context_id": "ssc",
        "age_group": "adult",
        "study_design": "case_series",
        "created_at": _TIME,
    }
    _insert(
        conn,
        "finding",
        [
            base
            | {
                "id": "f-curated",
                "content_hash": "h1",
                "article_id": "pubmed:101",
                "intervention_id": "diltiazem",
                "n_treated": 12,
                "n_responded": 3,
                "response": "improved",
                "summary": "Diltiazem helped three of twelve.",
                "origin": "curated",
                "extractor": "curated",
                "curation_key": "calcinosis:1",
                "topic_id": "calcinosis",
            },
            base
            | {
                "id": "f-extracted",
                "content_hash": "h2",
                "article_id": "pubmed:102",
                "intervention_id": "diltiazem-sts",
                "n_treated": 4,
                "n_responded": 4,
                "response": "complete",
                "evidence": "All four responded.",
                "evidence_start": 10,
                "evidence_end": 29,
                "confidence": 0.75,
                "origin": "extracted",
                "extractor": "rules",
                "extractor_version": "1",
            },
            base
            | {
                "id": "f-retracted",
                "content_hash": "h3",
                "article_id": "pubmed:103",
                "intervention_id": "sts",
                "response": "none",
                "origin": "extracted",
                "extractor": "rules",
                "extractor_version": "1",
            },
        ],
    )
    if revision >= "0002":
        _insert(
            conn,
            "missing_record",
            [{"id": "pubmed:999", "reason": "not returned", "detail": "efetch", "first_seen": _TIME}],
        )
    if revision >= "0004":
        conn.execute(
            text("UPDATE kb_state SET revision = 7, summary_revision = 7, summary_built_at = :t"), {"t": _TIME}
        )
        counts = {f"dir_{d}": 0 for d in ("mixed", "null", "harmful", "unclear")}
        _insert(
            conn,
            "evidence_summary",
            [
                {
                    "condition_id": "calcinosis",
                    "context_key": "ssc",
                    "level": "intervention",
                    "group_id": "diltiazem",
                    "studies": 1,
                    "findings": 1,
                    "dir_supporting": 1,
                    **counts,
                    "design_rank": 3,
                    "patients": 12,
                    "evaluable": 12,
                    "responders": 3,
                    "latest_year": 2010,
                }
            ],
        )
    if revision >= "0005":
        run = {
            "topic_id": "calcinosis",
            "started_at": _TIME,
            "finished_at": _TIME,
            "windows": '[{"query": "main", "status": "done", "found": 2}]',
            "requests": 5,
            "articles_new": 2,
            "articles_updated": 0,
            "articles_deleted": 0,
            "articles_retracted": 1,
            "findings_added": 2,
            "findings_changed": 0,
            "findings_removed": 0,
        }
        _insert(
            conn,
            "refresh_run",
            [run | {"id": 1, "status": "success"}, run | {"id": 2, "status": "partial", "message": "a window failed"}],
        )
        _insert(
            conn,
            "refresh_watermark",
            [
                {
                    "topic_id": "calcinosis",
                    "query": "main",
                    "datetype": "edat",
                    "watermark": "2025-04-30",
                    "updated_at": _TIME,
                }
            ],
        )


def make_kb(url: str, revision: str) -> None:
    """A KB as the release with schema ``revision`` left it (foreign keys enforced while filling)."""
    engine = create_kb_engine(url)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        fill(conn, revision)
    engine.dispose()


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but alembic_version, each table's rows sorted."""
    store = Store.open(url, upgrade=False)
    with store.engine.connect() as conn:
        tables = sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")
        result = {
            t: sorted((dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr) for t in tables
        }
    store.close()
    return result


def assert_kept(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> None:
    """Every row of ``before`` is in ``after``, with the values it had in its columns."""
    for table, rows in before.items():
        kept = [{c: row[c] for c in rows[0]} for row in after[table]] if rows else after[table]
        if table == "kb_state":
            # 0009 adds evidence_summary.primary_rank: the summary is marked stale (counted live
            # until the next build or refresh recomputes it); nothing else in the row changes.
            assert [row["summary_revision"] for row in kept] == [None] * len(kept)
            kept = [row | {"summary_revision": old["summary_revision"]} for row, old in zip(kept, rows, strict=True)]
        assert sorted(kept, key=repr) == rows, table


@pytest.mark.parametrize("revision", PAST)
def test_a_kb_from_every_past_revision_upgrades_with_nothing_lost(db_url: str, revision: str) -> None:
    make_kb(db_url, revision)
    before = dump(db_url)
    assert sum(map(len, before.values())) >= 20, before

    store = Store.open(db_url)  # a write command's open: upgrades on its own
    upgraded = store.upgraded
    store.close()

    assert upgraded is not None and (upgraded.from_revision, upgraded.to_revision) == (revision, head_revision())
    after = dump(db_url)
    assert set(after) >= set(before)
    assert_kept(before, after)
    assert [a["notices"] for a in after["article"]] in (["[]"] * 3, [[]] * 3)
    state = read_state(create_kb_engine(db_url))
    assert (state.revision, state.status) == (head_revision(), "current")
    # The upgraded KB reads like a new one.
    assert len(queries.findings(db=db_url)) == 3
    path = sqlite_file(db_url)
    if path is not None:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert not [t for (t,) in conn.execute("SELECT name FROM sqlite_master") if t.startswith("_alembic_tmp")]
            assert conn.execute("PRAGMA foreign_key_list(finding)").fetchall(), "foreign keys survive the rebuild"
        backup = upgraded.backup
        assert backup == path.with_name(f"{path.name}.before-{revision}")
        with sqlite3.connect(backup) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
        assert dump(f"sqlite:///{backup}") == before


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failed_sqlite_upgrade_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    make_kb(url, "0005")
    path = tmp_path / "kb.sqlite"
    with sqlite3.connect(path) as conn:  # a row that refers to nothing: the check before commit must refuse
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("UPDATE article_source SET article_id = 'pubmed:404' WHERE article_id = 'pubmed:103'")
    digest = _sha256(path)

    for _ in range(2):  # and a second attempt meets the same file, not a half-done one
        with pytest.raises(StoreError, match=r"article_source → article.*nothing was changed"):
            Store.open(url)
        assert _sha256(path) == digest
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0005",)
        assert not [t for (t,) in conn.execute("SELECT name FROM sqlite_master") if t.startswith("_alembic_tmp")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.sqlite"]  # the unneeded copy is gone


def kb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KB), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_kb_upgrade_keeps_a_copy_and_read_commands_never_migrate(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    url = f"sqlite:///{path}"
    make_kb(url, "0005")
    digest, before = _sha256(path), dump(url)

    for command_line in (["runs"], ["treatments", "calcinosis"], ["export", "--format", "csv", "--out", "out"]):
        result = kb(*command_line, "--db", url, cwd=tmp_path)
        assert result.returncode == 1, result
        assert "kb upgrade" in result.stderr and "schema 0005" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    with pytest.raises(UpgradeRequired, match="kb upgrade"):
        queries.findings(db=url)
    assert _sha256(path) == digest

    result = kb("upgrade", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result
    assert f"from schema 0005 to {head_revision()}" in result.stdout
    assert f"{path}.before-0005" in result.stdout
    assert dump(f"sqlite:///{path}.before-0005") == before  # a copy of the KB as it was
    again = kb("upgrade", "--db", url, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again
    assert kb("runs", "--db", url, cwd=tmp_path).returncode == 0


def test_write_commands_upgrade_on_their_own_and_say_where_the_copy_is(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    make_kb(f"sqlite:///{path}", "0005")
    result = kb(
        "build",
        "--topic",
        str(Path(__file__).parent / "fixtures" / "minitopic"),
        "--db",
        f"sqlite:///{path}",
        "--no-site",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"upgraded the KB at {path} from schema 0005" in result.stderr
    assert f"{path}.before-0005" in result.stderr
    assert read_state(create_kb_engine(f"sqlite:///{path}")).status == "current"


def test_a_kb_left_stuck_by_the_previous_releases_failed_upgrade_upgrades(tmp_path: Path) -> None:
    """That release migrated with foreign keys on and no transaction around SQLite's DDL: the
    rebuild of `article` failed on the first row referring to an article, and left
    `_alembic_tmp_article` behind, on which every later attempt failed."""
    from sqlalchemy.exc import IntegrityError

    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    make_kb(url, "0005")
    before = dump(url)
    engine = create_kb_engine(url)  # foreign keys on, the driver's own transaction handling
    config = alembic_config(engine)
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    engine.dispose()
    assert "_alembic_tmp_article" in inspect(create_kb_engine(url)).get_table_names()

    store = Store.open(url)
    assert store.upgraded is not None and store.upgraded.from_revision == "0005"
    store.close()
    after = dump(url)
    assert "_alembic_tmp_article" not in after
    assert_kept({t: rows for t, rows in before.items() if not t.startswith("_alembic_tmp_")}, after)


def test_kb_upgrade_on_either_database_upgrades_once_and_reads_then_work(db_url: str, tmp_path: Path) -> None:
    make_kb(db_url, "0004")
    refused = kb("runs", "--db", db_url, cwd=tmp_path)
    assert refused.returncode == 1 and "kb upgrade" in refused.stderr, refused
    result = kb("upgrade", "--db", db_url, cwd=tmp_path)
    assert result.returncode == 0, result
    assert f"from schema 0004 to {head_revision()}" in result.stdout
    assert ("no copy was taken" in result.stdout) == (sqlite_file(db_url) is None)
    assert "nothing to do" in kb("upgrade", "--db", db_url, cwd=tmp_path).stdout
    assert kb("runs", "--db", db_url, cwd=tmp_path).returncode == 0
