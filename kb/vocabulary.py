"""Controlled vocabularies: interventions, their classes, conditions and disease contexts.

A topic pack ships its vocabulary as ``vocabulary.yaml``; :func:`load_vocabulary` validates it
into frozen pydantic models and checks every cross-reference (an intervention's class, a
combination's components, a condition's contexts), so a typo fails loudly at load time
instead of silently producing an orphan row.

Lookups (:meth:`Vocabulary.resolve_intervention` and friends) accept an id, a name, a
synonym, a brand name or an abbreviation, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kb.errors import KBError, VocabularyError

InterventionKind = Literal["drug", "procedure", "combination", "class", "unmapped"]

_SLUG = r"^[a-z0-9][a-z0-9-]*$"


def normalise_term(text: str) -> str:
    """Fold a term for lookup: lower case, single spaces, no surrounding punctuation."""
    return re.sub(r"\s+", " ", text.strip().strip(".,;:").lower())


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(pattern=_SLUG, description="Stable identifier (lower-case slug).")
    name: str = Field(min_length=1, description="Preferred display name.")
    synonyms: tuple[str, ...] = Field(default=(), description="Other names, matched case-insensitively.")
    abbreviations: tuple[str, ...] = Field(
        default=(),
        description="Abbreviations (STS, SSc, …); matched case-sensitively by extractors.",
    )
    ambiguous_abbreviations: tuple[str, ...] = Field(
        default=(),
        description="Abbreviations with other common meanings (DM is also diabetes mellitus); "
        "extractors use them only where the text defines them.",
    )
    mesh: str | None = Field(default=None, pattern=r"^D\d{6}$", description="MeSH descriptor UI.")
    description: str | None = Field(default=None, description="One line shown on the site.")

    def terms(self) -> tuple[str, ...]:
        """Every name this entry answers to: id, name, synonyms and abbreviations."""
        return (self.id, self.name, *self.synonyms, *self.abbreviations, *self.ambiguous_abbreviations)


class InterventionClassSpec(_Spec):
    """A pharmacological or procedural class, e.g. *calcium channel blocker*."""

    atc: str | None = Field(default=None, description="ATC code of the class, where one exists.")


class InterventionSpec(_Spec):
    """A drug, a procedure, a combination of either, or a class named as such."""

    kind: InterventionKind = Field(
        description="drug, procedure, combination, class (a class named as a treatment), or unmapped "
        "(a treatment as written that no resource could normalise)."
    )
    class_id: str | None = Field(default=None, alias="class", description="Id of the intervention's class.")
    components: tuple[str, ...] = Field(default=(), description="Component intervention ids of a combination.")
    atc: str | None = Field(default=None, description="ATC code, where one exists.")
    brands: tuple[str, ...] = Field(default=(), description="Brand names.")

    @model_validator(mode="after")
    def _combination_has_components(self) -> InterventionSpec:
        if self.kind == "combination" and len(self.components) < 2:
            raise ValueError(f"combination {self.id!r} needs at least two components")
        if self.kind != "combination" and self.components:
            raise ValueError(f"{self.id!r} is a {self.kind}, only combinations have components")
        if self.kind == "class" and not self.class_id:
            raise ValueError(f"class-level intervention {self.id!r} must name its class")
        return self

    def terms(self) -> tuple[str, ...]:
        return (*super().terms(), *self.brands)


class ContextSpec(_Spec):
    """A disease context in which a condition occurs, e.g. *systemic sclerosis*."""

    parent: str | None = Field(
        default=None, description="A broader context (juvenile dermatomyositis → dermatomyositis)."
    )


class ConditionSpec(_Spec):
    """A condition being treated, e.g. *calcinosis*, with the contexts it is reported in."""

    contexts: tuple[str, ...] = Field(
        default=(), description="Ids of the disease contexts this condition is reported in."
    )


class Vocabulary(BaseModel):
    """A topic's controlled vocabulary, validated and cross-checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classes: tuple[InterventionClassSpec, ...] = Field(
        default=(), description="Intervention classes the topic names (most come from the shared resources)."
    )
    interventions: tuple[InterventionSpec, ...] = Field(
        default=(), description="Interventions that override or add to the shared resources (usually none)."
    )
    conditions: tuple[ConditionSpec, ...] = Field(
        default=(), description="The conditions the topic is about; topic.yaml's condition is one of them."
    )
    contexts: tuple[ContextSpec, ...] = Field(
        default=(), description="The diseases the conditions occur in; each gets a page per condition."
    )
    mappings: dict[str, str] = Field(
        default_factory=dict,
        description="Treatments as written, each mapped to the id of the intervention it means "
        "(one of the topic's or a general one); `kb vocab map` records them.",
    )

    @model_validator(mode="after")
    def _check_references(self) -> Vocabulary:
        problems: list[str] = []
        for label, items in (
            ("class", self.classes),
            ("intervention", self.interventions),
            ("condition", self.conditions),
            ("context", self.contexts),
        ):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    problems.append(f"{label} id {item.id!r} is defined twice")
                seen.add(item.id)
        class_ids = {c.id for c in self.classes}
        intervention_ids = {i.id for i in self.interventions}
        context_ids = {c.id for c in self.contexts}
        for i in self.interventions:
            if i.class_id and i.class_id not in class_ids:
                problems.append(f"intervention {i.id!r} names unknown class {i.class_id!r}")
            for comp in i.components:
                if comp not in intervention_ids:
                    problems.append(f"combination {i.id!r} names unknown component {comp!r}")
        for cond in self.conditions:
            for context_id in cond.contexts:
                if context_id not in context_ids:
                    problems.append(f"condition {cond.id!r} names unknown context {context_id!r}")
        for ctx in self.contexts:
            if ctx.parent and ctx.parent not in context_ids:
                problems.append(f"context {ctx.id!r} names unknown parent {ctx.parent!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- lookups -------------------------------------------------------------------------

    def _index(self, items: Iterable[_Spec]) -> dict[str, str]:
        index: dict[str, str] = {}
        for item in items:
            for term in item.terms():
                index.setdefault(normalise_term(term), item.id)
        return index

    def resolve_intervention(self, term: str) -> str:
        """Return the id of the intervention called ``term``.

        Raises:
            VocabularyError: no intervention answers to ``term``.
        """
        return self._resolve("intervention", self._index(self.interventions), term)

    def resolve_class(self, term: str) -> str:
        """Return the id of the intervention class called ``term``."""
        return self._resolve("intervention class", self._index(self.classes), term)

    def resolve_condition(self, term: str) -> str:
        """Return the id of the condition called ``term``."""
        return self._resolve("condition", self._index(self.conditions), term)

    def resolve_context(self, term: str) -> str:
        """Return the id of the disease context called ``term``."""
        return self._resolve("disease context", self._index(self.contexts), term)

    @staticmethod
    def _resolve(label: str, index: dict[str, str], term: str) -> str:
        key = normalise_term(term)
        if key not in index:
            known = ", ".join(sorted(set(index.values())))
            raise VocabularyError(f"unknown {label} {term!r}; known: {known}")
        return index[key]


def add_mapping(path: Path, term: str, intervention_id: str) -> Path:
    """Record in a ``vocabulary.yaml`` that ``term`` means ``intervention_id``; comments are kept.

    Raises:
        KBError: the file cannot be read or written, or ``term`` is empty.
    """
    if not term.strip():
        raise KBError("the term to map is empty")
    data = _read_yaml(path)
    mappings = dict((data or {}).get("mappings") or {}) if isinstance(data, dict) else {}
    mappings[term.strip()] = intervention_id
    text = path.read_text(encoding="utf-8")
    block = yaml.safe_dump({"mappings": mappings}, allow_unicode=True, sort_keys=True)
    start = re.search(r"(?m)^mappings:.*\n(?:(?:[ \t]+.*|)\n)*", text)
    text = text[: start.start()] + block + text[start.end() :] if start else text.rstrip("\n") + "\n\n" + block
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise KBError(f"cannot write {path}: {exc.strerror}") from exc
    return path


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and validate a ``vocabulary.yaml``.

    Raises:
        KBError: the file is missing, is not YAML, or does not validate; the message names
            the file and every problem found.
    """
    data = _read_yaml(path)
    try:
        return Vocabulary.model_validate(data)
    except ValidationError as exc:
        raise KBError(f"{path}: invalid vocabulary:\n{exc}") from exc


#: libyaml's safe loader where PyYAML was built with it: the same documents, several times faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's loader where PyYAML has it (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KBError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return safe_load_yaml(text)
    except yaml.YAMLError as exc:
        raise KBError(f"{path}: not valid YAML: {exc}") from exc
