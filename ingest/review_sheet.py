"""Review decisions through a spreadsheet: ``kb review export`` writes one row per unreviewed
machine finding of a topic, ``kb review apply`` reads the curator's decisions back.

Columns: ``review_id`` (the finding's stable identity, :func:`ingest.review.review_id`),
``topic``, the article (``article_id``, ``article_title``, ``year``), the ``evidence`` sentence
(from the KB: the sheet is a working file, never bundled), the extractor, the editable fields
(:data:`ingest.review.EDITABLE`), then ``decision`` (``accept``, ``correct``, ``reject`` or
blank to skip) and ``reason`` (required to reject). To correct, change the fields and write
``correct``. Every problem in a sheet is reported at once, each with its line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import Engine, text

from ingest.errors import IngestError
from ingest.review import (
    EDITABLE,
    INT_FIELDS,
    Decisions,
    ReviewedArticle,
    accept,
    decided_ids,
    load_reviews,
    reject,
    review_id_of,
)
from kb.db import as_list
from kb.models import RESPONSES, STUDY_DESIGNS, AgeGroup
from kb.topic import TopicPack

COLUMNS: tuple[str, ...] = (
    "review_id",
    "topic",
    "article_id",
    "article_title",
    "year",
    "evidence",
    "extractor",
    *EDITABLE,
    "decision",
    "reason",
)
DECISIONS = ("accept", "correct", "reject")

_QUERY = """
SELECT f.article_id, f.intervention_id, f.condition_id, f.context_id, f.route, f.age_group, f.n_treated,
       f.n_responded, f.response, f.study_design, f.outcome, f.evidence, f.evidence_start, f.evidence_end,
       f.extractor, f.extractor_version, f.confidence,
       a.title, a.year, a.abstract, a.pmid, a.doi, a.journal, a.authors, a.publication_types
FROM finding f JOIN article a ON a.id = f.article_id
WHERE f.origin = 'extracted' AND f.topic_id = :topic
ORDER BY f.article_id, f.intervention_id, f.condition_id, f.context_id, f.evidence_start
"""


def unreviewed(engine: Engine, topic_id: str, exclude: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The topic's machine findings nobody has decided on, one dict each with its ``review_id``
    and its article's fields (title, year, abstract, identifiers), ordered by article.

    ``exclude``: review ids decided in the pack since the KB was last loaded from it."""
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(text(_QUERY), {"topic": topic_id})]
    seen: set[str] = set()
    found = []
    for row in rows:
        row["review_id"] = review_id_of(row)
        if row["review_id"] not in seen and row["review_id"] not in exclude:  # one identity, one decision
            seen.add(row["review_id"])
            found.append(row)
    return found


def combinations(engine: Engine) -> dict[str, tuple[str, ...]]:
    """The KB's combination interventions and their component ids, in order."""
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT combination_id, component_id FROM intervention_component ORDER BY combination_id, position")
        )
        for combination, component in rows:
            found.setdefault(combination, []).append(component)
    return {k: tuple(v) for k, v in found.items()}


def write_sheet(engine: Engine, pack: TopicPack, out: Path) -> int:
    """Write the topic's unreviewed findings to a CSV sheet; returns how many rows.

    Raises:
        IngestError: the file cannot be written.
    """
    rows = unreviewed(engine, pack.id, decided_ids(pack))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        "review_id": row["review_id"],
                        "topic": pack.id,
                        "article_id": row["article_id"],
                        "article_title": _cell(row["title"]),
                        "year": row["year"] or "",
                        "evidence": _cell(row["evidence"]),
                        "extractor": f"{row['extractor']} {row['extractor_version']}",
                        **{name: "" if row[name] is None else row[name] for name in EDITABLE},
                        "decision": "",
                        "reason": "",
                    }
                )
    except OSError as exc:
        raise IngestError(f"cannot write {out}: {exc.strerror}") from exc
    return len(rows)


def _cell(value: object) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    shown = "" if value is None else str(value)
    return "'" + shown if shown[:1] in ("=", "+", "-", "@") else shown


@dataclass(frozen=True, slots=True)
class SheetResult:
    """What applying a sheet decided."""

    decisions: Decisions
    skipped: int
    already: int


def read_sheet(
    path: Path, pack: TopicPack, engine: Engine, *, reviewer: str, today: date, known_interventions: set[str]
) -> SheetResult:
    """Read a curator's sheet into decisions on the topic's unreviewed findings.

    Raises:
        IngestError: the sheet cannot be read, or holds problems (all listed, one per line,
            each with the line number, the column and what to write).
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            lines = list(reader)
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"{path} is not a CSV sheet written by 'kb review export' ({exc})") from exc
    missing = [c for c in ("review_id", "decision", "reason", *EDITABLE) if c not in header]
    if missing:
        raise IngestError(f"{path}: missing column(s) {', '.join(missing)}: export a new sheet with 'kb review export'")
    machine = {r["review_id"]: r for r in unreviewed(engine, pack.id)}
    old = load_reviews(pack)
    done = {a.review_id for a in old.accepted} | {r.review_id for r in old.rejected}
    problems: list[str] = []
    decisions = Decisions()
    skipped = already = 0
    for number, line in enumerate(lines, start=2):
        where = f"{path.name}:{number}"
        decision = (line.get("decision") or "").strip().lower()
        if not decision:
            skipped += 1
            continue
        if decision not in DECISIONS:
            problems.append(
                f"{where}: decision: {decision!r} is not a decision; write accept, correct, reject or leave it blank"
            )
            continue
        rid = (line.get("review_id") or "").strip()
        if line.get("topic") and line["topic"].strip() != pack.id:
            problems.append(
                f"{where}: topic: the row is of topic {line['topic']!r}; apply it with --topic {line['topic']}"
            )
            continue
        if rid in done and rid not in machine:
            already += 1
            continue
        row = machine.get(rid)
        if row is None:
            problems.append(
                f"{where}: review_id: {rid!r} is no unreviewed finding of {pack.id} in this KB; "
                "export a new sheet with 'kb review export'"
            )
            continue
        fields, field_problems = _fields(line, pack, known_interventions)
        problems += [f"{where}: {p}" for p in field_problems]
        if field_problems:
            continue
        changed = tuple(n for n in EDITABLE if fields[n] != row[n])
        reason = (line.get("reason") or "").strip()
        if decision == "reject":
            if not reason:
                problems.append(f"{where}: reason: a rejection needs a reason; write why (e.g. 'not a treatment')")
                continue
            decisions.rejected.append(reject(row, reason, reviewer=reviewer, today=today))
        else:
            if decision == "accept" and changed:
                problems.append(
                    f"{where}: decision: {', '.join(changed)} changed; write correct to record a correction"
                )
                continue
            if decision == "correct" and not changed:
                problems.append(f"{where}: decision: no field differs from the machine finding; write accept")
                continue
            decisions.accepted.append(
                accept(row, fields, reviewer=reviewer, today=today, components=combinations(engine))
            )
        decisions.articles.append(_article(row))
    if problems:
        raise IngestError(f"{path}: {len(problems)} problem(s), nothing was applied:\n" + "\n".join(problems))
    return SheetResult(decisions, skipped, already)


def _article(row: Mapping[str, Any]) -> ReviewedArticle:
    return ReviewedArticle(
        id=row["article_id"],
        pmid=row["pmid"],
        doi=row["doi"],
        title=row["title"],
        journal=row["journal"],
        year=row["year"],
        authors=tuple(as_list(row["authors"])),
        publication_types=tuple(as_list(row["publication_types"])),
    )


_AGE_GROUPS = get_args(AgeGroup)


def _fields(
    line: Mapping[str, str | None], pack: TopicPack, interventions: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """The editable fields of a sheet row, typed, and what is wrong with them."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in EDITABLE:
        raw = (line.get(name) or "").strip()
        if name in INT_FIELDS:
            if not raw:
                values[name] = None
            elif raw.isdigit():
                values[name] = int(raw)
            else:
                problems.append(f"{name}: {raw!r} is not a count; write a whole number or leave it blank")
        else:
            values[name] = raw or None
    conditions = {c.id: c for c in pack.vocabulary.conditions}
    checks = (
        ("response", values["response"] in RESPONSES, ", ".join(RESPONSES)),
        ("study_design", values["study_design"] in STUDY_DESIGNS, ", ".join(STUDY_DESIGNS)),
        ("age_group", (values["age_group"] or "unknown") in _AGE_GROUPS, ", ".join(_AGE_GROUPS)),
        ("condition_id", values["condition_id"] in conditions, ", ".join(conditions)),
        (
            "intervention_id",
            values["intervention_id"] in interventions,
            "an intervention id, e.g. from 'kb vocab unmapped'",
        ),
    )
    for name, ok, allowed in checks:
        if not ok:
            problems.append(f"{name}: {values[name]!r} is not allowed; write one of {allowed}")
    values["age_group"] = values["age_group"] or "unknown"
    condition = conditions.get(values["condition_id"] or "")
    if condition is not None and values["context_id"] and values["context_id"] not in condition.contexts:
        problems.append(
            f"context_id: {values['context_id']!r} is no context of {condition.id}; write one of "
            f"{', '.join(condition.contexts) or 'none'} or leave it blank"
        )
    treated, responded = values.get("n_treated"), values.get("n_responded")
    if treated is not None and responded is not None and responded > treated:
        problems.append(f"n_responded: {responded} exceeds n_treated {treated}; correct one of them")
    return values, problems
