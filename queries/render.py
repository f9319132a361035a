"""Render query results into the site's Markdown pages.

:func:`render_pages` returns ``{relative path: Markdown}`` for every generated page, from
Jinja2 templates kept in the site sources (``site/templates``) and the data gathered by
:mod:`queries.pages`; :func:`build_sources` also writes the downloads (:mod:`queries.downloads`)
and is what the MkDocs hook calls. It is deterministic: the same KB gives the same bytes.
Text that comes from PubMed or curators is escaped with the ``text`` filter (Markdown) or the
``html_text`` filter (the findings tables, which are raw HTML), so a title containing
``<script>`` or Markdown link syntax renders as plain text. Links to other sites come only
from the ``pubmed_url``, ``doi_url``, ``pmc_url`` and ``mesh_url`` filters
(:mod:`queries.links`: http(s) only, percent-encoded, None for a value not of its shape). Charts are inline SVG from
:mod:`queries.charts`.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine

from kb.certainty import certainty_rank
from kb.errors import KBError
from kb.evidence import DESIGN_RANK
from queries import api, site_topics
from queries.charts import forest_axis, forest_point, rate_bar
from queries.db import DB, connect
from queries.downloads import Download, write_downloads
from queries.feed import FEED_PATH, render_feed
from queries.figures import NOT_REPORTED, denominator_text, interval_text, is_sparse
from queries.forest import ALL_CONTEXTS, UNSPECIFIED, forest_path, forest_rows, in_cell
from queries.gap_page import gap_matrix
from queries.graph_page import graph_page_data
from queries.links import doi_url, mesh_url, pmc_url, pubmed_url
from queries.pages import (
    SiteData,
    condition_page,
    missing,
    records,
    refresh_changes,
    retraction,
    script_json,
    slug,
    whats_new,
)
from queries.reference import api_reference, data_dictionary
from queries.routes import RouteParts, route_anchor, split_by_route
from queries.stamp import kb_stamp, stamp_text

_HOME_ROWS = 5  # treatments per disease context on the home page
# Findings listed on a condition page (most recent first); all of them are on the treatments' pages.
_CONDITION_FINDINGS = 200

__all__ = [
    "api_reference",
    "build_sources",
    "code_block",
    "condition_page",
    "data_dictionary",
    "escape_text",
    "html_text",
    "meta_title",
    "render_pages",
    "script_json",
    "slug",
    "write_pages",
]

# Python-Markdown's backslash-escapable characters (plus | for tables). < and > are
# HTML-escaped first; any other character would show its backslash.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def escape_text(value: object) -> str:
    """Escape untrusted text for Markdown: HTML first, then every Markdown metacharacter."""
    if missing(value):
        return ""
    return _escape(str(value))


@functools.lru_cache(maxsize=65536)
def _escape(value: str) -> str:
    # The same titles and names recur on many pages: escape each once.
    escaped = html.escape(value, quote=False)
    escaped = re.sub(r"\s+", " ", escaped).strip()
    # Keep the entities html.escape produced intact; escape everything else Markdown might read.
    parts = re.split(r"(&(?:amp|lt|gt);)", escaped)
    return "".join(p if p.startswith("&") and p.endswith(";") else _MARKDOWN_SPECIALS.sub(r"\\\1", p) for p in parts)


_TITLE_LOOKALIKES = str.maketrans({"<": "‹", ">": "›", "&": "＆"})


def meta_title(value: object) -> str:
    """A page title for front matter, as a quoted YAML string.

    MkDocs puts the title into ``<title>``, the navigation and the search index, and themes
    unescape it there (Material's ``striptags``), so escaping is not enough: angle brackets
    and ampersands are replaced by look-alike characters. The page's heading keeps the
    exact text.
    """
    plain = "" if missing(value) else re.sub(r"\s+", " ", str(value)).strip()
    return json.dumps(plain.translate(_TITLE_LOOKALIKES), ensure_ascii=False)


def _count(value: object) -> str:
    if missing(value):
        return "–"
    return str(int(value))  # type: ignore[call-overload]


def _reported(value: object) -> str:
    """A count, or NR (not reported): never 0 for a count no study gives."""
    if missing(value):
        return NOT_REPORTED
    return str(int(value))  # type: ignore[call-overload]


def _html_page(path: object) -> str:
    """A generated page's path as the built site names it (``x.md`` → ``x.html``)."""
    return re.sub(r"\.md$", ".html", str(path))


def _design_rank(design: object) -> int:
    """Sort key of a study design, strongest first (99 for none)."""
    return DESIGN_RANK.get(str(design), 99) if not missing(design) else 99


def _sparse(row: Mapping[str, Any]) -> bool:
    return is_sparse(row.get("evaluable"), row.get("patients"))


def _percent(value: object) -> str:
    if missing(value):
        return "–"
    return f"{100 * float(value):.0f}%"  # type: ignore[arg-type]


def _design(value: object) -> str:
    return str(value).replace("_", " ") if value else "–"


def _size(value: object) -> str:
    """A file size in bytes as people read it (``812 B``, ``14.2 KB``, ``3.1 MB``)."""
    size = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} MB"


def _day(value: object) -> str:
    """A UTC date (``2025-06-01``), or an en dash."""
    if missing(value) or not isinstance(value, datetime):
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def _minute(value: object) -> str:
    """A UTC time to the minute (``2025-06-01 04:30 UTC``), or an en dash."""
    if missing(value) or not isinstance(value, datetime):
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def html_text(value: object) -> str:
    """Escape untrusted text for raw HTML (quotes too, so it is safe in attributes), on one line."""
    if missing(value):
        return ""
    return html.escape(re.sub(r"\s+", " ", str(value)).strip(), quote=True)


def code_block(value: object, language: str = "") -> str:
    """A fenced Markdown code block, its fence longer than any run of backticks in ``value``."""
    content = str(value)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{content}\n{fence}"


def _environment(templates: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 (Markdown, not HTML: the `text` filter escapes HTML and Markdown)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        text=escape_text,
        html_text=html_text,
        meta_title=meta_title,
        slug=slug,
        count=_count,
        reported=_reported,
        html_page=_html_page,
        percent=_percent,
        design=_design,
        code_block=code_block,
        size=_size,
        day=_day,
        minute=_minute,
        # Outbound links, built by queries.links only (None when the value is not of its shape).
        pubmed_url=pubmed_url,
        doi_url=doi_url,
        pmc_url=pmc_url,
        mesh_url=mesh_url,
    )
    env.globals.update(
        condition_page=condition_page,
        rate_bar=rate_bar,
        denominator_text=denominator_text,
        interval_text=interval_text,
        sparse=_sparse,
        certainty_rank=certainty_rank,
        design_rank=_design_rank,
        forest_axis=forest_axis,
        forest_point=forest_point,
    )
    return env


def render_pages(templates: Path, *, db: DB = None, downloads: Sequence[Download] = ()) -> dict[str, str]:
    """Render every generated page of the site.

    Args:
        templates: the folder of Jinja2 templates (``site/templates``).
        db: where to read (see :mod:`queries.api`).
        downloads: the files written by :func:`queries.downloads.write_downloads`, listed on
            the downloads page (which says there are none when this is empty).

    Returns:
        Mapping of page path (relative to the docs root) to Markdown, and the Atom feed
        (:data:`queries.feed.FEED_PATH`, XML) of what the refreshes added.
    """
    env = _environment(templates)
    engine = connect(db)
    site = SiteData.read(engine)
    macro = env.get_template("_macros.md.j2").module.finding_row  # type: ignore[attr-defined]
    site.render_row = lambda finding: str(macro(finding, "../"))
    pages: dict[str, str] = {}
    sections: list[dict[str, Any]] = []
    context_names = {p["context_id"]: p["context"] for p in site.pairs if p["context_id"]}
    condition_names = {p["condition_id"]: p["condition"] for p in site.pairs}
    cells: dict[str, dict[str, Any]] = {}

    def with_forest(rows: list[dict[str, Any]], condition_id: str, key: str) -> list[dict[str, Any]]:
        """``rows`` with the path of each one's forest-plot page, which is then rendered."""
        condition = condition_names.get(condition_id, condition_id)
        place = {
            ALL_CONTEXTS: f"{condition}, all disease contexts",
            UNSPECIFIED: f"{condition}, disease context mixed or unspecified",
        }.get(key, f"{condition} in {context_names.get(key, key)}")
        back = condition_page(condition_id, None if key in (ALL_CONTEXTS, UNSPECIFIED) else key)
        for row in rows:
            row["forest"] = forest_path(row["level"], row["intervention_id"], condition_id, key)
            cells.setdefault(
                row["forest"], {"row": row, "condition_id": condition_id, "key": key, "place": place, "back": back}
            )
        return rows

    routes = RouteParts(engine)
    for pair in site.pairs:
        context = pair["context_id"] or None
        key = context or ALL_CONTEXTS
        table = api.treatments_for(pair["condition_id"], context=context, include_classes=True, db=engine)
        unspecified = None
        if context is None and pair["unspecified_findings"]:
            unspecified = with_forest(
                records(
                    api.treatments_for(pair["condition_id"], context=api.UNSPECIFIED, include_classes=False, db=engine)
                ),
                pair["condition_id"],
                UNSPECIFIED,
            )
        page = condition_page(pair["condition_id"], context)
        positions = site.by_condition.get((pair["condition_id"], context), [])
        treatments = with_forest(records(table), pair["condition_id"], key)
        by_route = split_by_route(routes, treatments, pair["condition_id"], context)
        pages[page] = env.get_template("condition.md.j2").render(
            pair=pair,
            treatments=treatments,
            by_route=by_route,
            route_anchor=route_anchor,
            unspecified=unspecified,
            findings=site.findings_of(sorted(positions)[:_CONDITION_FINDINGS]),
            total=len(positions),
            depth="../",
        )
        # A class of one member repeats its member's row: the tables leave it out.
        shown = [t for t in treatments if t["level"] != "class" or t["interventions"] > 1]
        sections.append({"pair": pair, "page": page, "treatments": shown})

    # Disease contexts with the most findings first; a condition as a whole after them.
    sections.sort(key=lambda s: (s["pair"]["context_id"] is None, -s["pair"]["findings"], s["page"]))
    pages["index.md"] = env.get_template("home.md.j2").render(
        topic=site.topic,
        counts=site.counts,
        sections=site_topics.home_sections(sections, db=engine),
        new=whats_new(site),
        feed=FEED_PATH,
        rows=_HOME_ROWS,
        stamp=stamp_text(db=engine),
        depth="",
    )
    pages["conditions/index.md"] = env.get_template("conditions.md.j2").render(pairs=site.pairs, depth="../")
    pages.update(topic_pages(env, sections, engine))

    def by_context(level: str, item_id: str) -> list[dict[str, Any]]:
        rows = site.by_context.get((level, item_id), [])
        return [
            with_forest([dict(r)], r["condition_id"], r["context_id"] or UNSPECIFIED)[0]
            | {
                "condition": condition_names.get(r["condition_id"], r["condition_id"]),
                "context": context_names.get(r["context_id"]) if r["context_id"] else None,
                "page": condition_page(r["condition_id"], r["context_id"]),
            }
            for r in rows
        ]

    for row in site.interventions:
        # An intervention naming a class lists its own findings; the class page lists its members'.
        pages[f"interventions/{slug(row['id'])}.md"] = env.get_template("intervention.md.j2").render(
            item=row,
            findings=site.covered(row["id"], None),
            contexts=by_context("intervention", row["id"]),
            names=site.names,
            depth="../",
        )
    pages["interventions/index.md"] = env.get_template("interventions.md.j2").render(
        interventions=site.interventions, classes=site.classes, depth="../"
    )
    for row in site.classes:
        pages[f"classes/{slug(row['id'])}.md"] = env.get_template("class.md.j2").render(
            item=row,
            findings=site.covered(None, row["id"]) if row["members"] else [],
            contexts=by_context("class", row["id"]),
            names=site.names,
            depth="../",
        )

    forest = env.get_template("forest.md.j2")
    counted: dict[tuple[str, str], list[int]] = {}
    for path, cell in sorted(cells.items()):
        row = cell["row"]
        group = (row["level"], row["intervention_id"])
        if group not in counted:
            counted[group] = site.counted_positions(*group)
        findings = [site.findings[n] for n in counted[group]]
        label = f"{row['intervention']} (class)" if row["level"] == "class" else str(row["intervention"])
        pages[path] = forest.render(
            row=row,
            cell={"label": label, "place": cell["place"], "condition_page": cell["back"]},
            findings=forest_rows([f for f in findings if in_cell(f, cell["condition_id"], cell["key"])]),
            depth="../",
        )

    known = set(site.titles)
    article_page = env.get_template("article.md.j2")
    for row in site.articles:
        pages[f"articles/{slug(row['id'])}.md"] = article_page.render(
            article=row,
            notice=retraction(row),
            findings=site.findings_of(site.by_article.get(row["id"], [])),
            sources=site.sources.get(row["id"], []),
            references=[c for c in site.references.get(row["id"], []) if c["cited_id"] in known],
            cited_by=[c for c in site.cited_by.get(row["id"], []) if c["citing_id"] in known],
            titles=site.titles,
            depth="../",
        )
    pages["articles/index.md"] = env.get_template("articles.md.j2").render(articles=site.articles, depth="../")

    def forest_html(row: dict[str, Any]) -> str:
        key = row["context_id"] or UNSPECIFIED
        return _html_page(forest_path(row["level"], row["intervention_id"], row["condition_id"], key))

    gaps = gap_matrix(site, condition_names, context_names, forest_html)
    pages["gaps.md"] = env.get_template("gaps.md.j2").render(**gaps, depth="")
    pages["graph.md"] = env.get_template("graph.md.j2").render(**graph_page_data(engine, site.pairs), depth="")
    pages["downloads.md"] = env.get_template("downloads.md.j2").render(downloads=downloads, depth="")
    pages["changelog.md"] = env.get_template("changelog.md.j2").render(
        runs=refresh_changes(site), feed=FEED_PATH, depth=""
    )
    pages[FEED_PATH] = render_feed(site, site.topic_ids, updated=kb_stamp(db=engine)["updated"])
    pages["data-dictionary.md"] = env.get_template("data-dictionary.md.j2").render(tables=data_dictionary(), depth="")
    pages["api.md"] = env.get_template("api.md.j2").render(items=api_reference(), depth="")
    return pages


def topic_pages(env: Environment, sections: list[dict[str, Any]], engine: Engine) -> dict[str, str]:
    """A page per topic the site is built for (every topic with ``--all-topics``), and their index."""
    every = site_topics.topics(db=engine)
    chosen = site_topics.site_topic()
    if chosen != site_topics.ALL_TOPICS:
        wanted = chosen or (every[0]["id"] if every else None)
        every = [t for t in every if t["id"] == wanted]
    pages = {}
    for topic in every:
        own = [s for s in sections if s["pair"]["condition_id"] in topic["conditions"]]
        pages[f"topics/{slug(topic['id'])}.md"] = env.get_template("topic.md.j2").render(
            topic=topic, sections=own, rows=_HOME_ROWS, depth="../"
        )
    pages["topics/index.md"] = env.get_template("topics.md.j2").render(topics=every, depth="../")
    return pages


#: The manifest a build writes into the folder of generated sources: that the build owns the
#: folder, and which files it wrote there (the only ones a later build may remove).
MANIFEST = ".kb-generated.json"


def build_sources(templates: Path, out_dir: Path, *, db: DB = None) -> list[Path]:
    """Write the site's generated sources under ``out_dir``: the downloads, then every page.

    This is what the MkDocs hook calls; ``out_dir`` is a folder MkDocs reads as part of the
    docs (never ``site/`` itself). The build owns it: a new or empty folder is claimed with a
    manifest (:data:`MANIFEST`), a folder with a manifest is reused, and a non-empty folder
    without one is refused. Only files the previous manifest lists are ever removed.

    Returns:
        Every file written (pages and downloads), relative paths under ``out_dir``.

    Raises:
        KBError: ``out_dir`` holds files this build did not write.
    """
    previous = claim_generated_dir(out_dir)
    downloads = write_downloads(out_dir / "downloads", db=db)
    pages = write_pages(render_pages(templates, db=db, downloads=downloads), out_dir, previous=previous)
    written = [*pages, *(out_dir / "downloads" / d.name for d in downloads)]
    _write_manifest(out_dir, [p.relative_to(out_dir).as_posix() for p in written])
    return written


def claim_generated_dir(out_dir: Path) -> set[str]:
    """Make ``out_dir`` the build's own; return the files its previous manifest lists.

    Raises:
        KBError: ``out_dir`` is a file, or a non-empty folder without a manifest.
    """
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        except (ValueError, KeyError, TypeError) as exc:
            raise KBError(
                f"{manifest} is not a manifest kb build wrote ({exc}); remove {out_dir} and build again"
            ) from exc
        return {str(f) for f in files}
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise KBError(
            f"{out_dir} is where this build keeps its generated pages, but it already holds files "
            f"kb build did not write (it has no {MANIFEST}); move them away, or build with another --site-dir"
        )
    _write_manifest(out_dir, [])
    return set()


def _write_manifest(out_dir: Path, files: Sequence[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    content = {
        "written_by": "kb build",
        "what": "pages and downloads generated from the KB; the next kb build replaces the files listed here",
        "files": sorted(files),
    }
    temporary = out_dir / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    temporary.replace(out_dir / MANIFEST)


def write_pages(pages: Mapping[str, str], out_dir: Path, *, previous: Iterable[str] = ()) -> list[Path]:
    """Write rendered pages under ``out_dir``; remove the ``previous`` pages not written now.

    ``previous`` are paths relative to ``out_dir`` that an earlier build wrote (its
    manifest); nothing else in ``out_dir`` is ever removed. Files whose content is
    unchanged are not rewritten, so their timestamps stay put.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for relative, content in sorted(pages.items()):
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    keep = {p.relative_to(out_dir).as_posix() for p in written}
    for relative in sorted(set(previous) - keep):
        stale = out_dir / relative
        if relative.endswith(".md") and ".." not in Path(relative).parts and stale.is_file():
            stale.unlink()
    return written
