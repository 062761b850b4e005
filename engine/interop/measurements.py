"""Every measurement of a study as rows: caliper values in the region's units, and stored values.

Calipers (distance, ellipse, area, angle) are measured by ``engine.measurement``, the rule the
app's calipers use: with the mm per pixel of the ultrasound region under the points, in pixels
(flagged uncalibrated) where the frame is not calibrated. Stored values (``value`` annotations
such as ``EF (%)``) keep the unit written in their name. Each row carries the UCUM code used by
DICOM SR.

A caliper whose points cannot be measured together (different regions, or no spatial scale
under them), and a stored value that is not a finite number (e.g. a model's measurement it
could not make), is a row with ``problem`` set and no value. Every export treats such a row
the same way: the report states "not measurable (problem)"; the CSV and the SR leave it out
and say why in the export's notes (``not_measured_notes``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.calipers import FORMULAS
from engine.interop.project_data import StudyData
from engine.measurement import NOT_A_NUMBER, MeasureError, measure

Point = tuple[float, float]

# display unit -> (UCUM code, meaning)
UCUM: dict[str, tuple[str, str]] = {
    "mm": ("mm", "millimeter"),
    "mm²": ("mm2", "square millimeter"),
    "mm2": ("mm2", "square millimeter"),
    "cm": ("cm", "centimeter"),
    "cm2": ("cm2", "square centimeter"),
    "ml": ("ml", "milliliter"),
    "deg": ("deg", "degree"),
    "%": ("%", "percent"),
    "s": ("s", "second"),
    "ms": ("ms", "millisecond"),
    "cm/s": ("cm/s", "centimeter per second"),
    "px": ("{pixel}", "pixel"),
    "px²": ("{pixel}2", "square pixel"),
    "px2": ("{pixel}2", "square pixel"),
}
NO_UNIT = ("1", "no units")


@dataclass(frozen=True)
class MeasurementRow:
    """One measurement of a study.

    Attributes:
        annotation_id: the annotation measured.
        kind: "distance", "ellipse", "area", "angle" or "value".
        name: a readable name ("distance", "EF", ...).
        frame: the frame index, -1 for study-wide values.
        label: the label's name, "" when none.
        value: the number; NaN when ``problem`` is set.
        unit: the unit as the app shows it ("mm", "mm²", "deg", "%", "px"); "" when ``problem``
            is set.
        calibrated: False when measured in pixels (or not measured).
        points: the geometry, pixels of the original frame.
        origin: "human_final" or "ai_draft".
        problem: why there is no value ("" when there is one).
    """

    annotation_id: str
    kind: str
    name: str
    frame: int
    label: str
    value: float
    unit: str
    calibrated: bool
    points: tuple[Point, ...]
    origin: str
    problem: str = ""

    @property
    def ucum(self) -> tuple[str, str]:
        """(UCUM code, meaning) of ``unit``."""
        return UCUM.get(self.unit, NO_UNIT)


_NAMED_UNIT = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)\s*$")


def split_name(name: str) -> tuple[str, str, bool]:
    """``"EF (%)"`` -> ("EF", "%", True); ``"area (mm2, uncalibrated)"`` -> ("area", "mm2", False)."""
    match = _NAMED_UNIT.match(name)
    if not match:
        return name, "", True
    parts = [p.strip() for p in match["unit"].split(",")]
    return match["name"], parts[0], "uncalibrated" not in parts[1:]


def study_measurements(study: StudyData, label_names: dict[int, str]) -> list[MeasurementRow]:
    """Every caliper and numeric value of ``study``, in stored order (opens the clip once)."""
    rows: list[MeasurementRow] = []
    calipers = [a for a in study.annotations if a.kind in FORMULAS]
    cine = study.open() if calipers else None
    try:
        for a in study.annotations:
            label = label_names.get(a.label_id, "") if a.label_id else ""
            problem = ""
            if a.kind in FORMULAS and cine is not None:
                name = a.name or a.kind
                try:
                    m = measure(a.kind, a.points, cine.calibration_for(a.frame))
                except MeasureError as err:
                    value, unit, calibrated, problem = math.nan, "", False, str(err)
                else:
                    value, unit, calibrated = m.value, m.unit, m.calibrated
            elif a.kind == "value" and isinstance(a.value, int | float):
                name, unit, calibrated = split_name(a.name or "value")
                value = float(a.value)
                if not math.isfinite(value):
                    value, unit, calibrated, problem = math.nan, "", False, NOT_A_NUMBER
            else:
                continue
            rows.append(
                MeasurementRow(
                    a.id,
                    a.kind,
                    name,
                    a.frame,
                    label,
                    value,
                    unit,
                    calibrated,
                    a.points,
                    a.origin.value,
                    problem,
                )
            )
    finally:
        if cine is not None:
            cine.close()
    return rows


def not_measured_notes(study_name: str, rows: Sequence[MeasurementRow]) -> tuple[str, ...]:
    """One note per row without a value: ``"<study>: <name> on frame <n> not measured: <why>"``."""
    return tuple(
        f"{study_name}: {m.name} {'of the study' if m.frame < 0 else f'on frame {m.frame}'} "
        f"not measured: {m.problem}"
        for m in rows
        if m.problem
    )
