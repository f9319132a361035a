"""How a treatment row's numbers are written for people: one wording for the site and the CLI.

A pooled rate is only as good as its denominator, so it is always written with it: *3/3
evaluable of 41 treated*. A count no study reports is *NR* (not reported), never 0. A rate
pooled from fewer than :data:`FEW_EVALUABLE` patients, or from fewer than half of those
treated, is *sparse*: the site greys and hatches its bar.

:func:`treatments_output` turns a :func:`queries.treatments_for` table into what
``kb treatments`` prints: a table readable at 80 columns, CSV (text cells guarded against
spreadsheet formulas as the exports are) or JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from rich.table import Table
from rich.text import Text

from queries.export import csv_frame, plain_value

__all__ = [
    "FEW_EVALUABLE",
    "NOT_REPORTED",
    "OUTPUT_FORMATS",
    "denominator_text",
    "interval_text",
    "is_sparse",
    "treatments_output",
]

#: How a count that no study reports is written.
NOT_REPORTED = "NR"
#: A rate pooled from fewer evaluable patients than this is sparse.
FEW_EVALUABLE = 5
#: What ``kb treatments --format`` accepts.
OUTPUT_FORMATS: tuple[str, ...] = ("table", "csv", "json")


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def denominator_text(responders: object, evaluable: object, patients: object) -> str:
    """``3/3 evaluable of 41 treated``; ``none evaluable of 38 treated``; ``NR`` with no counts."""
    treated = "" if _missing(patients) else f" of {int(patients)} treated"  # type: ignore[call-overload]
    if _missing(evaluable) or not evaluable:
        return f"none evaluable{treated}" if treated else NOT_REPORTED
    return f"{int(responders)}/{int(evaluable)} evaluable{treated}"  # type: ignore[call-overload]


def interval_text(rate: object, low: object, high: object) -> str:
    """``100% (44–100%)``: the pooled rate and its Wilson 95 % interval, or ``NR``."""
    if _missing(rate) or _missing(low) or _missing(high):
        return NOT_REPORTED
    return f"{100 * float(rate):.0f}% ({100 * float(low):.0f}–{100 * float(high):.0f}%)"  # type: ignore[arg-type]


def is_sparse(evaluable: object, patients: object) -> bool:
    """Whether a pooled rate rests on few of the patients: fewer than :data:`FEW_EVALUABLE`
    evaluable, or fewer than half of those treated (a row with nothing evaluable is sparse)."""
    if _missing(evaluable) or not evaluable:
        return True
    if int(evaluable) < FEW_EVALUABLE:  # type: ignore[call-overload]
        return True
    return not _missing(patients) and 2 * int(evaluable) < int(patients)  # type: ignore[call-overload]


def _count(value: object) -> str:
    return NOT_REPORTED if _missing(value) else str(int(value))  # type: ignore[call-overload]


def _name(row: Mapping[str, Any]) -> Text:
    name = Text(str(row["intervention"]))
    if row["level"] == "class":
        name.append(" (class)", style="dim")
    if row.get("contradicted"):
        name.append(" contradicted", style="bold")
    return name


def treatments_table(frame: pd.DataFrame) -> Table:
    """The treatments as a rich table that fits 80 columns: the name wraps, numbers never do."""
    table = Table(show_edge=False, pad_edge=False, padding=(0, 1), expand=True)
    table.add_column("Treatment", ratio=1, min_width=14, overflow="fold")
    table.add_column("Studies", justify="right", no_wrap=True)
    table.add_column("Patients", justify="right", no_wrap=True)
    table.add_column("Resp./eval.", no_wrap=True)
    table.add_column("Rate (95% CI)", no_wrap=True)
    table.add_column("Certainty", no_wrap=True)
    for row in frame.to_dict("records"):
        if row["level"] == "class" and row.get("interventions", 0) <= 1:
            continue  # a class of one member repeats its member's row
        table.add_row(
            _name(row),
            str(int(row["studies"])),
            _count(row["patients"]),
            NOT_REPORTED if _missing(row["evaluable"]) else f"{int(row['responders'])}/{int(row['evaluable'])}",
            interval_text(row["response_rate"], row["ci_low"], row["ci_high"]),
            "–" if _missing(row["certainty"]) else str(row["certainty"]),
        )
    return table


def treatments_output(frame: pd.DataFrame, fmt: str) -> Table | str:
    """What ``kb treatments --format FMT`` prints for a :func:`queries.treatments_for` table.

    ``table`` is :func:`treatments_table`; ``csv`` and ``json`` carry every column (lists
    joined by ``"; "`` in CSV, whose text cells are guarded as the exports' are; not
    reported is an empty cell or ``null``).

    Raises:
        ValueError: ``fmt`` is not one of :data:`OUTPUT_FORMATS`.
    """
    if fmt == "table":
        return treatments_table(frame)
    if fmt == "csv":
        return str(csv_frame(frame).to_csv(index=False, lineterminator="\n"))
    if fmt == "json":
        rows = [{k: plain_value(v) for k, v in row.items()} for row in frame.to_dict("records")]
        return json.dumps(rows, ensure_ascii=False, indent=1, allow_nan=False)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
