"""Charts for the site as inline SVG, drawn at build time: no JavaScript, prints well.

Colours come from the site's stylesheet (classes ``kb-…`` styled with Material's CSS
variables and ``currentColor``), never from the SVG itself, so every chart follows the light
and dark palettes. Each function returns one line of markup, safe inside a Markdown table
cell (no ``|``, no line break), and every text it carries is HTML-escaped.
"""

from __future__ import annotations

import html

__all__ = [
    "DESIGN_ABBREVIATIONS",
    "FOREST_WIDTH",
    "HEAT_LEVELS",
    "forest_axis",
    "forest_point",
    "heat_cell",
    "rate_bar",
]

_WIDTH = 120
_HEIGHT = 16
_PAD = 4  # room for the point's radius at 0 % and 100 %


def _x(fraction: float) -> float:
    """Horizontal position of a proportion on the bar's 0–100 % axis."""
    clamped = min(1.0, max(0.0, fraction))
    return round(_PAD + clamped * (_WIDTH - 2 * _PAD), 1)


def rate_bar(
    responders: int,
    evaluable: int,
    rate: float | None,
    low: float | None,
    high: float | None,
    *,
    sparse: bool = False,
) -> str:
    """A forest-plot style bar: the pooled response rate as a point on a 0–100 % axis, its Wilson
    95 % interval as a line, a tick at 50 %. The point grows with the number of patients.

    Args:
        responders: patients who responded (pooled).
        evaluable: patients treated in studies that give both counts.
        rate: responders ÷ evaluable, or None when nothing can be pooled.
        low: lower end of the Wilson 95 % interval.
        high: upper end of the Wilson 95 % interval.

        sparse: the rate rests on few of the patients (:func:`queries.figures.is_sparse`):
            the bar is drawn greyed and hatched (class ``kb-bar-sparse``) and says so.

    Returns:
        An ``<svg>`` element, or an en dash when there is nothing to draw. It carries
        ``data-sort``, the lower end of the interval, so that sorting a table by it puts a
        rate resting on many patients above a 1/1.
    """
    if not evaluable or rate is None or low is None or high is None:
        return "–"
    label = f"{responders}/{evaluable} responded: {100 * rate:.0f}% (95% CI {100 * low:.0f}%–{100 * high:.0f}%)"
    if sparse:
        label += "; few of the treated patients are evaluable"
    radius = 2.5 if evaluable < 10 else 3.5 if evaluable < 50 else 4.5
    middle = _HEIGHT / 2
    css = "kb-bar kb-bar-sparse" if sparse else "kb-bar"
    parts = [
        f'<svg class="{css}" role="img" aria-label="{html.escape(label)}" data-sort="{low:.4f}" '
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

#: Shading levels of the evidence-gap matrix: (level, fewest studies, label).
HEAT_LEVELS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "no study: a gap"),
    (1, 1, "1 study"),
    (2, 2, "2–4 studies"),
    (3, 5, "5–19 studies"),
    (4, 20, "20 or more studies"),
)


def heat_cell(studies: int, patients: int | None, design: str | None, href: str | None = None) -> str:
    """One cell of the evidence-gap matrix: the number of studies (shaded by it) and of patients
    treated (NR when no study reports it), with the best primary design's abbreviation; a link
    to the cell's forest plot when ``href`` is given. A gap is a dot.

    Returns:
        One line of HTML (no ``|``), carrying ``data-sort`` (the studies) for table sorting.
    """
    if not studies:
        return '<span class="kb-heat kb-heat-0" data-sort="0" title="No study: a gap">·</span>'
    level = max(lvl for lvl, fewest, _ in HEAT_LEVELS if studies >= fewest)
    abbreviation = DESIGN_ABBREVIATIONS.get(design or "", "")
    treated = "NR" if patients is None else str(patients)
    label = f"{studies} stud{'ies' if studies != 1 else 'y'}, {treated} patients treated"
    if design:
        label += f"; best primary design: {design.replace('_', ' ')}"
    body = f"{studies} <small>· {treated} pts{f' · {abbreviation}' if abbreviation else ''}</small>"
    if href:
        body = f'<a href="{html.escape(href)}">{body}</a>'
    return f'<span class="kb-heat kb-heat-{level}" data-sort="{studies}" title="{html.escape(label)}">{body}</span>'


# -- forest plots (queries.forest): one row per finding on a shared 0–100 % axis ---------------

#: Width of a forest plot's column, in pixels; every row and the axis share it.
FOREST_WIDTH = 220
_FOREST_HEIGHT = 18
_FOREST_PAD = 14


def _fx(fraction: float) -> float:
    clamped = min(1.0, max(0.0, fraction))
    return round(_FOREST_PAD + clamped * (FOREST_WIDTH - 2 * _FOREST_PAD), 1)


def forest_axis() -> str:
    """The axis above a forest plot's column: ticks and labels at 0, 25, 50, 75 and 100 %."""
    ticks = []
    for percent in (0, 25, 50, 75, 100):
        x = _fx(percent / 100)
        ticks.append(f'<line class="kb-forest-tick" x1="{x}" y1="14" x2="{x}" y2="20"/>')
        ticks.append(f'<text class="kb-forest-label" x="{x}" y="11" text-anchor="middle">{percent}%</text>')
    return (
        f'<svg class="kb-forest-axis" role="img" aria-label="Proportion responding, 0 to 100%" '
        f'width="{FOREST_WIDTH}" height="22" viewBox="0 0 {FOREST_WIDTH} 22">'
        f'<line class="kb-forest-tick" x1="{_fx(0)}" y1="20" x2="{_fx(1)}" y2="20"/>{"".join(ticks)}</svg>'
    )


def forest_point(
    responders: int | None, treated: int | None, low: float | None, high: float | None, *, pooled: bool = False
) -> str:
    """One row of a forest plot: responders ÷ treated as a square sized by the number treated,
    its Wilson 95 % interval as a line, a dashed line at 50 %; the pooled row is a diamond
    spanning its interval. An en dash when the row has no responder count.

    Returns:
        An ``<svg>`` (one line, no ``|``) carrying ``data-sort`` (the proportion).
    """
    if responders is None or not treated or low is None or high is None:
        return "–"
    rate = responders / treated
    label = f"{responders}/{treated} responded: {100 * rate:.0f}% (95% CI {100 * low:.0f}%–{100 * high:.0f}%)"
    middle = _FOREST_HEIGHT / 2
    if pooled:
        left, centre, right = _fx(low), _fx(rate), _fx(high)
        mark = (
            f'<polygon class="kb-forest-pooled" points="{left},{middle} {centre},{middle - 6} '
            f'{right},{middle} {centre},{middle + 6}"/>'
        )
        label = "Pooled: " + label
    else:
        side = 3 if treated < 10 else 5 if treated < 50 else 7
        mark = (
            f'<line class="kb-forest-ci" x1="{_fx(low)}" y1="{middle}" x2="{_fx(high)}" y2="{middle}"/>'
            f'<rect class="kb-forest-point" x="{_fx(rate) - side / 2}" y="{middle - side / 2}" '
            f'width="{side}" height="{side}"/>'
        )
    return (
        f'<svg class="kb-forest" role="img" aria-label="{html.escape(label)}" data-sort="{rate:.4f}" '
        f'width="{FOREST_WIDTH}" height="{_FOREST_HEIGHT}" viewBox="0 0 {FOREST_WIDTH} {_FOREST_HEIGHT}">'
        f"<title>{html.escape(label)}</title>"
        f'<line class="kb-forest-mid" x1="{_fx(0.5)}" y1="0" x2="{_fx(0.5)}" y2="{_FOREST_HEIGHT}"/>'
        f"{mark}</svg>"
    )
