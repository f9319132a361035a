"""Evidence arithmetic shared by the graph and the query API: pure functions, no I/O.

- :func:`wilson_interval`: the Wilson score interval for a proportion, which stays inside
  [0, 1] and behaves sensibly for the tiny samples typical of rare-disease case series.
- :data:`DESIGN_RANK`: the evidence hierarchy used to pick a treatment's best study design.
- :data:`DIRECTION`: how a response category counts when findings are tallied side by side.
- :func:`pooled_rate` and :func:`is_contradicted`: the derived fields of an aggregate row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: Evidence hierarchy, strongest first (lower rank is stronger).
DESIGN_RANK: dict[str, int] = {
    "systematic_review": 1,
    "rct": 2,
    "prospective_cohort": 3,
    "retrospective_cohort": 4,
    "case_series": 5,
    "case_report": 6,
    "review": 7,
    "other": 8,
}

#: Designs that summarise other studies: their patients are not added to primary counts.
SECONDARY_DESIGNS: frozenset[str] = frozenset({"systematic_review", "review"})

#: How each response category is tallied. ``mixed`` (some patients responded, some did not)
#: is its own column: netting it into "supporting" would overstate weak evidence.
DIRECTION: dict[str, str] = {
    "complete": "supporting",
    "partial": "supporting",
    "improved": "supporting",
    "mixed": "mixed",
    "none": "null",
    "worsened": "harmful",
    "unclear": "unclear",
}
DIRECTIONS: tuple[str, ...] = ("supporting", "mixed", "null", "harmful", "unclear")


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``trials`` (95 % by default).

    Raises:
        ValueError: counts are negative or ``successes`` exceeds ``trials``; or ``trials`` is 0.
    """
    if trials <= 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def best_design(designs: list[str]) -> str | None:
    """The strongest design among ``designs`` by :data:`DESIGN_RANK`, or None if empty."""
    ranked = sorted((DESIGN_RANK.get(d, 99), d) for d in designs)
    return ranked[0][1] if ranked else None


def pooled_rate(responders: int, evaluable: int) -> tuple[float | None, float | None, float | None]:
    """The pooled response rate and its Wilson 95 % interval, or three Nones without counts.

    Raises:
        ValueError: ``responders`` exceeds ``evaluable`` or either is negative.
    """
    if not evaluable:
        return None, None, None
    low, high = wilson_interval(responders, evaluable)
    return responders / evaluable, low, high


def is_contradicted(tally: Mapping[str, int]) -> bool:
    """Whether findings tallied by :data:`DIRECTION` disagree.

    A pair is contradicted when some findings support it and others report no response or
    harm: a worsening is read as a stronger null. Mixed and unclear findings never
    contradict anything.
    """
    return tally.get("supporting", 0) > 0 and (tally.get("null", 0) > 0 or tally.get("harmful", 0) > 0)
