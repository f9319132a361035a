"""The README as a newcomer reads it: its command table lists every ``kb`` command, and its
worked second-topic example, run as written, checks, builds beside calcinosis and answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer

import queries
from ingest.cli import app

REPO = Path(__file__).resolve().parent.parent
KB = Path(sys.executable).with_name("kb")
README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(group: object, prefix: str) -> list[str]:
    found = []
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        found.append(f"{prefix} {name}")
        found += _commands(sub, f"{prefix} {name}")
    return found


def test_the_command_table_lists_every_command() -> None:
    table = [line for line in README.splitlines() if line.startswith("| `kb ")]
    listed = {re.match(r"\| `(kb(?: [a-z]+)*)", line).group(1) for line in table}  # type: ignore[union-attr]
    groups_with_own_action = {"kb review"}  # `kb review --topic T` is the terminal queue itself
    commands = _commands(typer.main.get_command(app), "kb")
    missing = [
        c
        for c in commands
        if c not in listed
        and not (any(other.startswith(c + " ") for other in commands) and c not in groups_with_own_action)
    ]
    assert not missing, f"the README's command table lacks {missing}"


def _blocks(language: str, after: str) -> str:
    section = README.split(after, 1)[1]
    found = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert found, f"no {language} block after {after!r}"
    return found.group(1)


def test_the_worked_second_topic_example_runs_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL",)}
    env |= {"KB_TOPICS_PATH": str(tmp_path / "my-topics"), "COLUMNS": "200"}

    def kb(*args: str) -> str:
        out = subprocess.run([str(KB), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"kb {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    kb("topic", "new", "ssc-digital-ulcers", "--dir", "my-topics")
    pack = tmp_path / "my-topics" / "ssc-digital-ulcers"
    (pack / "topic.yaml").write_text(
        _blocks("yaml", "Edit `my-topics/ssc-digital-ulcers/topic.yaml`"), encoding="utf-8"
    )
    (pack / "vocabulary.yaml").write_text(
        _blocks("yaml", "and `my-topics/ssc-digital-ulcers/vocabulary.yaml`"), encoding="utf-8"
    )
    assert "the pack is valid" in kb("topic", "check", "ssc-digital-ulcers")
    kb("build", "--topic", "calcinosis", "--no-site")
    before = queries.findings(condition="calcinosis", context="CREST", db=f"sqlite:///{tmp_path / 'kb.sqlite'}")
    kb("build", "--topic", "ssc-digital-ulcers", "--no-site")
    status = kb("status")
    assert "topic calcinosis:" in status and "topic ssc-digital-ulcers: Digital ulcers" in status
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    assert len(queries.findings(condition="calcinosis", context="CREST", db=db)) == len(before) > 0
    assert list(queries.treatments_for("digital-ulcer", context="SSc", db=db).columns)
