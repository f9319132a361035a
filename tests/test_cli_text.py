"""What the ``kb`` command prints is the text it was given: square brackets in a term, a file
name, a PubMed query or an NCBI error message are never read as rich markup (which crashed
with ``MarkupError`` or swallowed ``[tiab]``). The installed command, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fake_eutils import FakeEutils, Fault, article_set, make_article

KB = Path(sys.executable).with_name("kb")
MINI = str(Path(__file__).parent / "fixtures" / "minitopic")


def kb(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL", "NCBI_API_KEY")}
    full_env.update(env or {})
    return subprocess.run([str(KB), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def clean(result: subprocess.CompletedProcess[str]) -> None:
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream and "MarkupError" not in stream, stream


def test_a_term_with_brackets_is_named_in_the_error(mini_kb: str, tmp_path: Path) -> None:
    for term in ("[/]", "[bold]x[/bold]", "calcinosis[tiab]"):
        out = kb("treatments", term, "--db", mini_kb, cwd=tmp_path)
        clean(out)
        assert out.returncode == 1
        assert out.stderr.startswith(f"error: unknown condition {term!r}"), out.stderr


def test_a_file_name_with_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kb.sqlite"
    absent = kb("ingest", "x[/bold].xml", "--db", db, cwd=tmp_path)
    clean(absent)
    assert absent.returncode == 1 and "x[/bold].xml" in absent.stderr
    (tmp_path / "x[").mkdir()  # the file "bold].xml" in the folder "x["
    broken = tmp_path / "x[" / "bold].xml"
    broken.write_bytes(article_set([make_article("35000001"), make_article("35000002")])[:-200])
    out = kb("ingest", "x[/bold].xml", "--db", db, cwd=tmp_path)
    clean(out)
    assert out.returncode == 1 and "x[/bold].xml" in out.stderr
    broken.write_bytes(article_set([make_article("35000003")]))
    out = kb("ingest", "x[/bold].xml", "--db", db, cwd=tmp_path)
    clean(out)
    assert out.returncode == 0 and "bold].xml: 1 records read" in out.stdout


def test_a_pubmed_query_keeps_its_field_tags_in_messages(tmp_path: Path) -> None:
    with FakeEutils() as fake:
        fake.inject("esearch", Fault.respond(403, "Forbidden\n", "text/plain"))
        env = {"KB_EUTILS_URL": fake.base_url, "NCBI_EMAIL": "me@example.org"}
        out = kb("fetch", "--query", "calcinosis[tiab] AND diltiazem[nm]", "--cache-dir", "c", cwd=tmp_path, env=env)
    clean(out)
    assert out.returncode == 1
    assert "'calcinosis[tiab] AND diltiazem[nm]'" in out.stderr, out.stderr


def test_an_ncbi_error_with_brackets_leaves_a_partial_refresh_partial(db_url: str, tmp_path: Path) -> None:
    """The window's message quotes NCBI; printing it crashed after the run was recorded,
    turning exit 11 (partial) into 1."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "vocabulary.yaml").write_text((Path(MINI) / "vocabulary.yaml").read_text())
    (pack / "topic.yaml").write_text(
        "id: bt\ntitle: Brackets\nquestion: What treats calcinosis?\ndescription: A test topic.\n"
        "condition: calcinosis\nqueries:\n  - name: qa\n    term: qa[tiab]\n    since: '2000'\n"
    )
    with FakeEutils() as fake:
        fake.inject("esearch", Fault.error_200("Invalid query: [/bold] is not a field [tiab]"))
        env = {"KB_EUTILS_URL": fake.base_url, "NCBI_EMAIL": "me@example.org"}
        out = kb("refresh", "--topic", str(pack), "--db", db_url, "--cache-dir", "c", cwd=tmp_path, env=env)
    clean(out)
    assert out.returncode == 11, out.stdout + out.stderr
    assert "qa [edat]" in out.stdout
    assert "NCBI answered with an error: Invalid query: [/bold] is not a field [tiab]" in out.stdout
