"""Exports read back by the parsers their users have: pandas, json, rispy, bibtexparser; and
the ``kb export`` command."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pandas as pd
import pytest
import rispy
from sqlalchemy import text

import queries
from conftest import HAND_ARTICLES, HAND_FINDINGS, HOSTILE_TITLE
from kb.models import ArticleRecord
from kb.store import Store
from queries.export import EXPORT_FORMATS, write_exports

KB = Path(sys.executable).with_name("kb")
ALL_FILES = sorted(name for names in EXPORT_FORMATS.values() for name in names)
# The LaTeX the BibTeX writer may produce, and the text each stands for.
LATEX = {
    r"\textbackslash{}": "\\",
    r"\textbraceleft{}": "{",
    r"\textbraceright{}": "}",
    r"\textasciicircum{}": "^",
    r"\textasciitilde{}": "~",
    r"\textless{}": "<",
    r"\textgreater{}": ">",
    r"\%": "%",
    r"\&": "&",
    r"\$": "$",
    r"\#": "#",
    r"\_": "_",
}


def _one_line(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def _from_latex(value: str) -> str:
    pattern = "|".join(re.escape(k) for k in sorted(LATEX, key=len, reverse=True))
    return re.sub(pattern, lambda m: LATEX[m.group(0)], value)


def test_every_format_writes_its_files(hand_kb: str, tmp_path: Path) -> None:
    written = write_exports(tmp_path / "all", db=hand_kb)
    assert sorted(p.name for p in written) == ALL_FILES
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ALL_FILES
    assert [p.name for p in write_exports(tmp_path / "two", "ris, bibtex", db=hand_kb)] == [
        "articles.ris",
        "articles.bib",
    ]
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        write_exports(tmp_path, "csv,xlsx", db=hand_kb)


def test_csv_and_json_read_back(hand_kb: str, tmp_path: Path) -> None:
    write_exports(tmp_path, "csv,json", db=hand_kb)
    findings = pd.read_csv(tmp_path / "findings.csv")
    assert len(findings) == len(HAND_FINDINGS)
    assert list(findings["finding_id"]) == sorted(findings["finding_id"])
    articles = pd.read_csv(tmp_path / "articles.csv", keep_default_na=False).set_index("id")
    assert len(articles) == len(HAND_ARTICLES)
    assert articles.loc["pubmed:3", "title"] == HOSTILE_TITLE
    assert articles.loc["pubmed:1", "authors"] == "Alpha A; Beta BC"
    aggregates = pd.read_csv(tmp_path / "aggregates.csv", keep_default_na=False)
    dil = aggregates[
        (aggregates["intervention_id"] == "diltiazem") & (aggregates["context_id"] == "systemic-sclerosis")
    ]
    assert dil[["studies", "responders", "evaluable", "contradicted"]].values.tolist() == [[3, "12", "34", True]]
    review = aggregates[aggregates["intervention_id"] == "bisphosphonates"]
    assert review[["patients", "responders", "evaluable"]].values.tolist() == [["", "", ""]]  # not reported, not 0
    assert dil["combinations"].item() == "diltiazem-pamidronate"
    data = json.loads((tmp_path / "kb.json").read_text(encoding="utf-8"))
    assert sorted(data) == ["aggregates", "articles", "findings"]
    by_id = {a["id"]: a for a in data["articles"]}
    assert by_id["pubmed:3"]["title"] == HOSTILE_TITLE and by_id["pubmed:1"]["authors"] == ["Alpha A", "Beta BC"]
    assert by_id["pubmed:4"]["doi"] is None
    roll_up = next(
        r
        for r in data["aggregates"]
        if (r["level"], r["intervention_id"], r["context_id"]) == ("class", "bisphosphonate", "systemic-sclerosis")
    )
    table = queries.treatments_for("calcinosis", context="SSc", db=hand_kb).set_index("intervention_id")
    assert roll_up["combinations"] == ["diltiazem-pamidronate"]
    assert roll_up["ci_low"] == pytest.approx(table.loc["bisphosphonate", "ci_low"])


def test_ris_reads_back_with_rispy(hand_kb: str, tmp_path: Path) -> None:
    write_exports(tmp_path, "ris", db=hand_kb)
    entries = {e["id"]: e for e in rispy.loads((tmp_path / "articles.ris").read_text(encoding="utf-8"))}
    # The articles the findings cite: not pubmed:7 (reports nothing) nor pubmed:999.
    assert sorted(entries) == sorted({article for _, article, *_ in HAND_FINDINGS})
    hostile = entries["pubmed:3"]
    assert hostile["title"] == _one_line(HOSTILE_TITLE)
    assert hostile["authors"] == ["SSc Study Group", "O'Brien P"]
    assert (hostile["type_of_reference"], hostile["journal_name"], hostile["year"]) == ("JOUR", "J & Co {x}", "2019")
    assert entries["pubmed:2"]["doi"] == "10.1000/two"
    assert entries["doi:10.1000/review"]["urls"] == ["https://doi.org/10.1000/review"]


def test_bibtex_reads_back_with_bibtexparser(hand_kb: str, tmp_path: Path) -> None:
    write_exports(tmp_path, "bibtex", db=hand_kb)
    library = bibtexparser.parse_string((tmp_path / "articles.bib").read_text(encoding="utf-8"))
    assert library.failed_blocks == []
    entries = {e.key: e for e in library.entries}
    assert sorted(entries) == sorted({article for _, article, *_ in HAND_FINDINGS})
    hostile = entries["pubmed:3"]
    title = hostile["title"]
    assert title.startswith("{") and title.endswith("}")  # kept capitals
    assert _from_latex(title[1:-1]) == _one_line(HOSTILE_TITLE)
    assert _from_latex(hostile["journal"]) == "J & Co {x}"
    assert hostile["author"] == "{SSc Study Group} and O'Brien, P"
    assert entries["pubmed:1"]["author"] == "Alpha, A and Beta, BC"
    assert (entries["pubmed:2"]["doi"], entries["pubmed:4"].entry_type) == ("10.1000/two", "misc")


def test_the_same_kb_built_twice_exports_the_same_bytes(mini_pack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ingest.pipeline import build_topic
    from kb.store import Store

    outputs = []
    for n, stamp in ((1, None), (2, "2001-02-03 04:05:06")):
        url = f"sqlite:///{tmp_path / f'kb{n}.sqlite'}"
        store = Store.open(url)
        build_topic(store, mini_pack)
        if stamp:  # a build at another time: only the KB's own timestamps differ
            with store.engine.begin() as conn:
                conn.execute(text("UPDATE finding SET created_at = :t"), {"t": stamp})
                conn.execute(text("UPDATE article SET created_at = :t, updated_at = :t"), {"t": stamp})
        store.close()
        outputs.append({p.name: p.read_bytes() for p in write_exports(tmp_path / f"out{n}", db=url)})
    assert sorted(outputs[0]) == ALL_FILES
    assert outputs[0] == outputs[1]
    assert b"lastmodifieddate" not in outputs[0]["kb.gexf"]


def _kb(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    return subprocess.run([str(KB), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_kb_export_command(hand_kb: str, tmp_path: Path) -> None:
    done = _kb("export", "--format", "csv,graphml", "--out", str(tmp_path / "out"), "--db", hand_kb)
    assert done.returncode == 0, done.stderr
    names = ["findings.csv", "articles.csv", "aggregates.csv", "kb.graphml"]
    assert done.stdout.splitlines() == [str(tmp_path / "out" / name) for name in names]
    bad = _kb("export", "--format", "xlsx", "--out", str(tmp_path / "out"), "--db", hand_kb)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: unknown export format 'xlsx'")
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = _kb("export", "--format", "all", "--out", str(tmp_path / "x"), "--db", f"sqlite:///{tmp_path}/no.sqlite")
    assert missing.returncode == 1 and "kb build" in missing.stderr


def test_csv_cells_a_spreadsheet_would_run_stay_text(hand_kb: str, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://127.0.0.1/x","Calcinosis")'
    store = Store.open(hand_kb)
    store.save_articles(
        [ArticleRecord(id="pubmed:8", pmid="8", title=formula, journal="@SUM(1+1)", year=2023, authors=["-Dash D"])]
    )
    store.close()
    write_exports(tmp_path, "csv,json", db=hand_kb)
    with (tmp_path / "articles.csv").open(encoding="utf-8", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == "pubmed:8")
    assert (row["title"], row["journal"], row["authors"]) == ("'" + formula, "'@SUM(1+1)", "'-Dash D")
    assert row["year"] == "2023"
    # Numbers are not text: counts and years are written as they are.
    findings = pd.read_csv(tmp_path / "findings.csv")
    assert findings["n_treated"].dropna().ge(0).all()
    # JSON is read by programs, not spreadsheets: the title is exact there.
    data = json.loads((tmp_path / "kb.json").read_text(encoding="utf-8"))
    assert next(a for a in data["articles"] if a["id"] == "pubmed:8")["title"] == formula
