"""Databases that are not a current KB: refused in one line, never created or altered by a
read, never answered with SQL or a traceback (unless --debug)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import queries
from conftest import MINI_TOPIC
from kb.db import create_kb_engine, sqlite_file, sqlite_url
from kb.errors import KBError, NewerKnowledgeBase, NotAKnowledgeBase
from kb.store import Store

KB = Path(sys.executable).with_name("kb")
READS = (["runs"], ["treatments", "calcinosis"])
BUILD = ["build", "--topic", str(MINI_TOPIC), "--no-site"]


def kb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"} | {"COLUMNS": "200"}
    return subprocess.run([str(KB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The command failed with exit 1 and one line on stderr holding ``expected``, and no SQL."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text_ in expected:
        assert text_ in lines[0], lines[0]
    for leak in ("Traceback", "SELECT", "INSERT", "[SQL", "parameters"):
        assert leak not in result.stderr, result.stderr
    return lines[0]


def tables(url: str) -> set[str]:
    engine = create_kb_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_missing_sqlite_kb_says_how_to_make_one_and_is_not_created(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "kb.sqlite")
    for argv in READS:
        one_line_error(kb(*argv, "--db", url, cwd=tmp_path), "no knowledge base at", "kb build")
    one_line_error(kb("upgrade", "--db", url, cwd=tmp_path), "no knowledge base at")
    with pytest.raises(KBError, match="no knowledge base"):
        queries.findings(db=url)
    assert not (tmp_path / "kb.sqlite").exists()


def test_an_empty_database_is_not_a_kb_to_read_and_stays_empty(db_url: str, tmp_path: Path) -> None:
    path = sqlite_file(db_url)
    if path is not None:
        sqlite3.connect(path).close()  # an empty file, as sqlite3 leaves it
    for argv in READS:
        one_line_error(kb(*argv, "--db", db_url, cwd=tmp_path), "not a knowledge base", "kb build")
    with pytest.raises(NotAKnowledgeBase):
        queries.findings(db=db_url)
    assert tables(db_url) == set()


def test_a_database_of_other_tables_is_refused_by_reads_and_writes(db_url: str, tmp_path: Path) -> None:
    engine = create_kb_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('mine')"))
    engine.dispose()
    for argv in (*READS, BUILD, ["upgrade"]):
        one_line_error(kb(*argv, "--db", db_url, cwd=tmp_path), "not a knowledge base", "notes")
    with pytest.raises(NotAKnowledgeBase, match="notes"):
        queries.treatments_for("calcinosis", db=db_url)
    with pytest.raises(NotAKnowledgeBase):
        Store.open(db_url)
    assert tables(db_url) == {"notes"}


def test_a_kb_written_by_a_newer_version_says_so_and_is_left_alone(db_url: str, tmp_path: Path) -> None:
    Store.open(db_url).close()
    engine = create_kb_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    for argv in (*READS, BUILD, ["upgrade"]):
        one_line_error(kb(*argv, "--db", db_url, cwd=tmp_path), "newer version of kb", "0999")
    with pytest.raises(NewerKnowledgeBase):
        queries.findings(db=db_url)
    engine = create_kb_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0999"
        assert conn.execute(text("SELECT COUNT(*) FROM topic")).scalar_one() == 0
    engine.dispose()


def test_a_corrupt_file_gives_one_line_and_debug_gives_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    path.write_bytes(b"not a database, just text\n" * 200)
    url = sqlite_url(path)
    for argv in (*READS, BUILD, ["upgrade"]):
        one_line_error(kb(*argv, "--db", url, cwd=tmp_path), "not a readable SQLite database")
    assert path.read_bytes() == b"not a database, just text\n" * 200
    for argv in (["--debug", "runs", "--db", url], ["runs", "--db", url, "--debug"]):
        debug = kb(*argv, cwd=tmp_path)
        assert debug.returncode == 1 and "Traceback" in debug.stderr, debug.stderr


# Privileges are dropped inside the process, after the imports: the interpreter lives where an
# unprivileged user cannot read it. (As root, permissions are not enforced at all.)
_AS_NOBODY = """
import os, sys
import sqlite3
import ingest.cli, ingest.pipeline, kb.store, kb.graph, kb.topic, queries, queries.catalog
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
sys.argv = ["kb", *sys.argv[1:]]
ingest.cli.main()
"""


def kb_unprivileged(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_read_only_file_or_folder_says_permission_denied(tmp_path: Path) -> None:
    # Outside pytest's own folder, which only its owner may enter.
    folder = Path(tempfile.mkdtemp(prefix="kb-perm-")) / "kbs"
    folder.parent.chmod(0o755)
    folder.mkdir()
    path = folder / "kb.sqlite"
    Store.open(sqlite_url(path)).close()
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        url = sqlite_url(path)
        assert kb_unprivileged("runs", "--db", url, cwd=tmp_path).returncode == 0  # reading a read-only KB is fine
        one_line_error(kb_unprivileged(*BUILD, "--db", url, cwd=tmp_path), f"permission denied: {path}")
        new = sqlite_url(folder / "new" / "kb.sqlite")
        one_line_error(kb_unprivileged(*BUILD, "--db", new, cwd=tmp_path), f"permission denied: {folder}")
        folder.chmod(0o700)  # not even readable
        one_line_error(kb_unprivileged("runs", "--db", url, cwd=tmp_path), f"permission denied: {folder}")
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
        shutil.rmtree(folder.parent)


@pytest.mark.parametrize("name", ["with #hash", "with ?query", "with %25 percent", "with  spaces"])
def test_a_kb_path_with_url_characters_opens_that_file_for_reading(tmp_path: Path, name: str) -> None:
    from queries.downloads import write_downloads

    folder = tmp_path / name
    path = folder / "kb #1.sqlite"
    url = sqlite_url(path)
    result = kb("build", "--topic", str(MINI_TOPIC), "--db", url, "--no-site", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(queries.findings(db=url)) == 7
    shown = kb("treatments", "calcinosis", "--db", url, cwd=tmp_path)
    assert shown.returncode == 0 and "diltiazem" in shown.stdout, shown
    write_downloads(tmp_path / "downloads", db=url)
    with sqlite3.connect(tmp_path / "downloads" / "kb.sqlite") as copy:
        assert copy.execute("SELECT COUNT(*) FROM finding").fetchone() == (7,)
    # Nothing else was opened (and so created) on the way.
    assert sorted(p.name for p in folder.iterdir()) == ["kb #1.sqlite"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["downloads", name])
