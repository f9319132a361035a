"""Authoring a topic: ``kb topic new`` writes a skeleton that checks and builds, ``kb topic
check`` lists every problem at once with its field path and what to write, packs are found by
name in ``KB_TOPICS_PATH`` folders and the bundled ones (``kb topics`` lists both), and the
reference page is generated from the pack schema and kept up to date."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.topic_reference import PACK_FILES, _walk, render_reference
from ingest.topic_tools import check_pack
from kb.errors import TopicError
from kb.topic import bundled_topics, load_topic

REPO = Path(__file__).resolve().parent.parent
KB = Path(sys.executable).with_name("kb")


def kb(*args: str, cwd: Path, env: dict[str, str] | None = None, expect: int = 0) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL", "KB_TOPICS_PATH")} | {"COLUMNS": "300"}
    out = subprocess.run([str(KB), *args], cwd=cwd, env=full | (env or {}), capture_output=True, text=True, timeout=600)
    assert out.returncode == expect, f"kb {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
    assert "Traceback" not in out.stderr
    return out


def test_new_skeleton_checks_builds_and_is_found_by_name(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    kb("topic", "new", "morphea", "--dir", str(packs), cwd=tmp_path)
    topic_yaml = (packs / "morphea" / "topic.yaml").read_text(encoding="utf-8")
    assert topic_yaml.count("#") > 10, "the skeleton explains its fields"
    assert "valid" in kb("topic", "check", str(packs / "morphea"), cwd=tmp_path).stdout
    env = {"KB_TOPICS_PATH": f"{tmp_path / 'nowhere'}{os.pathsep}{packs}"}
    listed = kb("topics", cwd=tmp_path, env=env).stdout
    assert "morphea" in listed and "KB_TOPICS_PATH" in listed
    assert all(f"{name}  " in listed for name in bundled_topics()) and "bundled" in listed
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    kb("build", "--topic", "morphea", "--db", db, "--no-site", cwd=tmp_path, env=env)
    assert "topic morphea: Morphea — treatment evidence" in kb("status", "--db", db, cwd=tmp_path).stdout
    # A second `new` of the same name refuses, in one line.
    again = kb("topic", "new", "morphea", "--dir", str(packs), cwd=tmp_path, expect=1)
    assert "exists already" in again.stderr


def test_a_pack_in_kb_topics_path_shadows_a_bundled_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copytree(load_topic("ssc-ild").path, tmp_path / "ssc-ild")
    monkeypatch.setenv("KB_TOPICS_PATH", str(tmp_path))
    assert load_topic("ssc-ild").path == tmp_path / "ssc-ild"
    listed = kb("topics", cwd=tmp_path, env={"KB_TOPICS_PATH": str(tmp_path)}).stdout
    assert "hidden by the pack of the same name above" in listed
    monkeypatch.delenv("KB_TOPICS_PATH")
    with pytest.raises(TopicError, match="KB_TOPICS_PATH"):
        load_topic("no-such-topic")


def test_check_lists_every_problem_with_its_field_and_what_to_write(tmp_path: Path) -> None:
    kb("topic", "new", "broken", "--dir", str(tmp_path), cwd=tmp_path)
    pack = tmp_path / "broken"
    (pack / "topic.yaml").write_text(
        "id: Broken Pack\ntitle: x\nquestion: q\ncondition: nothing\n"
        "queries:\n  - name: main\n    term: ''\n    since: '01/2020'\nexpansion:\n  refs_depth: 9\ncolour: blue\n",
        encoding="utf-8",
    )
    (pack / "vocabulary.yaml").write_text(
        "conditions:\n  - id: broken\n    name: broken\n    contexts: [ssc]\n    mesh: '123'\n", encoding="utf-8"
    )
    (pack / "curated.yaml").write_text("articles: []\nfindings:\n  - key: one\n", encoding="utf-8")
    out = kb("topic", "check", str(pack), cwd=tmp_path, expect=1)
    lines = out.stdout.splitlines()
    expected = [
        "topic.yaml: id:",
        "topic.yaml: description: Field required",
        "topic.yaml: queries[0].term:",
        "topic.yaml: queries[0].since:",
        "topic.yaml: expansion.refs_depth:",
        "topic.yaml: colour: is not a field here",
        "vocabulary.yaml: conditions[0].mesh:",
        "vocabulary.yaml: condition 'broken' names unknown context 'ssc'",
        "curated.yaml: findings[0].article: Field required",
        "curated.yaml: findings[0].response: Field required",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), f"{start!r} not in:\n{out.stdout}"
    assert all("→ write: " in line for line in lines), out.stdout
    assert any("YYYY[/MM[/DD]]" in line and "e.g. 2000/01/01" in line for line in lines), out.stdout
    assert f"{len(lines)} problem(s)" in out.stderr


@pytest.mark.parametrize("name", bundled_topics())
def test_bundled_packs_pass_the_check(name: str) -> None:
    assert [p.line() for p in check_pack(load_topic(name).path)] == []


def test_the_reference_page_is_generated_from_the_schema_and_up_to_date() -> None:
    page = render_reference()
    committed = (REPO / "site" / "docs" / "topic-packs.md").read_text(encoding="utf-8")
    assert committed == page, "site/docs/topic-packs.md is stale: run kb topic reference --out site/docs/topic-packs.md"
    for file, model, _required, _what in PACK_FILES:
        assert f"## `{file}`" in page
        section = page.split(f"## `{file}`", 1)[1].split("\n## ", 1)[0]
        for path, _name, info, _inner in _walk(model, ""):
            row = next(line for line in section.splitlines() if line.startswith(f"| `{path}` |"))
            assert info.description and info.description.split(".")[0][:30].replace("|", "\\|") in row, row
    assert "| `description` | yes | text |" in page  # required, learnable before any pydantic error
    assert "ambiguous_abbreviations` |" in page and "`condition_labels.<id>.precedence`" in page
    mkdocs = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert "topic-packs.md" in mkdocs
