"""The ``kb review …`` and ``kb topic …`` commands: the review queue and authoring a topic pack.

Registered on :data:`ingest.cli.app` when :mod:`ingest.cli` is imported; they share its
consoles, options and one-line errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from ingest.cli import EXIT_FAILED, DbOption, TopicOption, _fail, app, console, err
from ingest.errors import IngestError
from kb.errors import KBError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kb.topic import TopicPack


topic_app = typer.Typer(help="Author a topic pack: write a skeleton, check it, document its fields.")
app.add_typer(topic_app, name="topic")


@topic_app.command("new")
def topic_new(
    name: Annotated[str, typer.Argument(help="The new topic's name (lower-case, hyphens), e.g. morphea.")],
    folder: Annotated[Path, typer.Option("--dir", help="Where to create the pack's folder.")] = Path("."),
) -> None:
    """Write a commented topic pack skeleton DIR/NAME (topic.yaml, vocabulary.yaml, curated.yaml)."""
    from ingest.topic_tools import new_pack

    try:
        target = new_pack(name, folder)
    except IngestError as exc:
        raise _fail(exc) from exc
    console.print(
        f"wrote {target}: edit its files, then run kb topic check {target} and kb build --topic {target}",
        highlight=False,
    )


@topic_app.command("check")
def topic_check(
    path: Annotated[str, typer.Argument(help="A pack folder, or the name of a pack found by name.")],
) -> None:
    """Validate a topic pack and print every problem at once, each with its field path and what to write."""
    from ingest.topic_tools import check_pack
    from kb.topic import find_topic

    try:
        folder = find_topic(path) if not Path(path).is_dir() else Path(path)
    except KBError as exc:
        raise _fail(exc) from exc
    problems = check_pack(folder)
    for problem in problems:
        console.print(problem.line(), highlight=False, soft_wrap=True)
    if problems:
        err.print(
            Text.assemble(("error:", "bold red"), f" {len(problems)} problem(s) in {folder}"),
            highlight=False,
        )
        raise typer.Exit(code=EXIT_FAILED)
    console.print(f"{folder}: the pack is valid", highlight=False)


@topic_app.command("reference")
def topic_reference(
    out: Annotated[Path | None, typer.Option("--out", help="Write the page here (default: standard output).")] = None,
) -> None:
    """Print (or write) the topic pack reference: every field, generated from the pack schema."""
    from ingest.topic_reference import render_reference

    page = render_reference()
    if out is None:
        typer.echo(page)
        return
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise _fail(OSError(f"cannot write {out}: {exc.strerror}")) from exc
    console.print(f"wrote {out}", highlight=False)


review_app = typer.Typer(
    help="The review queue: accept, correct or reject machine findings (in a terminal, or through a CSV sheet).",
    invoke_without_command=True,
)
app.add_typer(review_app, name="review")

ReviewerOption = Annotated[
    str | None,
    typer.Option("--reviewer", envvar="KB_REVIEWER", help="Who decides (default: your login name)."),
]


def _reviewer(given: str | None) -> str:
    import getpass

    return (given or getpass.getuser() or "").strip() or "unknown"


@review_app.callback()
def review_queue(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Bundled topic name or path to a topic pack folder.")
    ] = None,
    db: DbOption = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Review a topic's machine findings one by one in the terminal (resumable: decisions are saved as you go).

    Keys: a accept, e edit a field (then accept the corrected finding with c), r reject (with a
    reason), s skip, q quit. Decisions go into the pack's reviews.yaml and into the KB.
    """
    if ctx.invoked_subcommand is not None:
        return
    if topic is None:
        raise _fail(IngestError("give --topic NAME (kb review --topic calcinosis), or use kb review export / apply"))
    from ingest.review_tui import run_review

    try:
        pack, engine, known = _review_inputs(topic, db)
        done = run_review(pack, engine, known, reviewer=_reviewer(reviewer), console=console)
        if done:
            _apply_to_kb(pack, db)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc


def _review_inputs(topic: str, db: str | None) -> tuple[TopicPack, Engine, set[str]]:
    from sqlalchemy import text

    from kb.topic import load_topic
    from queries.db import connect

    pack = load_topic(topic)
    engine = connect(db)
    with engine.connect() as connection:
        known = set(connection.execute(text("SELECT id FROM intervention")).scalars())
    return pack, engine, known


def _apply_to_kb(pack: TopicPack, db: str | None) -> None:
    """Load the pack's decisions into the KB: curated records in, decided machine findings out."""
    from ingest.pipeline import extract_findings, sync_pack
    from kb.store import Store
    from kb.topic import load_topic

    fresh = load_topic(pack.path)
    store = Store.open(db)
    try:
        sync_pack(store, fresh)
        extract_findings(store, fresh)
        store.refresh_summary()
    finally:
        store.close()


@review_app.command("export")
def review_export(
    topic: TopicOption,
    out: Annotated[Path, typer.Option("--out", help="The CSV sheet to write.")],
    db: DbOption = None,
) -> None:
    """Write the topic's unreviewed machine findings to a CSV sheet, one row per finding (never writes the KB)."""
    from ingest.review_sheet import write_sheet

    try:
        pack, engine, _known = _review_inputs(topic, db)
        count = write_sheet(engine, pack, out)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    console.print(
        f"wrote {count} unreviewed findings to {out}: fill 'decision' (accept, correct, reject) and, to "
        f"reject, 'reason'; then run kb review apply {out} --topic {topic}",
        highlight=False,
    )


@review_app.command("apply")
def review_apply(
    sheet: Annotated[Path, typer.Argument(help="A sheet written by 'kb review export', with decisions filled in.")],
    topic: TopicOption = "calcinosis",
    db: DbOption = None,
    reviewer: ReviewerOption = None,
) -> None:
    """Record a sheet's decisions in the topic pack (reviews.yaml) and in the KB; every problem is listed at once."""

    from ingest.review import save_decisions
    from ingest.review_sheet import read_sheet
    from kb.topic import TopicPack

    try:
        pack, engine, known = _review_inputs(topic, db)
        assert isinstance(pack, TopicPack)
        result = read_sheet(
            sheet,
            pack,
            engine,
            reviewer=_reviewer(reviewer),
            today=datetime.now(UTC).date(),
            known_interventions=known,  # type: ignore[arg-type]
        )
        decisions = result.decisions
        if len(decisions):
            path = save_decisions(pack, decisions)
            _apply_to_kb(pack, db)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    corrected = sum(1 for a in decisions.accepted if a.decision == "correct")
    console.print(
        f"{len(decisions.accepted) - corrected} accepted, {corrected} corrected, {len(decisions.rejected)} rejected, "
        f"{result.skipped} left for later, {result.already} decided before",
        highlight=False,
    )
    if len(decisions):
        console.print(f"decisions recorded in {path}", highlight=False)
