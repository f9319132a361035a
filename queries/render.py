"""Render query results into the site's Markdown pages.

:func:`render_pages` returns ``{relative path: Markdown}`` for every generated page, from
Jinja2 templates kept in the site sources (``site/templates``). It is deterministic: the same
KB gives the same bytes. Text that comes from PubMed or curators is escaped with the ``text``
filter, so a title containing ``<script>`` or Markdown link syntax renders as plain text.
"""

from __future__ import annotations

import ast
import html
import inspect
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kb import models
from queries import api, catalog
from queries.db import DB

# Python-Markdown's backslash-escapable characters (plus | for tables). < and > are
# HTML-escaped first; any other character would show its backslash.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def escape_text(value: object) -> str:
    """Escape untrusted text for Markdown: HTML first, then every Markdown metacharacter."""
    if _missing(value):
        return ""
    escaped = html.escape(str(value), quote=False)
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
    plain = "" if _missing(value) else re.sub(r"\s+", " ", str(value)).strip()
    return json.dumps(plain.translate(_TITLE_LOOKALIKES), ensure_ascii=False)


def slug(value: str) -> str:
    """A file-name-safe slug for an id or CURIE (``pubmed:123`` → ``pubmed-123``)."""
    return re.sub(r"[^a-z0-9.]+", "-", value.lower()).strip("-.") or "item"


def condition_page(condition_id: str, context_id: str | None) -> str:
    """Path of the page for a condition, alone or in a disease context."""
    return f"conditions/{condition_id}.md" if not context_id else f"conditions/{condition_id}--{context_id}.md"


def _count(value: object) -> str:
    if _missing(value):
        return "–"
    return str(int(value))  # type: ignore[call-overload]


def _percent(value: object) -> str:
    if _missing(value):
        return "–"
    return f"{100 * float(value):.0f}%"  # type: ignore[arg-type]


def _design(value: object) -> str:
    return str(value).replace("_", " ") if value else "–"


def code_block(value: object, language: str = "") -> str:
    """A fenced Markdown code block, its fence longer than any run of backticks in ``value``."""
    content = str(value)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{content}\n{fence}"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts, with every missing value (NaN, NA) as None for the templates."""
    return [{k: (None if _missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


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
        meta_title=meta_title,
        slug=slug,
        count=_count,
        percent=_percent,
        design=_design,
        code_block=code_block,
    )
    env.globals.update(condition_page=condition_page)
    return env


def render_pages(templates: Path, *, db: DB = None) -> dict[str, str]:
    """Render every generated page of the site.

    Args:
        templates: the folder of Jinja2 templates (``site/templates``).
        db: where to read (see :mod:`queries.api`).

    Returns:
        Mapping of page path (relative to the docs root) to Markdown.
    """
    env = _environment(templates)
    topic = catalog.topic(db=db)
    pairs = catalog.condition_contexts(db=db)
    interventions = catalog.interventions(db=db)
    classes = catalog.intervention_classes(db=db)
    articles = catalog.articles(db=db)
    all_findings = api.findings(db=db)
    sources = catalog.article_sources(db=db)
    citations = catalog.citations(db=db)
    names = dict(zip(interventions["id"], interventions["name"], strict=True))
    pages: dict[str, str] = {}

    sections = []
    for pair in _records(pairs):
        context = pair["context_id"] or None
        table = api.treatments_for(pair["condition_id"], context=context, include_classes=True, db=db)
        unspecified = None
        if context is None and pair["unspecified_findings"]:
            unspecified = _records(
                api.treatments_for(pair["condition_id"], context=api.UNSPECIFIED, include_classes=False, db=db)
            )
        page = condition_page(pair["condition_id"], context)
        pair_findings = all_findings[all_findings["condition_id"] == pair["condition_id"]]
        if context:
            pair_findings = pair_findings[pair_findings["context_id"] == context]
        pages[page] = env.get_template("condition.md.j2").render(
            pair=pair,
            treatments=_records(table),
            unspecified=unspecified,
            findings=_records(pair_findings),
            depth="../",
        )
        sections.append({"pair": pair, "page": page, "treatments": _records(table[table["level"] == "intervention"])})

    pages["index.md"] = env.get_template("home.md.j2").render(
        topic=topic, counts=catalog.counts(db=db), sections=sections, depth=""
    )
    pages["conditions/index.md"] = env.get_template("conditions.md.j2").render(pairs=_records(pairs), depth="../")

    for row in _records(interventions):
        rows = api.findings(intervention=row["id"], db=db) if row["findings"] or row["in_combinations"] else None
        pages[f"interventions/{slug(row['id'])}.md"] = env.get_template("intervention.md.j2").render(
            item=row, findings=_records(rows) if rows is not None else [], names=names, depth="../"
        )
    pages["interventions/index.md"] = env.get_template("interventions.md.j2").render(
        interventions=_records(interventions), classes=_records(classes), depth="../"
    )
    for row in _records(classes):
        rows = api.findings(intervention=row["id"], db=db) if row["members"] else all_findings.iloc[0:0]
        pages[f"classes/{slug(row['id'])}.md"] = env.get_template("class.md.j2").render(
            item=row, findings=_records(rows), names=names, depth="../"
        )

    for row in _records(articles):
        pages[f"articles/{slug(row['id'])}.md"] = env.get_template("article.md.j2").render(
            article=row,
            findings=_records(all_findings[all_findings["article_id"] == row["id"]]),
            sources=_records(sources[sources["article_id"] == row["id"]]),
            references=_records(citations[citations["citing_id"] == row["id"]]),
            cited_by=_records(citations[citations["cited_id"] == row["id"]]),
            known=set(articles["id"]),
            depth="../",
        )
    pages["articles/index.md"] = env.get_template("articles.md.j2").render(articles=_records(articles), depth="../")
    pages["data-dictionary.md"] = env.get_template("data-dictionary.md.j2").render(tables=data_dictionary(), depth="")
    pages["api.md"] = env.get_template("api.md.j2").render(items=api_reference(), depth="")
    return pages


def api_reference() -> list[dict[str, str]]:
    """Every public name of :mod:`queries` (its ``__all__``) with its signature and documentation.

    A function's documentation is its docstring; a constant's is the string literal that
    follows its assignment in the source (the convention Sphinx reads).
    """
    import queries

    constants = _attribute_docs()
    items = []
    for name in queries.__all__:
        value = getattr(queries, name)
        if callable(value):
            items.append({"name": name, "signature": name + _signature(value), "doc": inspect.getdoc(value) or ""})
        else:
            items.append({"name": name, "signature": f"{name} = {value!r}", "doc": constants.get(name, "")})
    return items


class _AsWritten(str):
    """An annotation shown as written in the source, without the quotes of its repr."""

    def __repr__(self) -> str:
        return str(self)


def _signature(function: Callable[..., object]) -> str:
    signature = inspect.signature(function)

    def written(annotation: object) -> object:
        return _AsWritten(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=written(p.annotation)) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=written(signature.return_annotation)))


def _attribute_docs() -> dict[str, str]:
    """Docstrings of the queries package's module-level constants, by name."""
    docs: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for node, following in itertools.pairwise(body):
            if not (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
                continue
            doc = following.value.value
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if isinstance(doc, str):
                docs |= {t.id: inspect.cleandoc(doc) for t in targets if isinstance(t, ast.Name)}
    return docs


def data_dictionary() -> list[dict[str, Any]]:
    """Every table with its fields, types and descriptions, from the models."""
    tables = []
    for model in (
        models.Topic,
        models.Article,
        models.ArticleSource,
        models.Citation,
        models.Finding,
        models.Intervention,
        models.InterventionClass,
        models.InterventionComponent,
        models.Condition,
        models.DiseaseContext,
        models.ConditionContext,
    ):
        table = model.__table__  # type: ignore[attr-defined,union-attr]
        fields = []
        for name, info in model.model_fields.items():
            column = table.columns.get(name)
            fields.append(
                {
                    "name": name,
                    "type": str(column.type) if column is not None else "",
                    "key": bool(column is not None and column.primary_key),
                    "description": info.description or "",
                }
            )
        tables.append({"name": table.name, "doc": (model.__doc__ or "").strip(), "fields": fields})
    return tables


def write_pages(pages: Mapping[str, str], out_dir: Path) -> list[Path]:
    """Write rendered pages under ``out_dir``, removing stale generated pages; return the paths.

    Files whose content is unchanged are not rewritten, so their timestamps stay put.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for relative, content in sorted(pages.items()):
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    keep = set(written)
    for stale in sorted(out_dir.rglob("*.md")):
        if stale not in keep:
            stale.unlink()
    return written
