"""The ``kb`` command: build, query, publish and serve the knowledge base.

This module is where the layers are wired together (ingest → kb ← queries); library code
never imports it. Errors from any layer are shown as one clear line and a non-zero exit code;
``--debug`` (anywhere on the command line) adds the traceback.

Both consoles have rich's markup (and emoji codes) switched off: what is printed often holds
user, file or NCBI text (``calcinosis[tiab]``, a file named ``x[/bold].xml``), which must be
printed as it is, never read as ``[style]`` tags. Style goes through :class:`rich.text.Text`.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingest.errors import IngestError
from kb.errors import KBBusy, KBError

if TYPE_CHECKING:
    from kb.store import Store

app = typer.Typer(
    name="kb",
    help="Treatment-outcome evidence knowledge base: build it, query it, publish it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="KB_DATABASE_URL", help="Database URL (default: sqlite:///kb.sqlite)."),
]
TopicOption = Annotated[str, typer.Option("--topic", help="Bundled topic name or path to a topic pack folder.")]
SiteDirOption = Annotated[Path, typer.Option("--site-dir", help="Where the built site goes.")]


EXIT_FAILED = 1
EXIT_BUSY = 12  # the same code as a refresh refused by the refresh lock: another process holds the KB


@dataclass(slots=True)
class _Options:
    debug: bool = False


_options = _Options()


@app.callback()
def _main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, also print the traceback (and the SQL, if any).")
    ] = False,
) -> None:
    _options.debug = debug


def _fail(exc: Exception) -> typer.Exit:
    if _options.debug:
        traceback.print_exception(exc, file=sys.stderr)
    err.print(Text.assemble(("error:", "bold red"), f" {exc}"), highlight=False)
    return typer.Exit(code=EXIT_BUSY if isinstance(exc, KBBusy) else EXIT_FAILED)


def _opened(store: object) -> None:
    """Say so when opening the KB created or upgraded its schema (and where the copy is)."""
    upgraded = getattr(store, "upgraded", None)
    if upgraded is not None:
        err.print(upgraded.line(), highlight=False)


@app.command()
def build(
    topic: Annotated[
        str | None,
        typer.Option("--topic", help="Topic pack name or folder (default: calcinosis; see kb topics)."),
    ] = None,
    db: DbOption = None,
    site_dir: SiteDirOption = Path("build/site"),
    site: Annotated[bool, typer.Option("--site/--no-site", help="Also build the static site.")] = True,
    config: Annotated[Path | None, typer.Option("--config", help="mkdocs.yml to build with.")] = None,
    all_topics: Annotated[
        bool,
        typer.Option(
            "--all-topics",
            help="One site for every topic of the KB, with a page per topic; without --topic, every "
            "topic the KB holds is rebuilt from its pack (found by name).",
        ),
    ] = False,
    reviewed_only: Annotated[
        bool,
        typer.Option("--reviewed-only", help="Publish only curated and reviewed findings (the KB is not changed)."),
    ] = False,
) -> None:
    """Build the KB from a topic pack (offline), then the graph and the static site, titled by the topic."""
    from ingest.pipeline import build_topic
    from kb.graph import build_graph
    from kb.store import Store
    from kb.topic import load_topic

    started = time.perf_counter()
    try:
        every = all_topics and topic is None
        packs = [] if every else [load_topic(topic or "calcinosis")]  # a bad pack is refused before any write
        store = Store.open(db)
        _opened(store)
        if every:
            packs = [load_topic(t) for t in _kb_topics(store)]
            if not packs:
                store.close()
                raise KBError("the KB holds no topic yet: build one first with kb build --topic NAME")
        reports, notes = [], []
        for pack in packs:
            reports.append(build_topic(store, pack))
            notes += store.vocabulary_notes
        graph = build_graph(store.engine)
        url = store.engine.url.render_as_string(hide_password=True)
        store.close()
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    for report in reports:
        table = Table(title=f"Knowledge base: {url} (topic {report.topic})", show_edge=False)
        for column in ("rows", "added", "updated", "removed", "unchanged"):
            table.add_column(column, justify="right" if column != "rows" else "left")
        for name, changes in report.changes.items():
            table.add_row(name, *(str(getattr(changes, f)) for f in ("added", "updated", "removed", "unchanged")))
        console.print(table)
    for note in notes:
        err.print(Text.assemble(("note:", "bold yellow"), f" vocabulary {note}"), highlight=False)
    console.print(f"Graph: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges.")
    if site:
        from queries.site import build_site

        try:
            source = db
            if reviewed_only:
                from ingest.review_site import reviewed_only_copy

                source = reviewed_only_copy(
                    db, site_dir.resolve().with_name(f"{site_dir.resolve().name}-reviewed.sqlite")
                )
            index = build_site(site_dir, db=source, config=config, topic=packs[0].id, all_topics=all_topics)
        except KBError as exc:
            raise _fail(exc) from exc
        console.print(
            Text.assemble(f"Site built in {time.perf_counter() - started:.1f} s: ", (str(index), "bold")),
            highlight=False,
        )
        console.print(
            Text.assemble(
                f"Open it in a browser (file://{index}), or run ",
                ("kb serve", "bold"),
                " and visit http://127.0.0.1:8000/",
            ),
            highlight=False,
        )


def _kb_topics(store: Store) -> list[str]:
    from sqlalchemy import text

    with store.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM topic ORDER BY id")).scalars())


CacheOption = Annotated[
    Path,
    typer.Option("--cache-dir", envvar="KB_CACHE_DIR", help="Raw response cache (replayed by --offline)."),
]


def _parse_date(value: str | None, option: str) -> date | None:
    if not value:
        return None
    for pattern in ("%Y/%m/%d", "%Y-%m-%d", "%Y/%m", "%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise typer.BadParameter(f"{value!r} is not a date; use YYYY/MM/DD", param_hint=option)


@app.command()
def fetch(
    pmid: Annotated[list[str] | None, typer.Option("--pmid", help="Seed PMID (repeat for several).")] = None,
    query: Annotated[str | None, typer.Option("--query", help="A PubMed query.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Earliest date for --query (YYYY/MM/DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Latest date for --query (YYYY/MM/DD).")] = None,
    datetype: Annotated[
        str, typer.Option("--datetype", help="Date --since/--until apply to: edat, mdat, pdat.")
    ] = "edat",
    refs_depth: Annotated[int, typer.Option("--refs-depth", min=0, max=3, help="Levels of references to follow.")] = 0,
    cited_by_depth: Annotated[
        int, typer.Option("--cited-by-depth", min=0, max=3, help="Levels of citing papers to follow.")
    ] = 0,
    email: Annotated[str | None, typer.Option("--email", envvar="NCBI_EMAIL", help="Your email, sent to NCBI.")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="Requests per second (at most NCBI's limit).")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Replay the raw cache only; no network.")] = False,
    topic: TopicOption = "calcinosis",
    db: DbOption = None,
    cache_dir: CacheOption = Path(".kb-cache"),
) -> None:
    """Fetch PubMed records by PMID or query, following references and citing papers.

    NCBI_API_KEY (from the environment only; never shown or stored) raises the rate limit
    from 3 to 10 requests per second. KB_EUTILS_URL points every request at another server.
    """
    from ingest.cache import RawCache
    from ingest.entrez import EntrezClient, EntrezConfig
    from ingest.errors import FetchError
    from ingest.fetch import fetch_into_store
    from ingest.pipeline import extract_findings, sync_pack
    from kb.store import Store
    from kb.topic import load_topic

    if not pmid and not query:
        raise _fail(ValueError("give at least one --pmid or a --query"))
    if datetype not in ("edat", "mdat", "pdat"):
        raise typer.BadParameter("use edat, mdat or pdat", param_hint="--datetype")
    try:
        pack = load_topic(topic)
        client = EntrezClient(EntrezConfig.from_env(email=email, rate=rate), RawCache(cache_dir), offline=offline)
        store = Store.open(db)
        _opened(store)
        sync_pack(store, pack)  # the vocabulary findings refer to, on an empty KB too
        report = fetch_into_store(
            client,
            store,
            pack.id,
            pmids=pmid or [],
            query=query,
            since=_parse_date(since, "--since"),
            until=_parse_date(until, "--until"),
            datetype=datetype,  # type: ignore[arg-type]
            refs_depth=refs_depth,
            cited_by_depth=cited_by_depth,
        )
        extracted = extract_findings(store, pack)
        store.refresh_summary()
        store.close()
    except (KBError, IngestError, FetchError) as exc:
        raise _fail(exc) from exc
    for line in report.lines():
        console.print(line, highlight=False)
    console.print(
        f"extracted findings: {extracted.added} added, {extracted.removed} removed, {extracted.unchanged} unchanged",
        highlight=False,
    )
    stats = client.stats
    per_endpoint = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_endpoint.items())) or "none"
    console.print(
        f"requests: {stats.requests} ({per_endpoint}); retries: {stats.retries}; "
        f"replayed from cache: {stats.cache_hits}",
        highlight=False,
    )


REFRESH_HELP = """Grow the KB from PubMed: only what is new or revised since the last successful run.

For each saved query of the topic, searches the records entered or modified since its
watermark (minus --overlap-days; the first run searches everything since the query's
'since' date), fetches them, follows references and citing papers to the topic's depth,
re-extracts findings and moves the watermark only once the whole window succeeded. Safe to
kill and re-run; one run at a time per KB (a lock in the database). Every run is recorded:
see 'kb runs'.

Exit codes: 0 success (something new), 10 nothing new, 11 partial (a window could not be
completed; its watermark was kept and the next run redoes it), 12 refused (another refresh
holds the lock), 1 failed (bad option, database error, lock lost, interrupted).

NCBI_EMAIL comes from the environment (or --email). NCBI_API_KEY (10 requests/s instead of 3)
comes from the environment only, never a flag, which would put it into shell history and ps.
KB_EUTILS_URL sends every request to another E-utilities server (a mirror, or a test server).
"""


@app.command(help=REFRESH_HELP)
def refresh(
    topic: TopicOption = "calcinosis",
    db: DbOption = None,
    overlap_days: Annotated[
        int, typer.Option("--overlap-days", min=0, help="Days each window reaches back before the watermark.")
    ] = 3,
    citedin_every_days: Annotated[
        int,
        typer.Option("--citedin-every-days", min=0, help="Re-check who cites the topic's articles this often."),
    ] = 30,
    site: Annotated[bool, typer.Option("--site/--no-site", help="Rebuild the static site afterwards.")] = False,
    site_dir: SiteDirOption = Path("build/site"),
    email: Annotated[str | None, typer.Option("--email", envvar="NCBI_EMAIL", help="Your email, sent to NCBI.")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="Requests per second (at most NCBI's limit).")] = None,
    lock_stale_minutes: Annotated[
        float,
        typer.Option("--lock-stale-minutes", min=0.01, help="Take over a lock whose heartbeat is this old."),
    ] = 10.0,
    cache_dir: CacheOption = Path(".kb-cache"),
) -> None:
    from datetime import timedelta

    from ingest.cache import RawCache
    from ingest.entrez import EntrezClient, EntrezConfig
    from ingest.errors import FetchError
    from ingest.refresh import EXIT_FAILED, EXIT_REFUSED, RefreshOptions, refresh_topic
    from kb.lock import LockHeld
    from kb.store import Store
    from kb.topic import load_topic

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        pack = load_topic(topic)
        client = EntrezClient(EntrezConfig.from_env(email=email, rate=rate), RawCache(cache_dir))
        store = Store.open(db)
        _opened(store)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    try:
        options = RefreshOptions(overlap_days=overlap_days, citedin_every_days=citedin_every_days)
        report = refresh_topic(client, store, pack, options, lock_stale_after=timedelta(minutes=lock_stale_minutes))
    except LockHeld as exc:
        err.print(Text.assemble(("refused:", "bold yellow"), f" {exc}"), highlight=False)
        raise typer.Exit(code=EXIT_REFUSED) from exc
    except (KBError, IngestError, FetchError, _Terminated) as exc:
        if _options.debug:
            traceback.print_exception(exc, file=sys.stderr)
        err.print(Text.assemble(("error:", "bold red"), f" refresh failed: {exc}"), highlight=False)
        raise typer.Exit(code=EXIT_FAILED) from exc
    finally:
        store.close()
        signal.signal(signal.SIGTERM, previous)
    for line in report.lines():
        console.print(line, highlight=False)
    if site and report.status != "nothing_new":
        from queries.site import build_site

        try:
            index = build_site(site_dir, db=db, topic=pack.id)
        except KBError as exc:
            raise _fail(exc) from exc
        console.print(f"site rebuilt: {index}", highlight=False)
    raise typer.Exit(code=report.exit_code)


class _Terminated(Exception):
    """SIGTERM arrived: stop, record the run as failed, release the lock."""


def _terminate(signum: int, _frame: object) -> None:
    raise _Terminated(f"terminated by signal {signum}")


@app.command()
def runs(
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic's runs (topic id).")] = None,
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of the latest runs to list.")] = 20,
) -> None:
    """List the latest refresh runs: when, how they ended, what they changed (never writes)."""
    from queries.catalog import refresh_runs

    try:
        frame = refresh_runs(db=db)
    except KBError as exc:
        raise _fail(exc) from exc
    if topic:
        frame = frame[frame["topic_id"] == topic]
    found = list(frame.head(limit).itertuples(index=False))
    table = Table(show_edge=False)
    columns = ("id", "topic", "started (UTC)", "seconds", "status", "requests", "articles +/~/-/R", "findings +/~/-")
    for column in columns:
        table.add_column(column)
    for run in found:
        seconds = "" if _missing(run.finished_at) else f"{(run.finished_at - run.started_at).total_seconds():.0f}"
        table.add_row(
            str(run.id),
            run.topic_id,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            seconds,
            run.status,
            str(run.requests),
            f"{run.articles_new}/{run.articles_updated}/{run.articles_deleted}/{run.articles_retracted}",
            f"{run.findings_added}/{run.findings_changed}/{run.findings_removed}",
        )
    console.print(table)
    failed = [r for r in found if not _missing(r.message) and r.status in ("partial", "failed")]
    for run in failed[:5]:
        console.print(f"run {run.id}: {run.message}", highlight=False, soft_wrap=True)


@app.command()
def status(db: DbOption = None) -> None:
    """What a maintainer asks first: schema revision, topics and sizes, last refreshes, unreviewed findings, backups.

    Never writes and never creates a database.
    """
    from queries.status import kb_status

    try:
        found = kb_status(db)
    except KBError as exc:
        raise _fail(exc) from exc
    for line in found.lines():
        console.print(line, highlight=False, soft_wrap=True)


@app.command("upgrade")
def upgrade_command(db: DbOption = None) -> None:
    """Upgrade a KB written by an older version to this version's schema.

    A SQLite file is copied first, to PATH.before-REV (printed). Write commands (build, fetch,
    ingest, refresh) upgrade the same way on their own; read-only ones (runs, treatments,
    export, the query API) never do: they ask for this command.
    """
    from kb.db import create_kb_engine, parse_url, require_writable_file, sqlite_file
    from kb.errors import NotAKnowledgeBase
    from kb.schema import head_revision, read_state, require_writable, upgrade

    try:
        path = sqlite_file(parse_url(db))
        if path is not None and not path.is_file():
            raise KBError(f"no knowledge base at {path.resolve()}: nothing to upgrade ('kb build' makes one)")
        engine = create_kb_engine(db)
        try:
            state = read_state(engine)
            require_writable(state)
            if state.status == "empty":
                raise NotAKnowledgeBase(f"{state.where} is not a knowledge base (no tables): nothing to upgrade")
            if state.status == "current":
                console.print(f"the KB at {state.where} is at schema {head_revision()} already: nothing to do")
                return
            if path is not None:
                require_writable_file(path)
            done = upgrade(engine, backup=True)
        finally:
            engine.dispose()
    except KBError as exc:
        raise _fail(exc) from exc
    if done is None:
        console.print(f"the KB at {state.where} was upgraded meanwhile by another process: nothing to do")
        return
    console.print(done.line(), highlight=False, soft_wrap=True)
    if path is None:
        console.print("(no copy was taken of a database server: the upgrade ran as one transaction)", highlight=False)


@app.command("ingest")
def ingest_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="PubMed XML files (.xml or .xml.gz: baseline, update or efetch), or folders: "
            "a folder's *.xml and *.xml.gz files are read in name order."
        ),
    ],
    topics: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            help="Keep the articles relevant to this topic (bundled name or pack folder) and extract their "
            "findings; repeat for several topics in one pass. Without it, every article is stored, for no topic.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the per-file work (one writer).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Run the per-file work on this Dask scheduler (tcp://HOST:PORT).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Apply files already applied, or older than the newest applied.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Load PubMed baseline and update files into the KB, in order, applying their DeleteCitation entries.

    A file already applied (same name and checksum, same topic) is skipped; a numbered file
    older than the newest one applied is refused. A file that fails part-way is reported with
    what was stored from it, and the next file is read; the command then exits 1. Re-running
    is safe: records are upserted.
    """
    from ingest.bulk_ingest import ingest_bulk
    from ingest.ingest_report import IngestProgress, report_lines
    from kb.store import Store
    from kb.topic import load_topic

    try:
        paths = _xml_files(files)
    except FileNotFoundError as exc:
        raise _fail(exc) from exc
    try:
        packs = [load_topic(t) for t in dict.fromkeys(topics or [])]
        store = Store.open(db)
        _opened(store)
        with IngestProgress(err) as progress:
            report = ingest_bulk(
                store, paths, packs, workers=workers, scheduler=scheduler, force=force, progress=progress
            )
        store.close()
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    for line in report_lines(report):
        console.print(line, highlight=False)
    bad = report.failed
    for f in bad:
        err.print(Text.assemble(("error:", "bold red"), f" {f.name}: {f.why}"), highlight=False)
    if bad:
        failed = ", ".join(f.name for f in bad)
        raise _fail(IngestError(f"{len(bad)} of {len(paths)} files failed part-way or were refused: {failed}"))


def _topic_id(topic: str) -> str:
    from kb.topic import load_topic

    return load_topic(topic).id


def _xml_files(given: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by its ``*.xml`` and ``*.xml.gz`` files in name order.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no such file.
    """
    paths: list[Path] = []
    missing: list[str] = []
    for path in given:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".xml", ".xml.gz")))
            if not found:
                missing.append(f"{path} (a folder without *.xml or *.xml.gz files)")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            missing.append(str(path))
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    return paths


@app.command()
def serve(
    site_dir: SiteDirOption = Path("build/site"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
) -> None:
    """Serve the built site on http://127.0.0.1:PORT/ until interrupted."""
    from queries.site import serve_site

    console.print(f"Serving {site_dir} at http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        serve_site(site_dir, port=port)
    except KBError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        pass


@app.command()
def topics() -> None:
    """List the topic packs found by name: in KB_TOPICS_PATH folders, then those bundled."""
    from kb.topic import discover_topics, load_topic

    for found in discover_topics():
        try:
            question = load_topic(found.path).spec.question
        except KBError as exc:
            question = f"(invalid: {str(exc).splitlines()[0]}; run kb topic check {found.path})"
        note = f"{found.source}, hidden by the pack of the same name above" if found.shadowed else found.source
        console.print(
            Text.assemble((found.name, "bold"), f"  {question}  ({found.path}; {note})"),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def treatments(
    condition: Annotated[str, typer.Argument(help="Condition, e.g. calcinosis.")],
    context: Annotated[str | None, typer.Option(help="Disease context, e.g. 'systemic sclerosis' or SSc.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (readable at 80 columns), csv or json (every column).")
    ] = "table",
    db: DbOption = None,
) -> None:
    """Print the treatments reported for a condition, ranked by evidence (NR: not reported)."""
    import queries
    from queries.figures import OUTPUT_FORMATS, treatments_output

    if fmt not in OUTPUT_FORMATS:
        raise _fail(ValueError(f"unknown --format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}"))
    try:
        frame = queries.treatments_for(condition, context=context, db=db)
    except KBError as exc:
        raise _fail(exc) from exc
    output = treatments_output(frame, fmt)
    if isinstance(output, str):
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    else:
        console.print(output)


@app.command()
def export(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv, json, graphml, gexf, node-link, cytoscape, ris, bibtex or all (comma-separate several).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write into (created if needed).")],
    db: DbOption = None,
) -> None:
    """Export the KB: findings, articles and aggregates (CSV, JSON), the graph, the bibliography."""
    from queries.export import write_exports

    try:
        written = write_exports(out, fmt, db=db)
    except (KBError, ValueError) as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(OSError(f"cannot write to {out}: {exc.strerror}")) from exc
    for path in written:
        console.print(str(path), highlight=False, soft_wrap=True)


ExtractorOption = Annotated[str, typer.Option("--extractor", help="Registered extractor to run.")]


@app.command()
def extract(
    jsonl: Annotated[Path, typer.Option("--jsonl", help="Articles, one JSON object per line (id, title, abstract).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write findings (default: standard output).")
    ] = None,
    topic: TopicOption = "calcinosis",
    extractor: ExtractorOption = "rules",
) -> None:
    """Extract findings from articles in a JSON-lines file; write one JSON line per finding."""
    import json

    from ingest.extraction.corpus import extract_rows, read_jsonl
    from kb.topic import load_topic

    try:
        pack = load_topic(topic)
        rows = extract_rows(read_jsonl(jsonl), pack, extractor)
        lines = [json.dumps(row, ensure_ascii=False) + "\n" for _, row in rows]
        if out is None:
            sys.stdout.writelines(lines)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("".join(lines), encoding="utf-8")
            err.print(f"wrote {len(lines)} findings to {out}", highlight=False)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(OSError(f"cannot write {out}: {exc.strerror}")) from exc


@app.command("eval")
def eval_command(
    gold: Annotated[
        list[Path],
        typer.Option("--gold", help="Articles with hand-annotated 'gold' findings (JSON lines); repeat per topic."),
    ],
    topic: Annotated[
        list[str] | None,
        typer.Option("--topic", help="The topic pack of each --gold file, in the same order (default: calcinosis)."),
    ] = None,
    extractor: ExtractorOption = "rules",
    folds: Annotated[
        bool, typer.Option("--folds", help="Also score each topic held out (leave-one-topic-out), side by side.")
    ] = False,
    details: Annotated[
        bool, typer.Option("--details/--no-details", help="List every miss, false finding and disagreement.")
    ] = True,
) -> None:
    """Measure an extractor against gold findings, per topic: pair F1, field accuracy, mentions.

    With one --gold file this prints its scores and every miss and false finding; with several
    (each with its --topic), a table per topic; --folds adds the held-out (leave-one-topic-out)
    figures beside the in-topic ones and pooled precision at confidence thresholds.
    """
    from ingest.extraction.evaluate import report
    from ingest.extraction.protocol import run_protocol, summary_lines

    topics = list(topic or [])
    if not topics and len(gold) == 1:
        topics = ["calcinosis"]
    if len(topics) != len(gold):
        raise _fail(IngestError(f"give one --topic per --gold file ({len(gold)} gold files, {len(topics)} topics)"))
    try:
        results = run_protocol(list(zip(gold, topics, strict=True)), extractor, folds=folds)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    lines = summary_lines(results)
    if details:
        for in_topic, held in results:
            for run in (in_topic, held):
                if run is None:
                    continue
                lines.append(f"\n==== {run.topic}, {run.mode}: details")
                lines.extend(report(run.evaluation))
                unmapped = ", ".join(f"{term} ({n})" for term, n in run.mentions.unmapped.most_common())
                lines.append(f"\nunmapped mentions: {unmapped or 'none'}")
                missed = "; ".join(f"{a}: {name}" for a, name in run.mentions.missed)
                lines.append(f"gold interventions not found as a mention: {missed or 'none'}")
    typer.echo("\n".join(lines))


@app.command()
def train(
    gold: Annotated[list[Path], typer.Option("--gold", help="Gold JSON-lines file; repeat per topic.")],
    topic: Annotated[list[str], typer.Option("--topic", help="The topic pack of each --gold file, in order.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write the models to (default: the shipped ones).")
    ] = None,
) -> None:
    """Train the learned models from gold corpora: the rules extractor's confidence and the
    ranked extractor's model (reproducible: same corpora, same files)."""
    from ingest.extraction.protocol import read_gold, training_sets
    from ingest.extraction.training import train as train_ranked
    from ingest.extraction.training import train_confidence, write_models
    from kb.topic import load_topic

    if len(topic) != len(gold):
        raise _fail(IngestError(f"give one --topic per --gold file ({len(gold)} gold files, {len(topic)} topics)"))
    try:
        loaded = [(load_topic(t), read_gold(g)) for g, t in zip(gold, topic, strict=True)]
        # The confidence is learned from each topic read as a new one (see training_sets).
        confidence = train_confidence(training_sets(loaded, as_new_topics=True))
        ranked = train_ranked(training_sets(loaded))
        paths = write_models(confidence, ranked, out)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    for path, model in zip(paths, (confidence, ranked), strict=True):
        console.print(
            f"wrote {path.as_posix()}: {len(model.features)} features, threshold {model.threshold:.2f}, "
            f"trained on {', '.join(model.trained_on)}",
            highlight=False,
        )


vocab_app = typer.Typer(help="The vocabulary: unmapped treatments and mappings recorded in a topic pack.")
app.add_typer(vocab_app, name="vocab")


@vocab_app.command("unmapped")
def vocab_unmapped(
    topic: Annotated[str | None, typer.Option("--topic", help="Only findings of this topic.")] = None,
    db: DbOption = None,
) -> None:
    """List treatments no resource could normalise, with how many findings and articles use each."""
    from queries.catalog import unmapped_interventions

    try:
        rows = list(unmapped_interventions(topic=topic, db=db).itertuples(index=False))
    except KBError as exc:
        raise _fail(exc) from exc
    if not rows:
        console.print("No unmapped treatments.", highlight=False)
        return
    table = Table(show_edge=False)
    for column in ("id", "as written", "findings", "articles"):
        table.add_column(column, justify="right" if column in {"findings", "articles"} else "left")
    for row in rows:
        table.add_row(row.id, row.name, str(row.findings), str(row.articles))
    console.print(table)
    console.print("Map one with: kb vocab map TERM --to ID --topic T", highlight=False)


@vocab_app.command("map")
def vocab_map(
    term: Annotated[str, typer.Argument(help="The treatment as written, e.g. an unmapped name.")],
    to: Annotated[str, typer.Option("--to", help="Id of the intervention it means (general or the topic's).")],
    topic: TopicOption = "calcinosis",
) -> None:
    """Record in the topic pack that TERM means the intervention ID; re-extraction then uses it."""
    from ingest.extraction.lexicon import topic_lexicon
    from kb.topic import load_topic
    from kb.vocabulary import add_mapping

    try:
        pack = load_topic(topic)
        lexicon = topic_lexicon(pack)
        try:
            target = lexicon.intervention(to)
        except KeyError:
            raise IngestError(f"no intervention with id {to!r}; ids are lower-case slugs such as 'diltiazem'") from None
        path = add_mapping(pack.path / "vocabulary.yaml", term, target.id)
    except (KBError, IngestError) as exc:
        raise _fail(exc) from exc
    console.print(
        f"{path.as_posix()}: {term!r} now means {target.id} ({target.name}). Run kb extract or kb build to re-extract.",
        highlight=False,
    )


def _missing(value: object) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))  # type: ignore[arg-type]


def main() -> None:
    """Entry point of the ``kb`` console script.

    ``--debug`` may follow the command (``kb runs --debug``); it is moved before it. An error
    no command expected is shown as one line, or as its traceback with ``--debug``.
    """
    args = sys.argv[1:]
    separator = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:separator]:
        args = ["--debug", *(a for a in args[:separator] if a != "--debug"), *args[separator:]]
    try:
        app(args=args, prog_name="kb")
    except Exception as exc:
        if _options.debug:
            raise
        err.print(
            Text.assemble(("error:", "bold red"), f" {_one_line(exc)} (run again with --debug for the details)"),
            highlight=False,
        )
        sys.exit(EXIT_FAILED)


def _one_line(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first}" if first else type(original).__name__


# The review queue and the topic-authoring commands (kb review …, kb topic …) live in their own
# module; importing it registers them on `app`.
from ingest import cli_authoring  # noqa: E402, F401

if __name__ == "__main__":
    main()
