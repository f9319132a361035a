"""``kb review --topic T``: the review queue in a terminal (rich).

Each unreviewed machine finding is shown with its article (title, year, design), the evidence
sentence with the intervention, the condition and the counts highlighted, and the extracted
fields. Keys: ``a`` accept, ``e`` edit a field (then ``c`` to record the corrected finding),
``r`` reject (with a reason), ``s`` skip, ``q`` quit. Every decision is written to the pack's
``reviews.yaml`` at once, so quitting (or a crash) loses nothing and the next run resumes with
the findings still undecided. Reads its keys from standard input, so it can also be scripted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from ingest.review import EDITABLE, Decisions, accept, decided_ids, reject, save_decisions
from ingest.review_sheet import _article, _fields, combinations, unreviewed
from kb.topic import TopicPack

_KEYS = "[a]ccept  [e]dit a field  [c] save the corrected finding  [r]eject  [s]kip  [q]uit"


def highlighted(sentence: str, row: dict[str, Any], names: list[str]) -> Text:
    """The evidence sentence with the intervention, the condition and the counts highlighted."""
    out = Text(sentence)
    for term in names:
        if term:
            out.highlight_regex(re.compile(re.escape(term), re.IGNORECASE), "bold magenta")
    for count in (row.get("n_treated"), row.get("n_responded")):
        if count is not None:
            out.highlight_regex(re.compile(rf"\b{count}\b"), "bold cyan")
    return out


def _show(console: Console, row: dict[str, Any], position: str, fields: dict[str, Any]) -> None:
    title = Text.assemble((row.get("title") or row["article_id"], "bold"), f"  ({row.get('year') or 'n.d.'})")
    sentence = row.get("evidence") or "(the KB holds no evidence sentence for this finding)"
    names = [fields["intervention_id"].replace("-", " "), row["intervention_id"], fields["condition_id"]]
    body = Table.grid(padding=(0, 2))
    body.add_row(Text("article", style="dim"), Text(f"{row['article_id']}  design: {fields['study_design']}"))
    body.add_row(Text("evidence", style="dim"), highlighted(sentence, fields, names))
    for name in EDITABLE:
        value = fields[name]
        changed = value != row[name]
        body.add_row(
            Text(name, style="dim"), Text("" if value is None else str(value), style="bold yellow" if changed else "")
        )
    console.print(Panel(body, title=title, subtitle=Text(position)))


def run_review(pack: TopicPack, engine: Engine, known: set[str], *, reviewer: str, console: Console) -> int:
    """Review the topic's undecided machine findings one by one; returns how many were decided."""
    rows = unreviewed(engine, pack.id, decided_ids(pack))
    if not rows:
        console.print(f"no unreviewed findings for {pack.id}", highlight=False)
        return 0
    decided = 0
    for index, row in enumerate(rows, start=1):
        fields = {n: row[n] for n in EDITABLE}
        while True:
            _show(console, row, f"{index} of {len(rows)} · {pack.id}", fields)
            key = _ask(console, _KEYS).lower()[:1]
            if key == "q" or key == "":
                console.print(f"{decided} decided; run kb review --topic {pack.id} again to go on", highlight=False)
                return decided
            if key == "s":
                break
            if key == "e":
                _edit(console, fields, pack, known)
                continue
            today = datetime.now(UTC).date()
            changed = any(fields[n] != row[n] for n in EDITABLE)
            new = Decisions(articles=[_article(row)])
            if key in ("a", "c"):
                if key == "a" and changed:
                    console.print("fields were edited: press c to save the corrected finding", highlight=False)
                    continue
                new.accepted.append(
                    accept(row, fields, reviewer=reviewer, today=today, components=combinations(engine))
                )
            elif key == "r":
                reason = _ask(console, "reason for rejecting").strip()
                if not reason:
                    console.print("a rejection needs a reason", highlight=False)
                    continue
                new.rejected.append(reject(row, reason, reviewer=reviewer, today=today))
            else:
                console.print(f"unknown key {key!r}: {_KEYS}", highlight=False)
                continue
            save_decisions(pack, new)
            decided += 1
            break
    console.print(f"{decided} decided; the queue of {pack.id} is done", highlight=False)
    return decided


def _edit(console: Console, fields: dict[str, Any], pack: TopicPack, known: set[str]) -> None:
    name = _ask(console, f"field ({', '.join(EDITABLE)})").strip()
    if name not in EDITABLE:
        console.print(f"no field {name!r}", highlight=False)
        return
    raw = _ask(console, f"new {name} (blank: none)").strip()
    trial = {n: ("" if v is None else str(v)) for n, v in fields.items()} | {name: raw}
    values, problems = _fields(trial, pack, known)
    if problems:
        for problem in problems:
            console.print(problem, highlight=False)
        return
    fields[name] = values[name]


def _ask(console: Console, prompt: str) -> str:
    try:
        return console.input(Text.assemble((prompt, "bold"), " > "))
    except EOFError:
        return "q"
