"""Report text written from ground-truth values: every number in a report is one of the values.

A report is a title, findings and an impression. Numbers are never typed into templates:
they are formatted from :class:`Quantity` objects with :func:`fmt`, to a fixed number of
decimals, so a reader (or a test) can map every number back to a structured value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from training.sim.truth import Quantity

DECIMALS = {"%": 0, "count": 0, "bpm": 0, "mL": 1, "mm": 1, "mm2": 0, "weeks": 1, "dB": 0}
UNIT_TEXT = {"mm2": "mm²", "count": ""}
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def fmt(q: Quantity) -> str:
    """``Quantity(55.23, "%")`` -> ``"55 %"``; decimals follow the unit (see ``DECIMALS``)."""
    text = f"{q.value:.{DECIMALS.get(q.unit, 1)}f}"
    unit = UNIT_TEXT.get(q.unit, q.unit)
    return f"{text} {unit}".strip()


def compose(title: str, findings: Sequence[str], impression: str) -> str:
    """Assemble the structured report text."""
    lines = [title, "", "Findings:"]
    lines += [f"- {f}" for f in findings]
    lines += ["", f"Impression: {impression}", "", "Simulated study: not for clinical use."]
    return "\n".join(lines)


def numbers_in(text: str) -> list[float]:
    """Every number written in a report, in order of appearance."""
    return [float(m) for m in _NUMBER.findall(text)]


def formatted_values(values: Mapping[str, Quantity]) -> set[float]:
    """The numbers a report may contain: each value rounded as :func:`fmt` writes it."""
    return {round(q.value, DECIMALS.get(q.unit, 1)) for q in values.values()}
