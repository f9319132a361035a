"""The topic pack's schema, as documentation: every field of every file, required or not, its
type, what it means and an example (``kb topic reference`` writes the site's *Topic packs*
page; a test keeps the committed page in step with the models).

Examples are read from the bundled packs (the first value any of them gives the field), so
they are real; a field no bundled pack uses takes the example given here.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ingest.curated import CuratedFile
from ingest.review import Reviews
from kb.topic import TopicSpec, bundled_topics, load_topic
from kb.vocabulary import Vocabulary, _read_yaml

#: Each file of a pack, its model, and whether a pack must have it.
PACK_FILES: tuple[tuple[str, type[BaseModel], bool, str], ...] = (
    ("topic.yaml", TopicSpec, True, "The question the topic asks, where its literature comes from, and its labels."),
    (
        "vocabulary.yaml",
        Vocabulary,
        True,
        "The topic's conditions and disease contexts (and, optionally, interventions and classes that "
        "override or add to the shared resources).",
    ),
    (
        "curated.yaml",
        CuratedFile,
        False,
        "Articles and findings written by a curator. No abstract text: each finding has a summary in the "
        "curator's own words.",
    ),
    (
        "reviews.yaml",
        Reviews,
        False,
        "Decisions on machine findings, written by `kb review` and `kb review apply`; not edited by hand.",
    ),
)

# Examples for fields no bundled pack uses.
_FALLBACK_EXAMPLES: dict[str, str] = {
    "vocabulary.yaml: mappings": "{'calcium gluconate cream': 'calcium-gluconate'}",
    "vocabulary.yaml: interventions[].components": "[diltiazem, pamidronate]",
    "vocabulary.yaml: interventions[].brands": "[Cardizem]",
    "curated.yaml: articles[].pmcid": "PMC1234567",
}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (directly, in a tuple or a dict, or optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def type_name(annotation: Any) -> str:
    """A field's type as a pack author reads it."""
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if origin is tuple:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (fields below)"
    names = {str: "text", int: "whole number", float: "number", bool: "true or false"}
    if isinstance(annotation, type):
        return names.get(annotation, annotation.__name__)
    return str(annotation).replace("typing.", "")


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, FieldInfo] | None:
    """The field a validation error's location points at (list indexes and dict keys skipped)."""
    found: tuple[str, FieldInfo] | None = None
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            break
        if not isinstance(part, str):
            continue
        fields = {_key(n, f): (n, f) for n, f in current.model_fields.items()}
        if part not in fields:
            if found is not None and get_origin(found[1].annotation) is dict:
                continue  # a key of a mapping, e.g. condition_labels.<condition id>
            return found
        name, info = fields[part]
        found = (name, info)
        current = _model_of(info.annotation)
    return found


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, FieldInfo, type[BaseModel] | None]]:
    for name, info in model.model_fields.items():
        path = f"{prefix}{_key(name, info)}"
        inner = _model_of(info.annotation)
        yield path, name, info, inner
        if inner is not None:
            container = get_origin(info.annotation)
            if container is tuple:
                suffix = "[]."
            elif container is dict or (get_args(info.annotation) and get_origin(get_args(info.annotation)[0]) is dict):
                suffix = ".<id>."
            else:
                suffix = "."
            yield from _walk(inner, path + suffix)


def _values(data: Any, path: str) -> Iterator[Any]:
    """Every value at a documented path (``queries[].since``) in a parsed YAML document."""
    parts = path.replace("[]", ".[]").replace("<id>", "*").split(".")
    current = [data]
    for part in parts:
        nxt: list[Any] = []
        for value in current:
            if part == "[]" and isinstance(value, list):
                nxt += value
            elif part == "*" and isinstance(value, dict):
                nxt += list(value.values())
            elif isinstance(value, dict) and part in value:
                nxt.append(value[part])
        current = nxt
    yield from current


@functools.cache
def _bundled_documents(file: str) -> tuple[Any, ...]:
    """The bundled packs' ``file``, parsed, in pack order."""
    documents = []
    for name in bundled_topics():
        document = load_topic(name).path / file
        if document.is_file():
            documents.append(_read_yaml(document))
    return tuple(documents)


def _example(file: str, path: str) -> str:
    for data in _bundled_documents(file):
        for value in _values(data, path):
            if value not in (None, "", [], {}):
                shown = str(value) if not isinstance(value, str) else value
                return shown if len(shown) <= 70 else shown[:67] + "…"
    return _FALLBACK_EXAMPLES.get(f"{file}: {path}", "")


def hint(file: str, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What to write at ``loc``: the field's meaning, type and an example."""
    found = field_at(model, loc)
    if found is None:
        fields = ", ".join(_key(n, f) for n, f in model.model_fields.items())
        return f"one of the fields allowed here: {fields}"
    _name, info = found
    example = _example(file, ".".join(str(p) if isinstance(p, str) else "[]" for p in loc).replace(".[]", "[]"))
    meaning = (info.description or "a value").rstrip(".")
    return f"{meaning} ({type_name(info.annotation)})" + (f", e.g. {example}" if example else "")


def render_reference() -> str:
    """The *Topic packs* reference page, in Markdown."""
    out = [
        "# Topic pack reference",
        "",
        "<!-- Generated by `kb topic reference` from the pack models; do not edit by hand. -->",
        "",
        "A topic pack is a folder. `kb topic new NAME` writes a commented skeleton, `kb topic check PATH`",
        "lists every problem in it at once, and `kb build --topic NAME` builds it. Packs are found by",
        "name in the bundled packs and in the folders of `KB_TOPICS_PATH`; `kb topics` lists both.",
        "Examples come from the bundled packs.",
        "",
    ]
    for file, model, required, what in PACK_FILES:
        out += [f"## `{file}`", "", f"{'Required.' if required else 'Optional.'} {what}", ""]
        out += ["| field | required | type | meaning | example |", "|---|---|---|---|---|"]
        for path, _name, info, inner in _walk(model, ""):
            example = "" if inner is not None else _example(file, path).replace("|", "\\|").replace("\n", " ")
            meaning = (info.description or "").replace("|", "\\|").replace("\n", " ")
            kind = type_name(info.annotation).replace("|", "\\|")
            out.append(
                f"| `{path}` | {'yes' if info.is_required() else 'no'} | {kind} | {meaning} | "
                f"{f'`{example}`' if example else ''} |"
            )
        out.append("")
    return "\n".join(out)


def write_reference(path: Path) -> Path:
    """Write :func:`render_reference` to ``path``."""
    path.write_text(render_reference(), encoding="utf-8")
    return path
