"""From the words a user types to the KB's ids: names, synonyms, brand names, abbreviations.

Every query resolves its arguments here, so ``"SSc"``, ``"scleroderma"`` and
``"systemic-sclerosis"`` all name the same disease context and ``"Cardizem"`` names
diltiazem. An unknown term raises :class:`~kb.errors.VocabularyError` listing the known ones.
"""

from __future__ import annotations

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


def resolve(engine: Engine, label: str, term: str) -> str:
    """The id of the ``label`` (intervention, intervention class, condition, disease context) ``term`` names.

    Raises:
        VocabularyError: no entry answers to ``term``.
    """
    table = _TABLES[label]
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, name, synonyms FROM {table}")).all()  # noqa: S608 (fixed names)
    key = normalise_term(term)
    for row in rows:
        if key in {normalise_term(n) for n in (row.id, row.name, *as_list(row.synonyms))}:
            return str(row.id)
    known = ", ".join(sorted(str(row.name) for row in rows))
    raise VocabularyError(f"unknown {label} {term!r}; known: {known}")


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
    try:
        found: str | None = resolve(engine, "intervention", term)
        kind, class_id = interventions[str(found)]
        if kind != "class":
            class_id = None
    except VocabularyError:
        try:
            class_id = resolve(engine, "intervention class", term)
        except VocabularyError:
            raise VocabularyError(f"unknown intervention or class {term!r}") from None
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
        VocabularyError: the condition or the context is not in the vocabulary.
    """
    condition_id = resolve(engine, "condition", condition) if condition is not None else None
    if context is not None and normalise_term(context) == UNSPECIFIED:
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
