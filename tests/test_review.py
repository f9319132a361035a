"""The review queue: ``kb review export`` / ``kb review apply`` round trip, the terminal
``kb review``, and decisions that survive a rebuild from scratch. The installed command on a
copy of the calcinosis pack, with articles written by the project (PubMed XML, ``kb ingest``),
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from fake_eutils import article_set, make_article
from ingest.review import review_id, review_id_of
from kb.topic import load_topic

KB = Path(sys.executable).with_name("kb")
ABSTRACTS = {
    "38100001": "We report twelve patients with systemic sclerosis and calcinosis cutis treated with diltiazem. "
    "Calcinosis improved in 5 of 12 patients treated with diltiazem.",
    "38100002": "Eight patients with juvenile dermatomyositis and calcinosis received intravenous sodium "
    "thiosulfate; calcinosis regressed in 6 of 8 patients.",
    "38100003": "In a retrospective cohort of 20 patients with systemic sclerosis, calcinosis was treated with "
    "minocycline and 11 of 20 patients improved.",
}


def kb(*args: str, cwd: Path, stdin: str | None = None, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DATABASE_URL", "KB_REVIEWER")} | {"COLUMNS": "200"}
    out = subprocess.run([str(KB), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=600)
    assert out.returncode == expect, f"kb {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A copy of the calcinosis pack (decisions are written into the pack)."""
    folder = tmp_path / "pack"
    shutil.copytree(load_topic("calcinosis").path, folder)
    return folder


@pytest.fixture
def xml(tmp_path: Path) -> Path:
    path = tmp_path / "articles.xml"
    path.write_bytes(
        article_set(
            [make_article(p, title=f"Calcinosis treatment {p}", abstract=a, year=2021) for p, a in ABSTRACTS.items()]
        )
    )
    return path


def build_with_articles(db: str, pack: Path, xml: Path, cwd: Path) -> None:
    kb("build", "--topic", str(pack), "--db", db, "--no-site", cwd=cwd)
    kb("ingest", str(xml), "--topic", str(pack), "--db", db, cwd=cwd)
    kb("build", "--topic", str(pack), "--db", db, "--no-site", cwd=cwd)  # extracts the new abstracts


def findings(db: str) -> list[dict]:
    engine = create_engine(db)
    with engine.connect() as connection:
        rows = [
            dict(r._mapping)
            for r in connection.execute(
                text(
                    "SELECT article_id, intervention_id, condition_id, context_id, outcome, n_treated, n_responded, "
                    "origin, curation_key, evidence FROM finding WHERE article_id LIKE 'pubmed:381%'"
                )
            )
        ]
    engine.dispose()
    return rows


def test_review_identity_ignores_the_extractor() -> None:
    row = {"article_id": "pubmed:1", "intervention_id": "a", "condition_id": "c", "context_id": None, "outcome": None}
    assert review_id_of(row | {"extractor_version": "1"}) == review_id_of(row | {"extractor_version": "2"})
    assert review_id("pubmed:1", "a", "c", None, None) != review_id("pubmed:1", "a", "c", None, "size")


def test_export_edit_apply_rebuild_reextract(db_url: str, tmp_path: Path, pack: Path, xml: Path) -> None:
    build_with_articles(db_url, pack, xml, tmp_path)
    machine = [f for f in findings(db_url) if f["origin"] == "extracted"]
    assert len(machine) == 3, machine

    sheet = tmp_path / "sheet.csv"
    out = kb("review", "export", "--topic", str(pack), "--out", str(sheet), "--db", db_url, cwd=tmp_path)
    assert "wrote 3 unreviewed findings" in out.stdout
    with sheet.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        rows = list(reader)
    assert len(rows) == 3 and {"review_id", "decision", "reason", "n_treated", "evidence"} <= set(columns or [])
    by_article = {r["article_id"]: r for r in rows}
    accept, correct, reject = (by_article[f"pubmed:{p}"] for p in ABSTRACTS)
    assert accept["intervention_id"] == "diltiazem" and accept["n_treated"] == "12"
    accept["decision"] = "accept"
    correct["decision"] = "correct"
    correct["n_treated"] = "9"
    reject["decision"] = "reject"
    reject["reason"] = "a cohort described elsewhere"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or [])
        writer.writeheader()
        writer.writerows(rows)

    out = kb(
        "review", "apply", str(sheet), "--topic", str(pack), "--db", db_url, "--reviewer", "A. Curator", cwd=tmp_path
    )
    assert "1 accepted, 1 corrected, 1 rejected" in out.stdout

    # The decisions are in the pack, with where the sentence is, never its text.
    reviews_file = (pack / "reviews.yaml").read_text(encoding="utf-8")
    decided = yaml.safe_load(reviews_file)
    assert {a["review_id"]: a["decision"] for a in decided["accepted"]} == {
        accept["review_id"]: "accept",
        correct["review_id"]: "correct",
    }
    assert [r["review_id"] for r in decided["rejected"]] == [reject["review_id"]]
    assert next(a for a in decided["accepted"] if a["decision"] == "correct")["corrected"] == ["n_treated"]
    assert all(a["reviewer"] == "A. Curator" and a["evidence"]["sha256"] for a in decided["accepted"])
    for abstract in ABSTRACTS.values():
        for sentence in abstract.split(". "):
            assert sentence[:40] not in reviews_file

    # Applied to this KB at once: the machine findings became curated, the rejected one is gone.
    now = findings(db_url)
    assert sorted(f["origin"] for f in now) == ["curated", "curated"]

    # A rebuild from scratch, then re-extraction of the same abstracts.
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    build_with_articles(fresh, pack, xml, tmp_path)
    again = {(f["article_id"], f["origin"]): f for f in findings(fresh)}
    assert set(again) == {("pubmed:38100001", "curated"), ("pubmed:38100002", "curated")}, again
    assert again[("pubmed:38100002", "curated")]["n_treated"] == 9
    assert again[("pubmed:38100001", "curated")]["n_treated"] == 12
    # The sentence is shown from the article the KB holds (the hash matched).
    assert again[("pubmed:38100001", "curated")]["evidence"].startswith("Calcinosis improved in 5 of 12")
    status = kb("status", "--db", fresh, cwd=tmp_path)
    assert "0 unreviewed machine findings" in status.stdout

    # Applying the same sheet again decides nothing new.
    out = kb("review", "apply", str(sheet), "--topic", str(pack), "--db", db_url, cwd=tmp_path)
    assert "0 accepted, 0 corrected, 0 rejected, 0 left for later, 3 decided before" in out.stdout


def test_a_bad_sheet_lists_every_problem_and_applies_nothing(tmp_path: Path, pack: Path, xml: Path) -> None:
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    build_with_articles(db, pack, xml, tmp_path)
    sheet = tmp_path / "sheet.csv"
    kb("review", "export", "--topic", str(pack), "--out", str(sheet), "--db", db, cwd=tmp_path)
    with sheet.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames or [], list(reader)
    rows[0] |= {"decision": "maybe"}
    rows[1] |= {"decision": "correct", "n_treated": "many", "response": "cured"}
    rows[2] |= {"decision": "reject"}
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    out = kb("review", "apply", str(sheet), "--topic", str(pack), "--db", db, cwd=tmp_path, expect=1)
    assert "4 problem(s), nothing was applied" in out.stderr
    for expected in (
        "sheet.csv:2: decision:",
        "sheet.csv:3: n_treated:",
        "sheet.csv:3: response:",
        "sheet.csv:4: reason:",
    ):
        assert expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not (pack / "reviews.yaml").exists()


def test_terminal_review_is_resumable(tmp_path: Path, pack: Path, xml: Path) -> None:
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    build_with_articles(db, pack, xml, tmp_path)
    # First session: accept the first finding, then quit.
    out = kb("review", "--topic", str(pack), "--db", db, "--reviewer", "T. Erminal", cwd=tmp_path, stdin="a\nq\n")
    assert "1 of 3" in out.stdout and "Calcinosis improved in 5 of 12" in out.stdout
    assert "1 decided" in out.stdout
    # Second session resumes with the other two: correct n_treated of one, reject the other.
    out = kb(
        "review",
        "--topic",
        str(pack),
        "--db",
        db,
        "--reviewer",
        "T. Erminal",
        cwd=tmp_path,
        stdin="e\nn_treated\n7\nc\nr\nnot about calcinosis\n",
    )
    assert "1 of 2" in out.stdout and "2 of 2" in out.stdout
    decided = yaml.safe_load((pack / "reviews.yaml").read_text(encoding="utf-8"))
    assert sorted(a["decision"] for a in decided["accepted"]) == ["accept", "correct"]
    assert [r["reason"] for r in decided["rejected"]] == ["not about calcinosis"]
    assert sorted(f["origin"] for f in findings(db)) == ["curated", "curated"]
    assert "no unreviewed findings" in kb("review", "--topic", str(pack), "--db", db, cwd=tmp_path, stdin="q\n").stdout


def test_a_reviewed_new_combination_survives_a_rebuild_from_scratch(tmp_path: Path, pack: Path) -> None:
    # A combination no vocabulary defines: the extractor makes it; the pack records its components.
    xml = tmp_path / "combination.xml"
    abstract = (
        "Calcinosis in systemic sclerosis was treated with minocycline plus colchicine in 12 patients; "
        "6 of 12 patients improved."
    )
    xml.write_bytes(article_set([make_article("38100009", title="A combination for calcinosis", abstract=abstract)]))
    db = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    build_with_articles(db, pack, xml, tmp_path)
    [machine] = [f for f in findings(db) if f["origin"] == "extracted"]
    assert machine["intervention_id"] == "colchicine-minocycline"
    kb("review", "--topic", str(pack), "--db", db, "--reviewer", "C. Urator", cwd=tmp_path, stdin="a\n")
    decided = yaml.safe_load((pack / "reviews.yaml").read_text(encoding="utf-8"))
    assert decided["accepted"][0]["components"] == ["colchicine", "minocycline"]

    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    kb("build", "--topic", str(pack), "--db", fresh, "--no-site", cwd=tmp_path)  # no abstract yet: nothing extracted
    [curated] = findings(fresh)
    assert (curated["origin"], curated["intervention_id"]) == ("curated", "colchicine-minocycline")


def test_a_rejected_combination_names_nothing_in_the_vocabulary() -> None:
    """A finding a person rejected is not made again, and the new combination it would have
    named is not saved to the topic's vocabulary either."""
    import dataclasses

    from ingest.extraction.text import ArticleText
    from ingest.pipeline import TopicExtraction

    article = ArticleText(
        "t1",
        title="Colchicine and minocycline for calcinosis cutis",
        abstract="A 50-year-old woman with calcinosis cutis was treated with colchicine and minocycline. "
        "The nodules resolved.",
    )
    fresh = TopicExtraction.prepare(load_topic("calcinosis"))
    (finding,) = [f for f in fresh.findings(article) if "+" in f.intervention_id or "-" in f.intervention_id]
    assert fresh.combinations  # the combination is new to the pack
    rejecting = dataclasses.replace(
        TopicExtraction.prepare(load_topic("calcinosis")), decided=frozenset({review_id_of(finding)})
    )
    assert [f for f in rejecting.findings(article) if f.intervention_id == finding.intervention_id] == []
    assert rejecting.combinations == {}
