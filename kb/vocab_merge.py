"""Several topics in one KB: how the shared vocabulary rows are made from every source's entries.

A vocabulary id (``systemic-sclerosis``) may be defined by several topic packs, and by the
general resources the extractors draw on. Each source's own entry is kept
(:class:`kb.models.TopicVocabulary`), and the row the KB serves is their **merge**, the same
whatever order the packs were loaded in:

- ``synonyms`` are the union of every source's synonyms (first spelling kept, case-folded
  duplicates dropped), so no topic loses a name it answers to (``CREST`` stays a synonym of
  systemic sclerosis when a pack that does not list it is loaded);
- every other field (name, MeSH, ATC, class, parent, kind, description) takes the first value
  given, sources ranked by topic id, topic packs before the general resources; a source
  leaving a field empty never erases another's value.

So a pack can add to what another topic defined but never overwrite it, and loading a pack a
second time, or another pack in between, yields the same rows. Two packs giving different
values for one field is reported (:func:`merge_entries` returns the disagreements) so that a
curator can align them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

GENERAL = ""
"""The source id of entries from the general resources (not from a topic pack)."""


def source_rank(topic_id: str) -> tuple[bool, str]:
    """Sort key of a source: topic packs by id, then the general resources."""
    return (topic_id == GENERAL, topic_id)


def merge_entries(entries: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[dict[str, Any], list[str]]:
    """Merge one id's entries, given as (source topic id, fields) pairs, into the fields of its row.

    Returns:
        The merged fields, and one line per field on which two topic packs disagree (the
        general resources' values never count as a disagreement: a pack may override them).
    """
    ranked = sorted(entries, key=lambda e: source_rank(e[0]))
    merged: dict[str, Any] = {}
    chosen_from: dict[str, str] = {}
    disagreements: list[str] = []
    for source, fields in ranked:
        for name, value in fields.items():
            if name == "synonyms":
                merged["synonyms"] = _union(merged.get("synonyms", []), value or [])
                continue
            if value is None or value == "":
                merged.setdefault(name, None)
                continue
            if merged.get(name) is None:
                merged[name] = value
                chosen_from[name] = source
            elif merged[name] != value and source != GENERAL:
                disagreements.append(
                    f"{name}: {source!r} says {value!r}, {chosen_from[name]!r} says {merged[name]!r} (kept)"
                )
    return merged, disagreements


def _union(first: list[str], more: Iterable[str]) -> list[str]:
    seen = {s.casefold() for s in first}
    out = list(first)
    for term in more:
        if term.casefold() not in seen:
            seen.add(term.casefold())
            out.append(term)
    return out
