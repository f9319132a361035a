"""Charts for the site as inline SVG, drawn at build time: no JavaScript, prints well.

Colours come from the site's stylesheet (classes ``kb-…`` styled with Material's CSS
variables and ``currentColor``), never from the SVG itself, so every chart follows the light
and dark palettes. Each function returns one line of markup, safe inside a Markdown table
cell (no ``|``, no line break), and every text it carries is HTML-escaped.
"""

from __future__ import annotations

import html

__all__ = ["DESIGN_ABBREVIATIONS", "HEAT_LEVELS", "heat_cell", "rate_bar"]

_WIDTH = 120
_HEIGHT = 16
_PAD = 4  # room for the point's radius at 0 % and 100 %


def _x(fraction: float) -> float:
    """Horizontal position of a proportion on the bar's 0–100 % axis."""
    clamped = min(1.0, max(0.0, fraction))
    return round(_PAD + clamped * (_WIDTH - 2 * _PAD), 1)


def rate_bar(responders: int, evaluable: int, rate: float | None, low: float | None, high: float | None) -> str:
    """A forest-plot style bar: the pooled response rate as a point on a 0–100 % axis, its Wilson
    95 % interval as a line, a tick at 50 %. The point grows with the number of patients.

    Args:
        responders: patients who responded (pooled).
        evaluable: patients treated in studies that give both counts.
        rate: responders ÷ evaluable, or None when nothing can be pooled.
        low: lower end of the Wilson 95 % interval.
        high: upper end of the Wilson 95 % interval.

    Returns:
        An ``<svg>`` element, or an en dash when there is nothing to draw. It carries
        ``data-sort`` (the rate) so that table sorting orders rows by it.
    """
    if not evaluable or rate is None or low is None or high is None:
        return "–"
    label = f"{responders}/{evaluable} responded: {100 * rate:.0f}% (95% CI {100 * low:.0f}%–{100 * high:.0f}%)"
    radius = 2.5 if evaluable < 10 else 3.5 if evaluable < 50 else 4.5
    middle = _HEIGHT / 2
    parts = [
        f'<svg class="kb-bar" role="img" aria-label="{html.escape(label)}" data-sort="{rate:.4f}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" viewBox="0 0 {_WIDTH} {_HEIGHT}">',
        f"<title>{html.escape(label)}</title>",
        f'<rect class="kb-bar-track" x="{_PAD}" y="{middle - 1}" width="{_WIDTH - 2 * _PAD}" height="2" rx="1"/>',
        f'<line class="kb-bar-mid" x1="{_x(0.5)}" y1="2" x2="{_x(0.5)}" y2="{_HEIGHT - 2}"/>',
        f'<line class="kb-bar-ci" x1="{_x(low)}" y1="{middle}" x2="{_x(high)}" y2="{middle}"/>',
        f'<line class="kb-bar-ci" x1="{_x(low)}" y1="{middle - 3}" x2="{_x(low)}" y2="{middle + 3}"/>',
        f'<line class="kb-bar-ci" x1="{_x(high)}" y1="{middle - 3}" x2="{_x(high)}" y2="{middle + 3}"/>',
        f'<circle class="kb-bar-point" cx="{_x(rate)}" cy="{middle}" r="{radius}"/>',
        "</svg>",
    ]
    return "".join(parts)


#: Short labels for study designs in the evidence-gap matrix, strongest first.
DESIGN_ABBREVIATIONS: dict[str, str] = {
    "systematic_review": "SR",
    "rct": "RCT",
    "prospective_cohort": "PC",
    "retrospective_cohort": "RC",
    "case_series": "CS",
    "case_report": "CR",
    "review": "Rev",
    "other": "Oth",
}

#: Shading levels of the evidence-gap matrix: (level, fewest findings, label).
HEAT_LEVELS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "no findings: a gap"),
    (1, 1, "1 finding"),
    (2, 2, "2–4 findings"),
    (3, 5, "5–19 findings"),
    (4, 20, "20 or more findings"),
)


def heat_cell(findings: int, studies: int, best_design: str | None) -> str:
    """One cell of the evidence-gap matrix: the number of findings, shaded by it, with the best
    design's abbreviation; a tooltip spells both out. A gap is a dot.

    Returns:
        A ``<span>`` (one line, no ``|``), carrying ``data-sort`` for table sorting.
    """
    level = max(lvl for lvl, fewest, _ in HEAT_LEVELS if findings >= fewest)
    if not findings:
        return '<span class="kb-heat kb-heat-0" data-sort="0" title="No findings">·</span>'
    design = DESIGN_ABBREVIATIONS.get(best_design or "", "")
    label = f"{findings} finding{'s' if findings != 1 else ''} in {studies} stud{'ies' if studies != 1 else 'y'}"
    if best_design:
        label += f"; best design: {best_design.replace('_', ' ')}"
    return (
        f'<span class="kb-heat kb-heat-{level}" data-sort="{findings}" title="{html.escape(label)}">'
        f"{findings}{f' <small>{design}</small>' if design else ''}</span>"
    )
