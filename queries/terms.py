"""From the words a user types to the KB's ids: names, synonyms, brand names, abbreviations.

Every query resolves its arguments here, so ``"SSc"``, ``"scleroderma"`` and
``"systemic-sclerosis"`` all name the same disease context and ``"Cardizem"`` names
diltiazem. An unknown term raises :class:`~kb.errors.VocabularyError` naming the closest
known ones (``'diltiazm'``: did you mean ``'diltiazem'``?).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine, text

from kb.aggregate import Scope
from kb.db import as_list
from kb.errors import KBError, VocabularyError
from kb.vocabulary import normalise_term

UNSPECIFIED = "unspecified"
"""Pass as ``context`` to select findings whose disease context is mixed or unspecified."""

_TABLES = {
    "intervention": "intervention",
    "intervention class": "intervention_class",
    "condition": "condition",
    "disease context": "disease_context",
}


#: Known names listed in an "unknown term" message up to this many (a drug dictionary has thousands).
_LIST_KNOWN = 40


def _names(engine: Engine, label: str) -> dict[str, tuple[str, str]]:
    """Every folded id, name and synonym of a vocabulary table → (id, display name)."""
    table = _TABLES[label]
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, name, synonyms FROM {table}")).all()  # noqa: S608 (fixed names)
    names: dict[str, tuple[str, str]] = {}
    for row in sorted(rows, key=lambda r: str(r.id)):
        for name in (row.id, row.name, *as_list(row.synonyms)):
            names.setdefault(normalise_term(str(name)), (str(row.id), str(row.name)))
    return names


def _check_term(label: str, term: object) -> str:
    if not isinstance(term, str) or not term.strip():
        example = {"condition": "'calcinosis'", "disease context": "'systemic sclerosis' or 'SSc'"}.get(
            label, "'diltiazem'"
        )
        raise ValueError(f"a {label} is a name, id or synonym such as {example}; got {term!r}")
    return term


def _unknown(label: str, term: str, names: Mapping[str, tuple[str, str]]) -> VocabularyError:
    """The error for an unknown term: the closest known names first, then (if few) all of them."""
    close = difflib.get_close_matches(normalise_term(term), list(names), n=6, cutoff=0.75)
    suggested = list(dict.fromkeys(names[c][1] for c in close))[:3]
    message = f"unknown {label} {term!r}"
    if suggested:
        message += f"; did you mean {' or '.join(repr(s) for s in suggested)}?"
    display = sorted({name for _, name in names.values()})
    if len(display) <= _LIST_KNOWN:
        message += f"; known: {', '.join(display)}"
    else:
        message += f" ({len(display)} are known: see queries.catalog or the site's pages)"
    return VocabularyError(message)


def resolve(engine: Engine, label: str, term: str) -> str:
    """The id of the ``label`` (intervention, intervention class, condition, disease context) ``term`` names.

    Raises:
        ValueError: ``term`` is not a non-empty string.
        VocabularyError: no entry answers to ``term``; the message suggests the closest known
            names (``'diltiazm'``: did you mean ``'diltiazem'``?).
    """
    _check_term(label, term)
    names = _names(engine, label)
    found = names.get(normalise_term(term))
    if found is None:
        raise _unknown(label, term, names)
    return found[0]


@dataclass(frozen=True, slots=True)
class InterventionTerm:
    """What an intervention term covers.

    Attributes:
        level: ``class`` when the term names a class (or a class-level intervention such as
            "bisphosphonates"), else ``intervention``.
        id: the class id or the intervention id.
        via: every intervention id the term brings findings from, with why: ``self``,
            ``class member`` or ``combination`` (a combination containing one of them).
    """

    level: Literal["intervention", "class"]
    id: str
    via: dict[str, str] = field(default_factory=dict)


def resolve_intervention(engine: Engine, term: str) -> InterventionTerm:
    """Resolve a drug, procedure, combination or class name.

    A class brings its members (including the intervention that names only the class);
    either brings the combinations containing them.

    Raises:
        VocabularyError: the term names neither an intervention nor a class.
    """
    with engine.connect() as connection:
        interventions = {
            r.id: (r.kind, r.class_id) for r in connection.execute(text("SELECT id, kind, class_id FROM intervention"))
        }
        components = connection.execute(text("SELECT combination_id, component_id FROM intervention_component")).all()
    _check_term("intervention", term)
    try:
        found: str | None = resolve(engine, "intervention", term)
        kind, class_id = interventions[str(found)]
        if kind != "class":
            class_id = None
    except VocabularyError:
        try:
            class_id = resolve(engine, "intervention class", term)
        except VocabularyError:
            names = {**_names(engine, "intervention class"), **_names(engine, "intervention")}
            raise _unknown("intervention or class", term, names) from None
        found = None
    via = intervention_via(interventions, [(c.combination_id, c.component_id) for c in components], found, class_id)
    if class_id is not None:
        return InterventionTerm("class", class_id, via)
    return InterventionTerm("intervention", str(found), via)


def intervention_via(
    interventions: Mapping[str, tuple[str, str | None]],
    components: Iterable[tuple[str, str]],
    found: str | None,
    class_id: str | None,
) -> dict[str, str]:
    """Which interventions a term covers and why (``self``, ``class member``, ``combination``).

    Args:
        interventions: every intervention id with its (kind, class id).
        components: (combination id, component id) pairs.
        found: the intervention the term names, if it names one.
        class_id: the class the term names (or the class an intervention of kind ``class`` names).
    """
    via: dict[str, str] = {}
    if class_id is not None:
        via |= {i: "class member" for i, (_, c) in sorted(interventions.items()) if c == class_id}
    if found is not None:
        via[found] = "self"
    for combination, component in sorted(components):
        if component in via:
            via.setdefault(combination, "combination")
    return via


def resolve_scope(
    engine: Engine,
    condition: str | None = None,
    context: str | None = None,
    intervention_ids: tuple[str, ...] | None = None,
) -> Scope:
    """The findings scope for a condition and a context (or :data:`UNSPECIFIED`), as typed.

    Raises:
        ValueError: the condition or the context is given but is not a string.
        VocabularyError: the condition or the context is not in the vocabulary.
    """
    condition_id = resolve(engine, "condition", condition) if condition is not None else None
    if context is not None and normalise_term(_check_term("disease context", context)) == UNSPECIFIED:
        return Scope(condition_id, unspecified_context=True, intervention_ids=intervention_ids)
    context_id = resolve(engine, "disease context", context) if context is not None else None
    return Scope(condition_id, context_id, intervention_ids=intervention_ids)


def resolve_article(engine: Engine, term: str) -> str:
    """The CURIE of an article given as a CURIE, a PMID or a DOI (with or without ``doi:``).

    Articles known only as the target of a citation resolve too.

    Raises:
        KBError: neither the KB's articles nor its citations know the article.
    """
    value = term.strip()
    candidates = [value]
    if value.isdigit():
        candidates.append(f"pubmed:{value}")
    if value.startswith("10."):
        candidates.append(f"doi:{value}")
    with engine.connect() as connection:
        for candidate in candidates:
            found = connection.execute(
                text(
                    "SELECT id FROM article WHERE id = :c OR doi = :c OR pmid = :c "
                    "UNION SELECT cited_id FROM citation WHERE cited_id = :c "
                    "UNION SELECT citing_id FROM citation WHERE citing_id = :c"
                ),
                {"c": candidate},
            ).first()
            if found is not None:
                return str(found[0])
    raise KBError(f"no article {term!r} in the KB (give a CURIE such as pubmed:123, a PMID or a DOI)")
