"""Exports: the KB as the files analysts and reference managers expect.

:func:`write_exports` writes, under stable names:

=========== ==================================================================================
format      files
=========== ==================================================================================
csv         ``findings.csv``, ``articles.csv``, ``aggregates.csv``
json        ``kb.json`` (``{"articles": […], "findings": […], "aggregates": […]}``)
graphml     ``kb.graphml``; gexf ``kb.gexf``; node-link ``kb.node-link.json``;
            cytoscape ``kb.cytoscape.json`` (see :mod:`kb.graph_export`)
ris         ``articles.ris``: the articles the findings cite, for Zotero, EndNote, Mendeley
bibtex      ``articles.bib``: the same articles for LaTeX
=========== ==================================================================================

Rows are those of :func:`queries.findings`, :func:`queries.articles` and
:func:`kb.aggregate.aggregate_evidence` per (intervention or class, condition, context);
aggregates over all contexts at once are not exported, as they cannot be summed from these.
Everything is sorted and carries no export time, so the same KB gives the same bytes. CSV
cells holding lists (authors, combinations) join them with ``"; "``, and a text cell that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) gets a leading ``'`` so that it shows as text (:func:`defuse_formula`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from kb.aggregate import AGGREGATE_COLUMNS, aggregate_evidence
from kb.graph import build_graph
from kb.graph_export import GRAPH_FILES, write_graph
from queries.api import findings
from queries.catalog import articles
from queries.db import DB, connect
from queries.links import doi_url, pubmed_url, safe_url

__all__ = [
    "EXPORT_FORMATS",
    "bibtex_entries",
    "csv_frame",
    "export_tables",
    "plain_value",
    "ris_records",
    "write_exports",
]

#: Export formats and the files each writes.
EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "csv": ("findings.csv", "articles.csv", "aggregates.csv"),
    "json": ("kb.json",),
    **{fmt: (name,) for fmt, name in GRAPH_FILES.items()},
    "ris": ("articles.ris",),
    "bibtex": ("articles.bib",),
}


def write_exports(out_dir: Path | str, formats: str | Iterable[str] = "all", *, db: DB = None) -> list[Path]:
    """Write the KB in ``formats`` under ``out_dir`` (created if needed); return the files written.

    Args:
        out_dir: the folder to write into; existing files of the same names are replaced.
        formats: ``all``, one format, a comma-separated list or an iterable of them (keys of
            :data:`EXPORT_FORMATS`).
        db: where to read (see :mod:`queries.api`).

    Raises:
        ValueError: an unknown format.
        KBError: the KB cannot be read.
    """
    chosen = _formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tables = export_tables(db=db) if {"csv", "json", "ris", "bibtex"} & set(chosen) else {}
    if "csv" in chosen:
        for name, frame in tables.items():
            path = out / f"{name}.csv"
            csv_frame(frame).to_csv(path, index=False, lineterminator="\n")
            written.append(path)
    if "json" in chosen:
        data = {name: [_plain_row(r) for r in frame.to_dict("records")] for name, frame in tables.items()}
        path = out / "kb.json"
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    graph_formats = [fmt for fmt in GRAPH_FILES if fmt in chosen]
    if graph_formats:
        graph = build_graph(connect(db))
        written += [write_graph(graph, fmt, out / GRAPH_FILES[fmt]) for fmt in graph_formats]
    if {"ris", "bibtex"} & set(chosen):
        cited = tables["articles"][tables["articles"]["findings"] > 0]
        for fmt, render in (("ris", ris_records), ("bibtex", bibtex_entries)):
            if fmt in chosen:
                path = out / EXPORT_FORMATS[fmt][0]
                path.write_text(render(cited), encoding="utf-8")
                written.append(path)
    return written


def _formats(formats: str | Iterable[str]) -> list[str]:
    items = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else [str(f) for f in formats]
    unknown = [f for f in items if f not in EXPORT_FORMATS and f != "all"]
    if unknown or not items:
        raise ValueError(
            f"unknown export format {', '.join(map(repr, unknown)) or '(none)'}; "
            f"use one of {', '.join(EXPORT_FORMATS)} or all"
        )
    return list(EXPORT_FORMATS) if "all" in items else items


def export_tables(*, db: DB = None) -> dict[str, pd.DataFrame]:
    """The exported tables, sorted: ``findings``, ``articles`` and ``aggregates`` (per context).

    Args:
        db: where to read (see :mod:`queries.api`).
    """
    rows = aggregate_evidence(connect(db), by_context=True)
    columns = [*AGGREGATE_COLUMNS[:5], "condition_id", "context_id", *AGGREGATE_COLUMNS[5:]]
    aggregates = pd.DataFrame(rows, columns=columns)
    for column in ("response_rate", "ci_low", "ci_high"):
        aggregates[column] = aggregates[column].astype(float)
    for column in ("patients", "responders", "evaluable", "latest_year"):
        aggregates[column] = aggregates[column].astype("Int64")  # not reported stays empty, never 0
    return {
        "findings": findings(db=db).sort_values("finding_id").reset_index(drop=True),
        "articles": articles(db=db).sort_values("id").reset_index(drop=True),
        "aggregates": aggregates,
    }


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a leading ``'``; others as given.

    ``=HYPERLINK(…)`` in a title must stay text when a reader opens the CSV in Excel or
    LibreOffice. Numbers are never strings here, so a negative number is not touched.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with list cells joined by ``"; "`` and text cells defused (:func:`defuse_formula`)."""
    copy = frame.copy()
    for column in copy.columns:
        if not (pd.api.types.is_object_dtype(copy[column]) or pd.api.types.is_string_dtype(copy[column])):
            continue  # numbers, booleans, dates: never run as formulas
        copy[column] = copy[column].map(lambda v: "; ".join(map(str, v)) if isinstance(v, list) else v)
        copy[column] = copy[column].map(defuse_formula)
    return copy


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain_value(v) for k, v in row.items()}


def plain_value(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python ones, NaN and NA as None."""
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


# -- bibliographies --------------------------------------------------------------------------


def _one_line(value: object) -> str:
    return "" if plain_value(value) is None else re.sub(r"\s+", " ", str(value)).strip()


def _link(article: dict[str, Any]) -> str:
    """The article's link for a bibliography: PubMed, else its DOI, else its own http(s) URL."""
    return pubmed_url(article.get("pmid")) or doi_url(article.get("doi")) or safe_url(article.get("url")) or ""


def ris_records(frame: pd.DataFrame) -> str:
    """Articles (rows of :func:`queries.articles`) as RIS records, one field per line.

    Line breaks inside values are folded to spaces, so a hostile title cannot start a tag.
    """
    lines: list[str] = []
    for article in frame.to_dict("records"):
        fields = [
            ("TY", "JOUR" if _one_line(article.get("journal")) else "GEN"),
            ("ID", article["id"]),
            ("TI", article.get("title")),
            *(("AU", author) for author in article.get("authors") or []),
            ("PY", article.get("year")),
            ("JO", article.get("journal")),
            ("DO", article.get("doi")),
            ("AN", article.get("pmid")),
            ("UR", _link(article)),
            ("N1", "Retracted" if article.get("retracted") else None),
        ]
        lines += [f"{tag}  - {_one_line(value)}" for tag, value in fields if _one_line(value)]
        lines += ["ER  - ", ""]
    return "\n".join(lines)


# LaTeX's special characters as commands that keep braces balanced (BibTeX counts every
# brace, escaped or not, so a stray "{" in a title would otherwise swallow the file).
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_INITIALS = re.compile(r"^[A-Z][A-Za-z-]{0,5}$")


def _latex(value: object) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in _one_line(value))


def _verbatim(value: object) -> str:
    """A DOI or URL for a verbatim field: braces and backslashes percent-encoded, nothing else."""
    return _one_line(value).replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D")


def _bibtex_author(name: str) -> str:
    """``Family Initials`` as ``Family, Initials``; anything else (a group) kept whole in braces."""
    family, _, initials = _one_line(name).rpartition(" ")
    if family and _INITIALS.match(initials) and initials.upper() == initials:
        return f"{_latex(family)}, {_latex(initials)}"
    return "{" + _latex(name) + "}"


def bibtex_entries(frame: pd.DataFrame) -> str:
    """Articles (rows of :func:`queries.articles`) as BibTeX entries keyed by their CURIE.

    Text is escaped for LaTeX (:data:`_LATEX`) and kept in UTF-8; titles are double-braced so
    that styles keep their capitals.
    """
    entries: list[str] = []
    used: set[str] = set()
    for article in frame.to_dict("records"):
        key = re.sub(r"[^A-Za-z0-9:._/-]", "-", str(article["id"]))
        base, n = key, 1
        while key in used:
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        fields = [
            ("title", "{" + _latex(article.get("title")) + "}" if _one_line(article.get("title")) else ""),
            ("author", " and ".join(_bibtex_author(a) for a in article.get("authors") or [])),
            ("journal", _latex(article.get("journal"))),
            ("year", _latex(article.get("year"))),
            ("doi", _verbatim(article.get("doi"))),
            ("pmid", _verbatim(article.get("pmid"))),
            ("url", _verbatim(_link(article))),
            ("note", "Retracted" if article.get("retracted") else ""),
        ]
        body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields if value)
        kind = "article" if _one_line(article.get("journal")) else "misc"
        entries.append(f"@{kind}{{{key},\n{body}}}\n")
    return "\n".join(entries)
