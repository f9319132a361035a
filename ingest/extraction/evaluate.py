"""Measure extracted findings against hand-annotated gold findings.

Findings are compared as (article, drug_norm, condition_norm) pairs: precision, recall and
F1 over the distinct pairs. On matched pairs the response, the study design and the counts
are compared. When gold holds several records for one pair (separate outcome measures),
the extracted finding is compared with the gold record it agrees with most: any of them is
a correct reading of the abstract.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Pair = tuple[str, str, str]
_COMPARED = ("response", "study_design", "n_treated", "n_responded")


@dataclass(frozen=True, slots=True)
class Rate:
    """A proportion with its numerator and denominator."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def __str__(self) -> str:
        return f"{self.value:.3f} ({self.hits}/{self.total})" if self.total else "n/a (0/0)"


@dataclass(slots=True)
class Evaluation:
    """Everything ``kb eval`` reports."""

    articles: int = 0
    gold_pairs: int = 0
    predicted_pairs: int = 0
    matched: int = 0
    response: Rate = Rate(0, 0)
    study_design: Rate = Rate(0, 0)
    n_treated: Rate = Rate(0, 0)
    n_responded: Rate = Rate(0, 0)
    empty_gold_articles: int = 0
    findings_on_empty_gold: int = 0
    empty_gold_with_findings: int = 0  # abstracts whose gold is empty that were given any finding
    n_treated_missed: int = 0  # matched pairs where gold states n_treated and the output gives none
    n_responded_missed: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_findings: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted_pairs if self.predicted_pairs else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold_pairs if self.gold_pairs else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pair(row: dict[str, Any]) -> Pair:
    return (row["id"], row["drug_norm"].strip().lower(), row["condition_norm"].strip().lower())


def evaluate(gold: Mapping[str, Iterable[dict[str, Any]]], predicted: Iterable[dict[str, Any]]) -> Evaluation:
    """Compare predicted rows with gold records; ``gold`` maps every article id to its records.

    Gold records need ``drug_norm`` and ``condition_norm``; their article id is the key.
    """
    result = Evaluation(articles=len(gold))
    gold_by_pair: dict[Pair, list[dict[str, Any]]] = defaultdict(list)
    for article_id, records in gold.items():
        records = list(records)
        if not records:
            result.empty_gold_articles += 1
        for record in records:
            gold_by_pair[_pair({**record, "id": article_id})].append({**record, "id": article_id})
    annotated = {article_id for article_id, _, _ in gold_by_pair}
    predicted_by_pair: dict[Pair, dict[str, Any]] = {}
    empty_given: set[str] = set()
    for row in predicted:
        if row["id"] not in gold:
            continue
        if row["id"] not in annotated:
            result.findings_on_empty_gold += 1
            empty_given.add(row["id"])
        predicted_by_pair.setdefault(_pair(row), row)
    result.empty_gold_with_findings = len(empty_given)
    result.gold_pairs = len(gold_by_pair)
    result.predicted_pairs = len(predicted_by_pair)
    tallies = {name: [0, 0] for name in _COMPARED}
    for pair, row in predicted_by_pair.items():
        if pair not in gold_by_pair:
            result.false_findings.append(row)
            continue
        result.matched += 1
        best = max(gold_by_pair[pair], key=lambda g: sum(g.get(k) == row.get(k) for k in _COMPARED))
        for name in _COMPARED:
            if name in {"n_treated", "n_responded"} and best.get(name) is None:
                continue
            if name in {"n_treated", "n_responded"} and row.get(name) is None:
                setattr(result, f"{name}_missed", getattr(result, f"{name}_missed") + 1)
            tallies[name][1] += 1
            tallies[name][0] += best.get(name) == row.get(name)
        if any(best.get(k) != row.get(k) for k in _COMPARED if not (k.startswith("n_") and best.get(k) is None)):
            result.disagreements.append((best, row))
    for name, (hits, total) in tallies.items():
        setattr(result, name, Rate(hits, total))
    result.misses = [records[0] for pair, records in sorted(gold_by_pair.items()) if pair not in predicted_by_pair]
    return result


def report(result: Evaluation) -> list[str]:
    """The evaluation as lines of text: the scores, then every miss and every false finding."""
    lines = [
        f"articles: {result.articles}  gold pairs: {result.gold_pairs}  extracted pairs: {result.predicted_pairs}"
        f"  matched: {result.matched}",
        f"pairs (article, drug_norm, condition_norm): precision {result.precision:.3f}  recall {result.recall:.3f}"
        f"  F1 {result.f1:.3f}",
        f"on matched pairs: response accuracy {result.response}  study design accuracy {result.study_design}",
        f"                  n_treated exact {result.n_treated}  n_responded exact {result.n_responded}",
        f"                  gold counts the output missed: n_treated {result.n_treated_missed}"
        f"  n_responded {result.n_responded_missed}",
        f"findings on the {result.empty_gold_articles} abstracts whose gold is empty: {result.findings_on_empty_gold}"
        f" (on {result.empty_gold_with_findings} of them)",
    ]
    lines.append(f"\nmissed ({len(result.misses)}):")
    for g in result.misses:
        lines.append(f"  - {g['id']}: {g['drug_norm']} | {g['condition_norm']} | {g.get('response')}")
        lines.append(f"      gold quote: {_short(g.get('quote'))}")
    lines.append(f"\nfalse findings ({len(result.false_findings)}):")
    for row in result.false_findings:
        lines.append(f"  - {row['id']}: {row['drug_norm']} | {row['condition_norm']} | {row['response']}")
        lines.append(f"      quote: {_short(row.get('quote'))}")
    lines.append(f"\nmatched with a different response, design or count ({len(result.disagreements)}):")
    for g, row in result.disagreements:
        fields = ", ".join(
            f"{k} {row.get(k)!r} (gold {g.get(k)!r})"
            for k in _COMPARED
            if g.get(k) != row.get(k) and not (k.startswith("n_") and g.get(k) is None)
        )
        lines.append(f"  - {row['id']}: {row['drug_norm']} | {fields}")
        lines.append(f"      quote: {_short(row.get('quote'))}")
    return lines


def _short(text: object, limit: int = 200) -> str:
    value = " ".join(str(text or "").split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
