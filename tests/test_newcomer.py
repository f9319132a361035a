"""A newcomer's path: one default KB for every command and ``import queries``, read-only
commands that never create a database, ``kb fetch`` into an empty KB, and ``kb status``.
The installed ``kb`` command in a subprocess, in a fresh working directory, with no
``KB_DATABASE_URL``."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fake_eutils import FakeEutils
from kb.db import DEFAULT_DATABASE_URL

REPO = Path(__file__).resolve().parent.parent
KB = Path(sys.executable).with_name("kb")
MINI = str(Path(__file__).parent / "fixtures" / "minitopic")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL", "NCBI_API_KEY")}
    full_env.update(env or {})
    return subprocess.run(list(args), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


def readme_python_example() -> str:
    """The README's one-line Python example for right after ``make demo``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r'\.venv/bin/python -c "(import queries;[^"]+)"', text)
    assert found, "the README has no '.venv/bin/python -c \"import queries; …\"' example"
    return found.group(1)


def test_make_demo_writes_the_default_kb() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo:.*\n\t(.*kb build.*)$", makefile, re.M)
    assert demo, "no 'kb build' line under the demo target"
    assert f"--db {DEFAULT_DATABASE_URL}" in demo.group(1) or "--db" not in demo.group(1)
    assert "KB_DATABASE_URL" not in makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]


def test_readme_example_works_right_after_the_demo_build(tmp_path: Path) -> None:
    # What `make demo` runs (its --db is the default, checked above), then the README's example.
    built = run(str(KB), "build", "--topic", "calcinosis", "--db", DEFAULT_DATABASE_URL, "--no-site", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "kb.sqlite").is_file()
    example = run(sys.executable, "-c", readme_python_example(), cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    import queries
    from kb.db import sqlite_url

    table = queries.treatments_for("calcinosis", context="systemic sclerosis", db=sqlite_url(tmp_path / "kb.sqlite"))
    assert len(table) > 5 and "diltiazem" in set(table["intervention_id"])
    assert f"[{len(table)} rows x {len(table.columns)} columns]" in example.stdout, example.stdout
    # The shell form reads the same KB with no --db.
    shell = run(str(KB), "treatments", "calcinosis", "--context", "SSc", cwd=tmp_path, env={"COLUMNS": "250"})
    assert shell.returncode == 0, shell.stderr
    assert "diltiazem" in shell.stdout


READ_ONLY = [
    ("runs",),
    ("treatments", "calcinosis"),
    ("export", "--format", "csv", "--out", "out"),
    ("vocab", "unmapped"),
    ("status",),
    ("review", "export", "--topic", "calcinosis", "--out", "sheet.csv"),
]


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a[:2]))
def test_read_only_commands_never_create_a_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = run(str(KB), *args, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "no knowledge base at" in out.stderr and "kb build" in out.stderr, out.stderr
    assert not (tmp_path / "kb.sqlite").exists()
    assert not any(p.name.startswith("kb.sqlite") for p in tmp_path.iterdir())


def test_status_describes_topics_runs_and_backups(tmp_path: Path) -> None:
    built = run(str(KB), "build", "--topic", MINI, "--no-site", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    with sqlite3.connect(tmp_path / "kb.sqlite") as connection:
        topics = [r[0] for r in connection.execute("SELECT id FROM topic")]
        connection.execute(
            "INSERT INTO refresh_run (topic_id, started_at, status, windows, requests, articles_new, "
            "articles_updated, articles_deleted, articles_retracted, findings_added, findings_changed, "
            "findings_removed, message) VALUES (?, '2026-01-02 03:04:05', 'partial', '[]', 3, 0, 0, 0, 0, "
            "0, 0, 0, 'esearch timed out')",
            (topics[0],),
        )
        extracted = connection.execute("SELECT COUNT(*) FROM finding WHERE origin = 'extracted'").fetchone()[0]
    (tmp_path / "kb.sqlite.before-0005").write_bytes(b"")
    before = (tmp_path / "kb.sqlite").stat().st_mtime_ns
    out = run(str(KB), "status", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "(current)" in out.stdout
    assert f"topic {topics[0]}:" in out.stdout
    assert f"{extracted} unreviewed machine findings" in out.stdout
    assert "last refresh: 2026-01-02 03:04 UTC, partial (esearch timed out)" in out.stdout
    assert "kb.sqlite.before-0005" in out.stdout
    assert (tmp_path / "kb.sqlite").stat().st_mtime_ns == before


def test_status_of_an_old_kb_names_kb_upgrade(tmp_path: Path) -> None:
    built = run(str(KB), "build", "--topic", MINI, "--no-site", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    with sqlite3.connect(tmp_path / "kb.sqlite") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0005'")
    out = run(str(KB), "status", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "schema 0005, older than" in out.stdout and "kb upgrade" in out.stdout


def test_fetch_into_an_empty_kb_loads_the_pack_first(db_url: str, tmp_path: Path) -> None:
    pmid = "38000001"
    fake = FakeEutils()
    fake.add_record(
        pmid,
        title="Diltiazem for calcinosis in systemic sclerosis",
        abstract="Calcinosis in systemic sclerosis was treated with diltiazem in 12 patients; "
        "5 patients improved after six months of diltiazem.",
    )
    with fake:
        env = {"KB_EUTILS_URL": fake.base_url, "NCBI_EMAIL": "me@example.org"}
        out = run(
            str(KB),
            "fetch",
            "--pmid",
            pmid,
            "--db",
            db_url,
            "--cache-dir",
            str(tmp_path / "cache"),
            cwd=tmp_path,
            env=env,
        )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FOREIGN KEY" not in out.stderr
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as connection:
        topics = [r[0] for r in connection.execute(text("SELECT id FROM topic"))]
        found = connection.execute(
            text("SELECT intervention_id, condition_id FROM finding WHERE article_id = :a AND origin = 'extracted'"),
            {"a": f"pubmed:{pmid}"},
        ).all()
    engine.dispose()
    assert topics == ["calcinosis"]
    assert ("diltiazem", "calcinosis") in [tuple(r) for r in found]
