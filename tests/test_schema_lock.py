"""Schema work is serialised: commands opening a fresh KB at the same moment do not trip over
each other (a PostgreSQL advisory lock; SQLite's write lock), and a bounded wait ends in exit
code 12 with one line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from conftest import MINI_TOPIC
from kb.db import create_kb_engine, sqlite_file
from kb.schema import _ADVISORY_KEY, read_state

# Each process imports everything first, then waits for the same instant to run `kb ...` (or
# to open the store), so they really open the KB at once: process start-up alone spreads them
# over a second, longer than creating the schema takes.
_AT_ONCE = """
import sys, time
import ingest.cli, ingest.pipeline, ingest.refresh, kb.store, kb.graph, kb.topic
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
if sys.argv[2] == "open":
    store = kb.store.Store.open(sys.argv[3])
    upgraded = getattr(store, "upgraded", None)
    print(upgraded.line() if upgraded else "nothing to do", file=sys.stderr)
    store.close()
else:
    sys.argv = ["kb", *sys.argv[2:]]
    ingest.cli.main()
"""


def _at_once(
    count: int, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    start = time.time() + 4.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_ONCE, str(start), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_refreshes_opening_a_fresh_kb_at_once_create_the_schema_once(db_url: str, tmp_path: Path) -> None:
    """Three `kb refresh` on a KB nobody has made yet: one creates the schema and runs, the
    others wait for the schema, then are refused by the refresh lock (exit 12), in one line."""
    from test_refresh import MINI_VOCABULARY, TOPIC_YAML, kb_env, populate

    from fake_eutils import FakeEutils

    folder = tmp_path / "pack"
    folder.mkdir()
    shutil.copy(MINI_VOCABULARY, folder / "vocabulary.yaml")
    (folder / "topic.yaml").write_text(TOPIC_YAML)
    fake = FakeEutils(latency=0.2)
    populate(fake, qa=8, qb=4, refs=4, citers=2)
    with fake:
        results = _at_once(
            3,
            "refresh",
            "--topic",
            str(folder),
            "--db",
            db_url,
            "--cache-dir",
            str(tmp_path / "cache"),
            cwd=tmp_path,
            env=kb_env(fake),
        )
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 12, 12], [r.stderr for r in results]
    for result in results:
        assert "Traceback" not in result.stderr and "already exists" not in result.stderr, result.stderr
        if result.returncode == 12:  # one line (besides the schema's, if this run created it)
            lines = [line for line in result.stderr.strip().splitlines() if "created the KB schema" not in line]
            assert len(lines) == 1 and lines[0].startswith("refused:"), result.stderr
    assert sum("created the KB schema" in r.stderr for r in results) == 1, [r.stderr for r in results]
    assert read_state(create_kb_engine(db_url)).status == "current"


def test_stores_opening_a_fresh_kb_at_once_all_get_the_schema(db_url: str, tmp_path: Path) -> None:
    results = _at_once(4, "open", db_url, cwd=tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
    assert sum("created the KB schema" in r.stderr for r in results) == 1, [r.stderr for r in results]
    assert read_state(create_kb_engine(db_url)).status == "current"


def test_schema_work_waits_a_bounded_time_then_exits_12(db_url: str, tmp_path: Path) -> None:
    """Another process holds the schema lock: the build waits KB_SCHEMA_WAIT seconds, then says so."""
    env = {**os.environ, "KB_SCHEMA_WAIT": "1"}
    argv = [str(Path(sys.executable).with_name("kb")), "build", "--topic", str(MINI_TOPIC), "--db", db_url, "--no-site"]
    path = sqlite_file(db_url)
    if path is not None:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a migrating process holds it
        try:
            started = time.monotonic()
            result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        engine = create_kb_engine(db_url)
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_KEY})
            started = time.monotonic()
            result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
        engine.dispose()
    assert result.returncode == 12, result
    assert time.monotonic() - started < 60
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing was changed" in lines[0] and "Try again" in lines[0], result.stderr
    assert read_state(create_kb_engine(db_url)).status == "empty"


def test_stores_opening_an_old_kb_at_once_upgrade_it_once(db_url: str, tmp_path: Path) -> None:
    from test_upgrade import dump, make_kb

    make_kb(db_url, "0005")
    before = dump(db_url)
    results = _at_once(3, "open", db_url, cwd=tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
    assert sum("upgraded the KB" in r.stderr for r in results) == 1, [r.stderr for r in results]
    after = dump(db_url)
    for table, rows in before.items():
        columns = list(rows[0]) if rows else []
        kept = [{c: row[c] for c in columns} for row in after[table]]
        if table == "kb_state":  # 0009 marks the summary stale (see test_upgrade.assert_kept)
            assert all(row["summary_revision"] is None for row in kept), kept
            rows = [row | {"summary_revision": None} for row in rows]
        assert all(row in kept for row in rows), table
    path = sqlite_file(db_url)
    if path is not None:
        assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("kb.sqlite.before")) == [
            "kb.sqlite.before-0005"
        ]
