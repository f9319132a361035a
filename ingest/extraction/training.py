"""Training the learned models from gold corpora (``kb train``; ``kb eval --folds``).

Two models, both logistic regressions (scikit-learn, ``liblinear`` solver, fixed seed) over
named features, each example labelled by whether its (drug_norm, condition_norm) pair is one of
the article's gold pairs:

* the **confidence** model of the rules extractor (:mod:`ingest.extraction.confidence`): its
  examples are the findings the rules make (:func:`ingest.extractors.rules.scored_findings`),
  each topic read as a new one (``training_sets(..., as_new_topics=True)``), so that a
  confidence is the precision to expect on a topic nothing was written for;
* the **ranked** extractor's model: its examples are every candidate of
  :func:`ingest.extractors.ranked.scored_candidates`, and its threshold is the one that
  maximises pair F1 on the training topics themselves.

Each is a few dozen numbers, written as JSON: training twice on the same corpora gives the
same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.extraction.confidence import CONFIDENCE_PATH, Model
from ingest.extraction.corpus import CorpusArticle, Labeller
from ingest.extraction.lexicon import Lexicon
from ingest.extractors.ranked import MODEL_PATH, scored_candidates
from ingest.extractors.rules import scored_findings
from kb.topic import TopicPack

SEED = 20261201


class NothingToLearn(IngestError):
    """The training corpora give no positive or no negative example."""


_THRESHOLDS = tuple(t / 100 for t in range(10, 91, 2))
#: Regularisation strengths the confidence model chooses from (smaller: closer to the base rate).
_STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """One topic's gold articles, with the pack and lexicon its candidates are read with."""

    topic: str
    articles: Sequence[CorpusArticle]
    pack: TopicPack
    lexicon: Lexicon


def _rows(data: TrainingSet) -> list[tuple[str, dict[str, float], bool]]:
    labeller = Labeller(data.pack, data.lexicon)
    rows = []
    for item in data.articles:
        gold = {(g["drug_norm"].strip().lower(), g["condition_norm"].strip().lower()) for g in item.gold or ()}
        _, scored = scored_candidates(item.article, data.lexicon)
        for candidate, values in scored:
            pair = (
                labeller.drug_norm(candidate.ids).strip().lower(),
                labeller.condition_norm(candidate.condition, candidate.context).strip().lower(),
            )
            rows.append((item.article.id, values, pair in gold))
    return rows


def _finding_rows(data: TrainingSet) -> list[tuple[str, dict[str, float], bool]]:
    labeller = Labeller(data.pack, data.lexicon)
    rows = []
    for item in data.articles:
        gold = {(g["drug_norm"].strip().lower(), g["condition_norm"].strip().lower()) for g in item.gold or ()}
        for extraction, values in scored_findings(item.article, data.lexicon):
            pair = (
                labeller.drug_norm(extraction.interventions).strip().lower(),
                labeller.condition_norm(extraction.condition_id, extraction.context_id).strip().lower(),
            )
            rows.append((item.article.id, values, pair in gold))
    return rows


def _fit(rows: list[tuple[str, dict[str, float], bool]], what: str, strength: float = 1.0) -> Model:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise IngestError("training needs scikit-learn: pip install -e .") from exc
    labels = [label for _, _, label in rows]
    if not any(labels) or all(labels):
        raise NothingToLearn(f"the training corpora give no positive or no negative {what}: check the gold files")
    names = tuple(sorted({name for _, values, _ in rows for name in values}))
    matrix = [[values.get(name, 0.0) for name in names] for _, values, _ in rows]
    fitted = LogisticRegression(C=strength, solver="liblinear", random_state=SEED, max_iter=1000).fit(matrix, labels)
    return Model(names, tuple(float(w) for w in fitted.coef_[0]), float(fitted.intercept_[0]), 0.5)


def train_confidence(sets: Sequence[TrainingSet]) -> Model:
    """The rules extractor's confidence model learned from ``sets`` (see the module documentation).

    Raises:
        IngestError: scikit-learn is missing, or the sets give no right or no wrong finding.
    """
    per_topic = {data.topic: _finding_rows(data) for data in sets}
    strength = _strength(per_topic)
    model = _fit([row for rows in per_topic.values() for row in rows], "finding", strength)
    return Model(model.features, model.weights, model.intercept, 0.5, tuple(sorted(per_topic)))


def _strength(per_topic: dict[str, list[tuple[str, dict[str, float], bool]]]) -> float:
    """The regularisation (scikit-learn's ``C``) whose model, trained on all topics but one,
    predicts the left-out topic best (log loss, summed over the topics left out in turn): a
    confidence must hold on topics it was not trained on. With one topic, the default."""
    if len(per_topic) < 2:
        return 1.0
    best: tuple[float, float] | None = None
    for strength in _STRENGTHS:
        loss = 0.0
        for topic, held in per_topic.items():
            rest = [row for other, rows in per_topic.items() if other != topic for row in rows]
            try:
                model = _fit(rest, "finding", strength)
            except NothingToLearn:
                continue
            for _, values, label in held:
                p = min(max(model.probability(values), 1e-6), 1 - 1e-6)
                loss -= math.log(p if label else 1 - p)
        if best is None or loss < best[0]:
            best = (loss, strength)
    return best[1] if best else 1.0


def train(sets: Sequence[TrainingSet]) -> Model:
    """The ranked extractor's model learned from ``sets`` (see the module documentation).

    Raises:
        IngestError: scikit-learn is missing, or the sets give no positive or no negative example.
    """
    rows = [row for data in sets for row in _rows(data)]
    model = _fit(rows, "candidate")
    labels = [label for _, _, label in rows]
    probabilities = [model.probability(values) for _, values, _ in rows]
    best = max(_THRESHOLDS, key=lambda t: (_f1(probabilities, labels, t), -abs(t - 0.5)))
    return Model(model.features, model.weights, model.intercept, best, tuple(sorted(d.topic for d in sets)))


def _f1(probabilities: Sequence[float], labels: Sequence[bool], threshold: float) -> float:
    kept = [label for p, label in zip(probabilities, labels, strict=True) if p >= threshold]
    true_positives = sum(kept)
    positives = sum(labels)
    if not kept or not positives:
        return 0.0
    precision, recall = true_positives / len(kept), true_positives / positives
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def write_models(confidence: Model, ranked: Model, folder: Path | None = None) -> tuple[Path, Path]:
    """Write the confidence and ranked models into ``folder`` (default: the shipped ones).

    Raises:
        IngestError: a file cannot be written.
    """
    if folder is None:
        return write_model(confidence, CONFIDENCE_PATH), write_model(ranked, MODEL_PATH)
    return write_model(confidence, folder / CONFIDENCE_PATH.name), write_model(ranked, folder / MODEL_PATH.name)


def write_model(model: Model, path: Path) -> Path:
    """Write a model as JSON (sorted, stable), creating the folder.

    Raises:
        IngestError: the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot write {path}: {exc.strerror}") from exc
    return path
