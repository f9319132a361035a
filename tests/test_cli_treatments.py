"""``kb treatments``: readable at 80 columns, with rate, interval and certainty; csv and json
carry every column with not reported left empty (null). The installed command, in a
subprocess, over the hand KB (a real SQLite file, then a real PostgreSQL server)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

KB = Path(sys.executable).with_name("kb")


def kb(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"} | {"COLUMNS": str(columns)}
    return subprocess.run([str(KB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_table_fits_80_columns_with_rate_interval_and_certainty(hand_kb: str, tmp_path: Path) -> None:
    out = kb("treatments", "calcinosis", "--context", "SSc", "--db", hand_kb, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, out.stdout
    header = lines[0]
    for name in ("Treatment", "Studies", "Patients", "Resp./eval.", "Rate (95% CI)", "Certainty"):
        assert name in header, header
    assert "…" not in out.stdout
    diltiazem = next(line for line in lines if line.startswith("diltiazem "))
    # 3 studies, 34 treated, 12/34 responded: 35% (21–52%), three designs of which the best
    # primary is a retrospective cohort (starts low, 34 patients is imprecise).
    cells = [c.strip() for c in diltiazem.split("│")[1:]]
    assert cells == ["3", "34", "12/34", "35% (21–52%)", "very low"], diltiazem
    review_only = next(line for line in lines if line.startswith("bisphosphonates "))
    assert [c.strip() for c in review_only.split("│")[2:5]] == ["NR", "NR", "NR"], review_only


def test_csv_and_json_carry_every_column(hand_kb: str, tmp_path: Path) -> None:
    out = kb("treatments", "calcinosis", "--context", "SSc", "--format", "csv", "--db", hand_kb, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["intervention_id"]: r for r in csv.DictReader(io.StringIO(out.stdout))}
    assert (rows["diltiazem"]["patients"], rows["diltiazem"]["evaluable"]) == ("34", "34")
    assert (rows["bisphosphonates"]["patients"], rows["bisphosphonates"]["responders"]) == ("", "")
    assert rows["bisphosphonates"]["certainty"] == "very low"
    out = kb("treatments", "calcinosis", "--context", "SSc", "--format", "json", "--db", hand_kb, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = {r["intervention_id"]: r for r in json.loads(out.stdout)}
    assert data["bisphosphonates"]["patients"] is None and data["bisphosphonates"]["evaluable"] is None
    assert data["diltiazem"]["certainty_reasons"][0].startswith("best primary design is retrospective cohort")


def test_an_unknown_format_is_one_line(hand_kb: str, tmp_path: Path) -> None:
    out = kb("treatments", "calcinosis", "--format", "xml", "--db", hand_kb, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == "error: unknown --format 'xml'; use one of table, csv, json"
