"""The ranked extractor: every intervention an article names becomes a candidate finding, and a
model learned from the development corpora decides which ones the article reports an outcome for.

Stages, each a function of its own:

1. **read**: the rules extractor's reading of the article (sentences, mentions, condition,
   disease context, study design, counts; :func:`ingest.extractors.rules.read_article`);
2. **candidates**: the rules extractor's candidate findings, and one for every other
   intervention group the article names (its sentences' interventions, combinations joined),
   each with the sentence that best states an outcome for it;
3. **features**: what a reader weighs to decide whether the article reports that
   intervention's outcome — where and how often it is named, whether an outcome cue, a count,
   a negation or a hedge shares its sentence, whether it is framed as a cause ("induced"), a
   failed earlier treatment ("refractory to") or background, the design;
4. **score**: a logistic model (weights in ``models/ranked.json``, trained by ``kb train``
   with scikit-learn from the corpora, reproducibly) gives each candidate a probability,
   stored as the finding's confidence; candidates at or above the model's threshold are kept.

A leave-one-topic-out run (``kb eval --folds``) retrains the model without the held-out topic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ingest.extraction import counts as counting
from ingest.extraction import cues
from ingest.extraction import response as outcome
from ingest.extraction.confidence import MODELS, Model, read_model
from ingest.extraction.groups import Group, is_class_level, sentence_groups
from ingest.extraction.lexicon import Lexicon
from ingest.extraction.patterns import cue
from ingest.extraction.resources import split_route
from ingest.extraction.text import ArticleText, Sentence, section_family
from ingest.extractors import Extraction, register
from ingest.extractors import rules as _rules

NAME = "ranked"
VERSION = "1.0.0"
MODEL_PATH = MODELS / "ranked.json"

_CAUSE = cue(
    r"\b(?:induced|triggered|caused|associated\s+with\s+(?:the\s+)?(?:use|start|initiation)|after\s+starting"
    r"|paradoxical|drug[- ]induced|secondary\s+to)\b",
    re.I,
)
_BACKGROUND = cue(r"\b(?:previously|prior|history\s+of|on\s+long-term|maintained\s+on|concomitant)\b", re.I)
_COMPARATOR = cue(r"\b(?:placebo|compared\s+with|versus|vs\.?|control\s+group|comparator)\b", re.I)
_TREAT_VERB = cue(
    r"\b(?:treated|treatment|therapy|received|receiving|given|administered|started|initiated|underwent|switched)\b",
    re.I,
)


@dataclass(slots=True)
class Candidate:
    """One intervention (or combination) of one article, with what was seen about it."""

    ids: tuple[str, ...]
    condition: str
    context: str | None
    text: str = ""
    rules: _rules._Candidate | None = None  # the rules extractor's best candidate, if it made one
    sentences: list[tuple[Sentence, tuple[int, int]]] = field(default_factory=list)  # (sentence, group span)


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    """The model trained on every development topic (``kb train``, see the README).

    Raises:
        IngestError: the model file is missing or malformed.
    """
    return read_model(MODEL_PATH, "the ranked extractor's model")


# -- stage 2: candidates ------------------------------------------------------------------------


def candidates(doc: _rules._Article) -> list[Candidate]:
    """Every intervention group the article names, with the rules extractor's candidate if any."""
    lexicon = doc.lexicon
    found: dict[tuple[str, ...], Candidate] = {}

    def routed(ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(lexicon.routed(i, doc.routes.get(i)) for i in ids))

    recent: list[list[Group]] = []
    for sentence, mentions in zip(doc.sentences, doc.mentions, strict=True):
        interventions = [m for m in mentions if m.kind == "intervention"]
        groups = sentence_groups(doc, sentence, interventions)
        for c in _rules._candidates(doc, sentence, mentions, groups, recent):
            key = routed(c.group.ids)
            entry = found.setdefault(key, Candidate(key, c.condition, c.context, c.group.text))
            if entry.rules is None or c.score > entry.rules.score:
                entry.rules = c
                entry.context = c.context
        for g in groups:
            key = routed(g.ids)
            entry = found.setdefault(key, Candidate(key, doc.condition, doc.context, g.text))
            entry.sentences.append((sentence, (g.start, g.end)))
            entry.text = entry.text or g.text
        recent = [*recent[-2:], groups] if groups else recent
    for g in doc.title_groups:
        key = routed(g.ids)
        found.setdefault(key, Candidate(key, doc.condition, doc.context, g.text))
    return list(found.values())


# -- stage 3: features --------------------------------------------------------------------------


def features(doc: _rules._Article, candidate: Candidate, siblings: int) -> dict[str, float]:
    """What is known about one candidate, as named numbers (see the module documentation)."""
    lexicon = doc.lexicon
    ids = candidate.ids
    specs = [lexicon.intervention(i) for i in ids]
    title_ids = {lexicon.routed(m.id, doc.routes.get(m.id)) for m in doc.title_mentions if m.kind == "intervention"}
    main_ids = {i for g in doc.main for i in g.ids}
    values: dict[str, float] = {
        "bias_rules": 1.0 if candidate.rules else 0.0,
        "rules_score": candidate.rules.score if candidate.rules else 0.0,
        "in_title": 1.0 if any(i in title_ids for i in ids) else 0.0,
        "is_main": 1.0 if set(ids) & (main_ids | {lexicon.routed(i, doc.routes.get(i)) for i in main_ids}) else 0.0,
        "mentions": math.log1p(len(candidate.sentences)),
        "siblings": math.log1p(siblings),
        "combination": 1.0 if len(ids) > 1 else 0.0,
        "class_level": 1.0 if any(s.kind == "class" for s in specs) else 0.0,
        "procedure": 1.0 if any(s.kind == "procedure" for s in specs) else 0.0,
        "unmapped": 1.0 if any(s.kind == "unmapped" for s in specs) else 0.0,
        f"design_{doc.design}": 1.0,
        "review": 1.0 if doc.design in {"review", "systematic_review"} else 0.0,
    }
    first = min((s.start for s, _ in candidate.sentences), default=len(doc.text))
    values["first_position"] = first / max(1, len(doc.text))
    flags = {
        "cue": 0.0,
        "positive": 0.0,
        "negated": 0.0,
        "worsened": 0.0,
        "counts": 0.0,
        "hedge": 0.0,
        "cause": 0.0,
        "failed_before": 0.0,
        "background": 0.0,
        "comparator": 0.0,
        "treat_verb": 0.0,
        "in_results": 0.0,
        "in_conclusions": 0.0,
        "in_background_section": 0.0,
        "names_condition": 0.0,
        "first_sentence": 0.0,
    }
    for sentence, (start, end) in candidate.sentences:
        text = sentence.text
        window = doc.text[max(sentence.start, start - 60) : min(sentence.end, end + 60)]
        family = section_family(sentence.section)
        flags["cue"] = max(flags["cue"], 1.0 if _rules._ANY_CUE.search(text) else 0.0)
        flags["positive"] = max(flags["positive"], 1.0 if cues.POSITIVE.search(text) else 0.0)
        flags["negated"] = max(flags["negated"], 1.0 if cues.NEGATED.search(text) else 0.0)
        flags["worsened"] = max(flags["worsened"], 1.0 if cues.WORSENED.search(text) else 0.0)
        flags["counts"] = max(flags["counts"], 1.0 if _rules._states_counts(text) else 0.0)
        flags["hedge"] = max(flags["hedge"], 1.0 if cues.HEDGE.search(text) else 0.0)
        flags["cause"] = max(flags["cause"], 1.0 if _CAUSE.search(window) else 0.0)
        flags["failed_before"] = max(flags["failed_before"], 1.0 if cues.FAILED_BEFORE.search(window) else 0.0)
        flags["background"] = max(flags["background"], 1.0 if _BACKGROUND.search(window) else 0.0)
        flags["comparator"] = max(flags["comparator"], 1.0 if _COMPARATOR.search(window) else 0.0)
        flags["treat_verb"] = max(flags["treat_verb"], 1.0 if _TREAT_VERB.search(window) else 0.0)
        flags["in_results"] = max(flags["in_results"], 1.0 if family == "results" else 0.0)
        flags["in_conclusions"] = max(flags["in_conclusions"], 1.0 if family == "conclusions" else 0.0)
        flags["in_background_section"] = max(
            flags["in_background_section"], 1.0 if family in {"background", "methods"} else 0.0
        )
        named = sentence.index >= 0 and any(m.kind == "condition" for m in doc.mentions[sentence.index])
        flags["names_condition"] = max(flags["names_condition"], 1.0 if named or cues.TARGET.search(text) else 0.0)
        flags["first_sentence"] = max(flags["first_sentence"], 1.0 if sentence.index == 0 else 0.0)
    values.update(flags)
    return values


# -- stage 4: findings ----------------------------------------------------------------------------


def _finding(doc: _rules._Article, candidate: Candidate, confidence: float, described: _rules.Described) -> Extraction:
    """The finding of a kept candidate: the rules extractor's reading when it made one, else the
    candidate's best outcome sentence read with the same cues."""
    if candidate.rules is not None:
        return candidate.rules.extraction(candidate.ids, doc.design, round(confidence, 3), candidate.text, described)
    best: tuple[Sentence, str, int | None, int | None] | None = None
    for sentence, (start, end) in candidate.sentences:
        group = Group(candidate.ids, start, end, candidate.text)
        span = _rules._clause_of(sentence, group)
        clause = doc.text[span[0] : span[1]]
        response = outcome.read_response(clause) or outcome.read_response(sentence.text)
        if response is None:
            continue
        n_treated, n_responded, fraction = counting.counts(doc, sentence, clause)
        best = (sentence, outcome.with_counts(response, n_treated, n_responded, fraction), n_treated, n_responded)
        if section_family(sentence.section) in {"results", "conclusions"}:
            break
    if best is None:
        sentence = candidate.sentences[0][0] if candidate.sentences else Sentence(-1, 0, 0, "", "")
        best = (sentence, "unclear", doc.n_treated, None)
    sentence, response, n_treated, n_responded = best
    return Extraction(
        interventions=candidate.ids,
        condition_id=candidate.condition,
        context_id=candidate.context,
        response=response,
        study_design=doc.design,
        n_treated=n_treated,
        n_responded=n_responded,
        evidence=sentence.text,
        start=sentence.start,
        end=sentence.end,
        confidence=round(confidence, 3),
        intervention_text=candidate.text,
        **described.of(candidate.ids, sentence.text),
    )


def scored_candidates(article: ArticleText, lexicon: Lexicon) -> tuple[Any, list[tuple[Candidate, dict[str, float]]]]:
    """The article's reading and each candidate with its features (for training and for scoring)."""
    doc = _rules.read_article(article, lexicon)
    if doc is None or cues.about_prevention(doc.title):
        return doc, []
    found = candidates(doc)
    found = _drop_classes_named_by_members(doc, found)
    return doc, [(c, features(doc, c, len(found))) for c in found]


def _drop_classes_named_by_members(doc: _rules._Article, found: list[Candidate]) -> list[Candidate]:
    lexicon = doc.lexicon
    member_classes = {
        lexicon.class_of.get(i) for c in found for i in c.ids if not is_class_level(lexicon, split_route(i)[0])
    }
    return [
        c
        for c in found
        if not (
            all(is_class_level(lexicon, split_route(i)[0]) for i in c.ids)
            and all(lexicon.class_of.get(split_route(i)[0]) in member_classes for i in c.ids)
            and c.rules is None
        )
    ]


def extractor_with(model: Model) -> Callable[[ArticleText, Lexicon], list[Extraction]]:
    """The ranked extractor scoring with ``model`` (a fold's model, or the shipped one)."""

    def extract(article: ArticleText, lexicon: Lexicon) -> list[Extraction]:
        doc, scored = scored_candidates(article, lexicon)
        if not scored:
            return []
        described = _rules.describe(doc)  # once per article, not per finding
        out = []
        for candidate, values in scored:
            p = model.probability(values)
            if p >= model.threshold:
                out.append(_finding(doc, candidate, p, described))
        return sorted(out, key=lambda e: (e.start, e.interventions))

    return extract


@register(NAME, VERSION)
def extract(article: ArticleText, lexicon: Lexicon) -> list[Extraction]:
    """Every intervention of the article as a candidate, kept when the learned model says the
    article reports its outcome (see the module documentation)."""
    return extractor_with(shipped_model())(article, lexicon)
