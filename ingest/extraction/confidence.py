"""Confidence that means something: a finding's probability of being right, learned.

The rules extractor decides *which* findings an article reports; how sure to be of each is
learned from the development corpora. Every finding the rules make on a training topic is
labelled by whether its (intervention, condition) pair is one of the article's gold pairs, and
a logistic model over what the rules saw when they made it (named numbers: an explicit
mention, counts, the section, a hedge, the design, whether the intervention is in the title,
…) gives each finding a probability. Stored as the finding's confidence, it is what the
held-out folds' precision at each threshold (``kb eval --folds``) measures: a threshold read
off a fold was learned without the topic it is applied to.

The same small model class serves the ranked extractor, which uses its probability to decide
which candidates to keep.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from ingest.errors import IngestError

MODELS: Final = Path(__file__).parent.parent / "extractors" / "models"
#: The rules extractor's confidence model, trained on every development topic (``kb train``).
CONFIDENCE_PATH: Final = MODELS / "confidence.json"


@dataclass(frozen=True, slots=True)
class Model:
    """A logistic model over named features, with the threshold a ranked extractor keeps at."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float
    trained_on: tuple[str, ...] = ()

    def probability(self, values: dict[str, float]) -> float:
        """The model's probability for one example's feature values (absent features are 0)."""
        z = self.intercept + sum(w * values.get(f, 0.0) for f, w in zip(self.features, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> dict[str, Any]:
        """The model as JSON-ready data (rounded, so training twice writes the same file)."""
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 4),
            "trained_on": list(self.trained_on),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """A model from :meth:`to_json`'s data."""
        return cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            trained_on=tuple(data.get("trained_on", ())),
        )


def read_model(path: Path, what: str) -> Model:
    """A model file written by ``kb train``.

    Raises:
        IngestError: the file is missing or malformed (``what`` names it in the message).
    """
    try:
        return Model.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"cannot read {what} {path}: {exc}; rebuild it with 'kb train' (see the README)") from exc


@lru_cache(maxsize=1)
def shipped_confidence() -> Model:
    """The rules extractor's confidence model as shipped.

    Raises:
        IngestError: the model file is missing or malformed.
    """
    return read_model(CONFIDENCE_PATH, "the rules extractor's confidence model")
