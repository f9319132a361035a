"""Authoring a topic: ``kb topic new NAME`` writes a commented pack skeleton, ``kb topic check
PATH`` lists every problem in a pack at once, each with the file, the field path and what to
write there (from the pack's schema, :mod:`ingest.topic_reference`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ingest.errors import IngestError
from ingest.topic_reference import PACK_FILES, hint
from kb.errors import KBError
from kb.topic import TopicPack, TopicSpec, _check_precedence
from kb.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a pack: where, what is wrong, and what to write."""

    file: str
    field: str
    problem: str
    write: str

    def line(self) -> str:
        """The problem as one line (field path first, then what to write)."""
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.problem}" + (f" → write: {self.write}" if self.write else "")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(folder: Path, file: str, model: type[BaseModel], required: bool) -> tuple[Any, list[Problem]]:
    path = folder / file
    if not path.is_file():
        if required:
            return None, [Problem(file, "", "missing", "the file ('kb topic new NAME' writes a skeleton)")]
        return None, []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        return None, [Problem(file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})", "valid YAML")]
    except OSError as exc:
        return None, [Problem(file, "", f"cannot be read ({exc.strerror})", "")]
    if not isinstance(data, dict):
        return None, [Problem(file, "", "is not a mapping of fields", "field: value lines")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "value_error" and not loc:
                # The vocabulary's cross-reference check names several problems in one message.
                problems += [Problem(file, "", part, "an id defined in the file") for part in message.split("; ")]
                continue
            if error["type"] == "extra_forbidden":
                problems.append(
                    Problem(file, _loc(loc), "is not a field here (remove it)", hint(file, model, loc[:-1]))
                )
                continue
            problems.append(Problem(file, _loc(loc), message, hint(file, model, loc)))
        if model is Vocabulary and not any(p.field == "" for p in problems):
            # Pydantic skips the cross-reference check when a field is invalid: run it on the raw data.
            problems += [Problem(file, "", part, "an id defined in the file") for part in _raw_references(data)]
        return None, problems


def _raw_references(data: dict[str, Any]) -> list[str]:
    """The vocabulary's cross-reference problems, read from its raw (not yet valid) data."""
    from types import SimpleNamespace

    def items(kind: str) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(
                id=d.get("id"),
                class_id=d.get("class"),
                components=tuple(d.get("components") or ()),
                contexts=tuple(d.get("contexts") or ()),
                parent=d.get("parent"),
            )
            for d in data.get(kind) or []
            if isinstance(d, dict)
        ]

    raw = SimpleNamespace(**{kind: items(kind) for kind in ("classes", "interventions", "conditions", "contexts")})
    try:
        Vocabulary._check_references(raw)  # type: ignore[operator]
    except (ValueError, TypeError) as exc:
        return str(exc).split("; ")
    return []


def check_pack(folder: Path) -> list[Problem]:
    """Every problem in the pack at ``folder`` (empty: it is fine), files in order.

    Each file is validated against its model with every error kept; when ``topic.yaml`` and
    ``vocabulary.yaml`` are both valid, their cross-references, the curated records and the
    review decisions are checked too.
    """
    if not (folder / "topic.yaml").is_file() and not folder.is_dir():
        return [Problem(str(folder), "", "is not a folder", "the path of a pack folder (one holding topic.yaml)")]
    problems: list[Problem] = []
    loaded: dict[str, Any] = {}
    for file, model, required, _what in PACK_FILES:
        value, found = _validate(folder, file, model, required)
        loaded[file] = value
        problems += found
    spec, vocabulary = loaded["topic.yaml"], loaded["vocabulary.yaml"]
    if isinstance(spec, TopicSpec) and isinstance(vocabulary, Vocabulary):
        problems += _cross_check(folder, spec, vocabulary, curated_ok=loaded["curated.yaml"] is not None)
    return problems


def _cross_check(folder: Path, spec: TopicSpec, vocabulary: Vocabulary, *, curated_ok: bool) -> list[Problem]:
    problems: list[Problem] = []
    conditions = {c.id for c in vocabulary.conditions}
    contexts = {c.id for c in vocabulary.contexts}
    if spec.condition not in conditions:
        problems.append(
            Problem(
                "topic.yaml",
                "condition",
                f"{spec.condition!r} is not a condition in vocabulary.yaml",
                f"one of {', '.join(sorted(conditions)) or '(none yet: add one under conditions in vocabulary.yaml)'}",
            )
        )
    for condition, labels in spec.condition_labels.items():
        if condition not in conditions:
            problems.append(
                Problem(
                    "topic.yaml",
                    f"condition_labels.{condition}",
                    "names no condition of the vocabulary",
                    "a condition id",
                )
            )
            continue
        for context in sorted(set(labels.contexts) - contexts):
            problems.append(
                Problem(
                    "topic.yaml",
                    f"condition_labels.{condition}.contexts.{context}",
                    "names no context of the vocabulary",
                    "a context id from vocabulary.yaml",
                )
            )
        try:
            _check_precedence(folder / "topic.yaml", vocabulary, condition, labels)
        except KBError as exc:
            detail = str(exc).split("precedence: ", 1)[-1]
            problems.append(
                Problem("topic.yaml", f"condition_labels.{condition}.precedence", detail, "contexts of the condition")
            )
    if not problems and curated_ok and (folder / "curated.yaml").is_file():
        from ingest.curated import load_curated

        try:
            load_curated(TopicPack(spec=spec, vocabulary=vocabulary, path=folder))
        except IngestError as exc:
            detail = str(exc).split(": ", 1)[-1]
            problems += [
                Problem("curated.yaml", "", part, "ids and terms the file and vocabulary define")
                for part in detail.split("; ")
            ]
    return problems


_TOPIC = """\
# Topic pack {name}: written by `kb topic new`. Every field is described on the site's
# "Topic pack reference" page; `kb topic check {folder}` lists what is wrong, all at once.
id: {name}                        # lower-case letters, digits and hyphens; the pack's name
title: {title} — treatment evidence   # the site's name and every page's title
question: >-                       # the clinical question, shown on the home page
  What treatments have been tried for {title_lower}, in how many patients, with what
  response, and at what level of evidence?
description: >-                    # a paragraph on the scope of the topic (required)
  Replace with a paragraph describing {title_lower}: who has it, what is tried, and
  what the evidence looks like.
condition: {name}                  # id of the main condition, defined in vocabulary.yaml
seeds: []                          # PMIDs of key articles, e.g. ["38535057"]
queries: []                        # saved PubMed searches that kb refresh re-runs, e.g.
#  - name: {name}-therapy           #   a stable name (watermarks are kept per name)
#    term: '"{title_lower}"[tiab] AND (therapy[sh] OR treatment[tiab])'
#    since: "2000/01/01"
expansion:                         # how far to follow citations from seeds and results
  refs_depth: 1                    # references of each article (0-3)
  cited_by_depth: 1                # papers citing each article (0-3)
# condition_labels:                # optional: labels of exported findings, per condition
#   {name}:
#     default: {title_lower} (other/unspecified)     # mixed or unnamed contexts
#     contexts: {{}}                 # context id -> label
#     precedence: []               # context ids ranked for articles naming several
"""

_VOCABULARY = """\
# Vocabulary of topic pack {name}: the conditions the topic asks about and the diseases
# they occur in. Interventions are recognised from resources shared by every topic: list
# them here only to override or add one (kinds: drug, procedure, combination, class —
# a class named as a treatment, e.g. "bisphosphonates" — or unmapped).
conditions:
  - id: {name}
    name: {title_lower}
    synonyms: []                   # other names, matched case-insensitively
    abbreviations: []              # matched case-sensitively, e.g. [SSc]
    ambiguous_abbreviations: []    # abbreviations with other meanings (used only where defined)
    # mesh: D000000                # MeSH descriptor UI, when known with certainty
    contexts: []                   # ids of the contexts below, e.g. [systemic-sclerosis]
contexts: []
#  - id: systemic-sclerosis         # an id another pack uses names the same disease there
#    name: systemic sclerosis
#    abbreviations: [SSc]
#    parent: connective-tissue-disease   # a broader context defined here too
"""

_CURATED = """\
# Curated records of topic pack {name}: articles and findings checked by a person. No
# abstract text: each finding has a one-line summary in the curator's own words. See
# kb/topics/calcinosis/curated.yaml for a full example.
articles: []
findings: []
"""


def new_pack(name: str, folder: Path) -> Path:
    """Write a commented skeleton pack ``folder/name``; it passes :func:`check_pack` as written.

    Raises:
        IngestError: ``name`` is not a pack name, or the folder exists already or cannot be written.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise IngestError(f"{name!r} is not a pack name: use lower-case letters, digits and hyphens (e.g. morphea)")
    target = folder / name
    if target.exists():
        raise IngestError(f"{target} exists already: choose another NAME or --dir")
    title = name.replace("-", " ")
    values = {"name": name, "title": title[:1].upper() + title[1:], "title_lower": title, "folder": target}
    try:
        target.mkdir(parents=True)
        (target / "topic.yaml").write_text(_TOPIC.format(**values), encoding="utf-8")
        (target / "vocabulary.yaml").write_text(_VOCABULARY.format(**values), encoding="utf-8")
        (target / "curated.yaml").write_text(_CURATED.format(**values), encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot write {target}: {exc.strerror}") from exc
    return target
