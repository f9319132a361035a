"""The documentation names tests that exist: every ``tests/FILE.py::NAME`` (and ``::NAME``
after one) in the Operations page's Reliability table is a test function in that file."""

from __future__ import annotations

import ast
import re

from conftest import REPO


def _reliability_rows() -> list[str]:
    page = (REPO / "site" / "docs" / "operations.md").read_text(encoding="utf-8")
    section = page.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| **")]


def test_every_test_the_reliability_table_names_exists() -> None:
    rows = _reliability_rows()
    assert len(rows) >= 8
    for row in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", row)
        assert named, f"a guarantee without a test: {row}"
        path = None
        for file, name in named:
            path = file or path
            assert path is not None, row
            tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
            functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            assert name in functions, f"{path}::{name} is named in operations.md but does not exist"
