"""Training the ranked extractor's model from gold corpora (``kb train``; ``kb eval --folds``).

Each (article, candidate) of :func:`ingest.extractors.ranked.scored_candidates` is labelled by
whether its (drug_norm, condition_norm) pair is one of the article's gold pairs; a logistic
regression (scikit-learn, ``liblinear`` solver, fixed seed) learns the weights, and the
threshold is the one that maximises pair F1 on the training topics themselves. The result is a
few dozen numbers, written as JSON: training twice on the same corpora gives the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.extraction.corpus import CorpusArticle, Labeller
from ingest.extraction.lexicon import Lexicon
from ingest.extractors.ranked import MODEL_PATH, Model, scored_candidates
from kb.topic import TopicPack

SEED = 20261201
_THRESHOLDS = tuple(t / 100 for t in range(10, 91, 2))


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


def train(sets: Sequence[TrainingSet]) -> Model:
    """A model learned from ``sets`` (see the module documentation).

    Raises:
        IngestError: scikit-learn is missing, or the sets give no positive or no negative example.
    """
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise IngestError("training needs scikit-learn: pip install -e .") from exc
    rows = [row for data in sets for row in _rows(data)]
    labels = [label for _, _, label in rows]
    if not any(labels) or all(labels):
        raise IngestError("the training corpora give no positive or no negative candidate: check the gold files")
    names = tuple(sorted({name for _, values, _ in rows for name in values}))
    matrix = [[values.get(name, 0.0) for name in names] for _, values, _ in rows]
    fitted = LogisticRegression(C=1.0, solver="liblinear", random_state=SEED, max_iter=1000).fit(matrix, labels)
    model = Model(names, tuple(float(w) for w in fitted.coef_[0]), float(fitted.intercept_[0]), 0.5)
    probabilities = [model.probability(values) for _, values, _ in rows]
    best = max(_THRESHOLDS, key=lambda t: (_f1(probabilities, labels, t), -abs(t - 0.5)))
    return Model(names, model.weights, model.intercept, best, tuple(sorted(d.topic for d in sets)))


def _f1(probabilities: Sequence[float], labels: Sequence[bool], threshold: float) -> float:
    kept = [label for p, label in zip(probabilities, labels, strict=True) if p >= threshold]
    true_positives = sum(kept)
    positives = sum(labels)
    if not kept or not positives:
        return 0.0
    precision, recall = true_positives / len(kept), true_positives / positives
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def write_model(model: Model, path: Path = MODEL_PATH) -> Path:
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
