"""General intervention knowledge shared by every topic: a drug dictionary and a project table.

A topic pack says which conditions it asks about; it need not say which treatments exist.
Interventions come from:

* the drug dictionary of ``drug-named-entity-recognition`` (about 12,600 drugs with a DrugBank
  or MedlinePlus entry, with synonyms and brand names). Its MeSH-only entries are chemical
  families, proteins and enzymes (``Thiosulfates``, ``Interleukin-17``), not drugs, and are left
  out; its MeSH ids are often a pharmacological action rather than the drug, so none is used;
* ``data/interventions.yaml``, written by the project: drug classes with ATC codes and their
  members (by name or by international nonproprietary-name stem: ``-dronate`` is a
  bisphosphonate), procedures and devices, routes, and terms the dictionary tags as drugs
  that are markers or materials (autoantibodies, calcium phosphate);
* the topic's own vocabulary, whose entries override these (preferred names, synonyms).

Every row of the project table carries ``from``: ``general``, or the development topic whose
reading motivated it. :func:`general_knowledge` can leave out the rows of given topics, so a
leave-one-topic-out fold measures the held-out topic without what it taught.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle  # the drug dictionary ships as a pickle inside its own package
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ingest.errors import IngestError
from kb.vocabulary import InterventionClassSpec, InterventionSpec, Vocabulary, safe_load_yaml

TABLE = Path(__file__).parent / "data" / "interventions.yaml"
GENERAL = "general"
UNMAPPED_PREFIX = "unmapped-"
ROUTE_SEPARATOR = "--"
_DICTIONARY_PACKAGE = "drug_named_entity_recognition"
_DICTIONARY_FILE = "drug_ner_dictionary.pkl.bz2"
#: Dictionary variants shorter than this are abbreviations ("actd") that collide with words and
#: other abbreviations; they count only where an abstract defines them.
_SHORTEST_VARIANT = 5
_WORD = re.compile(r"[^\W_]+")


def split_route(intervention_id: str) -> tuple[str, str | None]:
    """An intervention id and its route: ``infliximab--intralesional`` → (``infliximab``,
    ``intralesional``); an id without a route gives (the id, None)."""
    base, _, route = intervention_id.partition(ROUTE_SEPARATOR)
    return base, route or None


def slug(text: str) -> str:
    """A vocabulary id for a name: lower-case ASCII letters and digits joined by hyphens."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+", folded))


@dataclass(frozen=True, slots=True)
class DrugEntry:
    """One drug of the dictionary."""

    name: str  # lower-case preferred name
    drugbank: str | None
    variants: tuple[str, ...]  # lower-case synonyms and brand names


def _dictionary_path() -> Path:
    # Located without importing the package: its import builds a fuzzy-match index we do not use.
    spec = importlib.util.find_spec(_DICTIONARY_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise IngestError("the drug dictionary is missing: install the project's dependencies (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / _DICTIONARY_FILE


@lru_cache(maxsize=1)
def read_drug_dictionary() -> tuple[DrugEntry, ...]:
    """The drugs of ``drug-named-entity-recognition``'s dictionary (read once per process).

    Raises:
        IngestError: the dictionary file is missing or unreadable.
    """
    path = _dictionary_path()
    try:
        with bz2.open(path, "rb") as handle:
            data: dict[str, Any] = pickle.load(handle)  # noqa: S301 (a file of an installed package)
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise IngestError(f"cannot read the drug dictionary {path}: {exc}") from exc
    canonical: dict[str, dict[str, Any]] = data["drug_canonical_to_data"]
    variants: dict[str, list[str]] = {}
    for variant, names in data["drug_variant_to_canonical"].items():
        for name in names:
            variants.setdefault(name, []).append(variant)
    out = []
    for key, info in canonical.items():
        if not (info.get("drugbank_id") or info.get("medline_plus_id")):
            continue  # a MeSH chemical family, protein or enzyme, not a drug
        name = str(info.get("name") or key).lower()
        if "," in name or "/" in name:
            continue  # inverted MeSH headings and fixed-dose products ("a/b") are not single drugs
        names = sorted({v for v in variants.get(key, []) if _usable_variant(v)} - {name})
        out.append(DrugEntry(name=name, drugbank=info.get("drugbank_id"), variants=tuple(names)))
    return tuple(sorted(out, key=lambda d: d.name))


def _usable_variant(variant: str) -> bool:
    if len(variant) < _SHORTEST_VARIANT or not re.search(r"[a-z]{3}", variant):
        return False
    return not re.search(r"[,;'\"/()\[\]]", variant)


@dataclass(frozen=True, slots=True)
class GeneralKnowledge:
    """Interventions, routes and non-treatment terms shared by every topic."""

    vocabulary: Vocabulary
    not_treatments: tuple[str, ...]
    routes: dict[str, str]  # a route word as written (lower case) → its label
    local_routes: frozenset[str]
    always_routes: frozenset[str]
    routes_by_drug: dict[str, frozenset[str]]
    inn_stems: tuple[str, ...]
    excluded_topics: frozenset[str]

    def route_distinguishes(self, intervention_id: str, route: str) -> bool:
        """Whether ``route`` makes a distinct intervention of ``intervention_id`` (see the table)."""
        return (
            route in self.local_routes
            or route in self.always_routes
            or route in self.routes_by_drug.get(intervention_id, frozenset())
        )


def _read_table() -> dict[str, Any]:
    try:
        data = safe_load_yaml(TABLE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise IngestError(f"cannot read the intervention table {TABLE}: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(f"{TABLE}: expected a mapping at the top level")
    return data


def _kept(rows: Iterable[dict[str, Any]], excluded: frozenset[str]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        origin = row.get("from")
        if not origin:
            raise IngestError(f"{TABLE}: every row needs 'from' (general or a topic id): {row}")
        if origin not in excluded:
            out.append(row)
    return out


@lru_cache(maxsize=8)
def general_knowledge(excluded_topics: frozenset[str] = frozenset()) -> GeneralKnowledge:
    """The shared interventions, without the table rows that ``excluded_topics`` taught.

    Raises:
        IngestError: the table or the dictionary cannot be read, or the table is invalid.
    """
    table = _read_table()
    classes = _kept(table.get("classes", ()), excluded_topics)
    class_specs = []
    interventions: dict[str, InterventionSpec] = {}
    member_class: dict[str, str] = {}
    stems: list[tuple[str, str]] = []
    prefixes: list[tuple[str, str]] = []
    for row in classes:
        class_specs.append(
            InterventionClassSpec(
                id=row["id"],
                name=row["name"],
                synonyms=tuple(row.get("synonyms", ())),
                abbreviations=tuple(row.get("abbreviations", ())),
                atc=row.get("atc"),
            )
        )
        label = row.get("label", row["name"])
        interventions[slug(label)] = InterventionSpec(
            id=slug(label),
            name=label,
            kind="class",
            class_id=row["id"],  # type: ignore[call-arg]  # the field's name; its YAML alias is "class"
        )
        for member in row.get("members", ()):
            member_class.setdefault(member.lower(), row["id"])
        stems.extend((stem.lower(), row["id"]) for stem in row.get("stems", ()))
        prefixes.extend((prefix.lower(), row["id"]) for prefix in row.get("prefixes", ()))
    stems.sort(key=lambda s: -len(s[0]))
    class_ids = {c.id for c in class_specs}

    def class_of(name: str, stated: str | None = None) -> str | None:
        if stated:
            return stated if stated in class_ids else None
        if name in member_class:
            return member_class[name]
        last = name.split()[-1] if name.split() else name
        for stem, class_id in stems:
            if last.endswith(stem):
                return class_id
        for prefix, class_id in prefixes:
            if last.startswith(prefix):
                return class_id
        return None

    def add(row: dict[str, Any], kind: str) -> None:
        spec = InterventionSpec(
            id=row["id"],
            name=row["name"],
            kind=kind,  # type: ignore[arg-type]
            class_id=class_of(row["name"].lower(), row.get("class")),  # type: ignore[call-arg]
            synonyms=tuple(row.get("synonyms", ())),
            abbreviations=tuple(row.get("abbreviations", ())),
            atc=row.get("atc"),
        )
        interventions[spec.id] = spec

    for row in _kept(table.get("drugs", ()), excluded_topics):
        add(row, "drug")
    for row in _kept(table.get("procedures", ()), excluded_topics):
        add(row, "procedure")
    for row in _kept(table.get("synonyms", ()), excluded_topics):
        target, terms = row["to"], tuple(row["terms"])
        if target in class_ids:
            class_specs = [
                c.model_copy(update={"synonyms": (*c.synonyms, *terms)}) if c.id == target else c for c in class_specs
            ]
        elif target in interventions:
            spec = interventions[target]
            interventions[target] = spec.model_copy(update={"synonyms": (*spec.synonyms, *terms)})
        else:
            raise IngestError(f"{TABLE}: synonyms for unknown entry {target!r}")
    for target_class, terms in _target_names(table.get("class_targets") or {}, excluded_topics, class_ids):
        class_specs = [
            c.model_copy(update={"synonyms": (*c.synonyms, *terms)}) if c.id == target_class else c for c in class_specs
        ]
    not_treatments = tuple(
        t.lower() for row in _kept(table.get("not_treatments", ()), excluded_topics) for t in row["terms"]
    )
    blocked = set(not_treatments)
    by_name = {spec.name.lower(): spec for spec in interventions.values()}
    for drug in read_drug_dictionary():
        if drug.name in blocked:
            continue
        variants = tuple(v for v in drug.variants if v not in blocked)
        known = by_name.get(drug.name)
        if known is not None:  # the table's entry, with the dictionary's synonyms added
            extra = tuple(v for v in variants if v not in {s.lower() for s in known.synonyms})
            interventions[known.id] = known.model_copy(update={"synonyms": (*known.synonyms, *extra)})
            continue
        drug_id = slug(drug.name)
        if not drug_id or drug_id in interventions:
            continue
        # Trusted data with a well-formed id: constructed without re-validating 12,000 rows.
        interventions[drug_id] = InterventionSpec.model_construct(
            id=drug_id, name=drug.name, kind="drug", class_id=class_of(drug.name), synonyms=variants
        )
    routes: dict[str, str] = {}
    for row in _kept(table.get("routes", ()), excluded_topics):
        for term in row["terms"]:
            routes[term.lower()] = row["label"]
    distinguishes = table.get("route_distinguishes", {})
    by_drug: dict[str, frozenset[str]] = {}
    for row in _kept(distinguishes.get("by_drug", ()), excluded_topics):
        by_drug[slug(row["drug"])] = frozenset(row["routes"])
    vocabulary = Vocabulary.model_construct(classes=tuple(class_specs), interventions=tuple(interventions.values()))
    stems_row = table.get("inn_stems") or {"from": GENERAL}
    return GeneralKnowledge(
        vocabulary=vocabulary,
        not_treatments=not_treatments,
        routes=routes,
        local_routes=frozenset(distinguishes.get("local", ())),
        always_routes=frozenset(distinguishes.get("always", ())),
        routes_by_drug=by_drug,
        inn_stems=tuple(stems_row.get("stems", ())) if _kept([stems_row], excluded_topics) else (),
        excluded_topics=excluded_topics,
    )


def _target_names(
    section: dict[str, Any], excluded: frozenset[str], class_ids: set[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """The names a class is called by through its targets ("IL-17 antagonists", "anti-TNF
    agents"): each target name joined with each action word, and "anti-" before it.

    Raises:
        IngestError: a target row names an unknown class.
    """
    actions, anti = section.get("actions", ()), section.get("anti", ())
    out = []
    for row in _kept(section.get("targets", ()), excluded):
        if row["to"] not in class_ids:
            raise IngestError(f"{TABLE}: class_targets for unknown class {row['to']!r}")
        terms: list[str] = []
        for name in row["names"]:
            terms.extend(f"{name} {action}" for action in actions)
            terms.append(f"anti-{name}")
            terms.extend(f"anti-{name} {word}" for word in anti)
        out.append((row["to"], tuple(terms)))
    return out


def table_topics() -> frozenset[str]:
    """The topics named in the table's ``from`` fields (besides ``general``)."""
    table = _read_table()
    found: set[str] = set()
    for section in ("classes", "drugs", "procedures", "synonyms", "not_treatments", "routes"):
        found.update(str(row.get("from")) for row in table.get(section, ()))
    found.update(str(row.get("from")) for row in (table.get("class_targets") or {}).get("targets", ()))
    found.update(str(row.get("from")) for row in table.get("route_distinguishes", {}).get("by_drug", ()))
    return frozenset(found - {GENERAL})
