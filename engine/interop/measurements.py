"""Every measurement of a study as rows: caliper values in the region's units, and stored values.

Calipers (distance, ellipse, area, angle) are measured exactly as the app measures them: with
the mm per pixel of the ultrasound region under the points, in pixels where the frame is not
calibrated. Stored values (``value`` annotations such as ``EF (%)``) keep the unit written in
their name. Each row carries the UCUM code used by DICOM SR.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.calipers import FORMULAS
from engine.interop.project_data import StudyData
from engine.io.calibration import Calibration

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
        value: the number.
        unit: the unit as the app shows it ("mm", "mm²", "deg", "%", "px").
        calibrated: False when measured in pixels.
        points: the geometry, pixels of the original frame.
        origin: "human_final" or "ai_draft".
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

    @property
    def ucum(self) -> tuple[str, str]:
        """(UCUM code, meaning) of ``unit``."""
        return UCUM.get(self.unit, NO_UNIT)


def _scale(points: Sequence[Point], cal: Calibration) -> tuple[float, float] | None:
    """The common mm/px of all points; None when uncalibrated or spread over regions."""
    if not cal.calibrated:
        return None
    if cal.regions and len({cal.region_at(x, y) for x, y in points}) > 1:
        return None
    scales = {cal.mm_per_pixel_at(x, y) for x, y in points}
    return None if None in scales or len(scales) != 1 else next(iter(scales))


_NAMED_UNIT = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)\s*$")


def caliper(kind: str, points: Sequence[Point], cal: Calibration) -> tuple[float, str, bool]:
    """(value, unit, calibrated) of a caliper of ``kind`` on a frame with calibration ``cal``."""
    formula, unit, raw_unit = FORMULAS[kind]
    scale = _scale(points, cal)
    sx, sy = scale or (1.0, 1.0)
    value = formula([(x * sx, y * sy) for x, y in points])
    return value, unit if scale else raw_unit, scale is not None


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
            points = tuple((float(x), float(y)) for x, y in a.data.get("points", []))
            if a.kind in FORMULAS and cine is not None:
                value, unit, calibrated = caliper(a.kind, points, cine.calibration_for(a.frame))
                name = str(a.data.get("name") or a.kind)
            elif a.kind == "value" and isinstance(a.data.get("value"), int | float):
                name, unit, calibrated = split_name(str(a.data.get("name", "value")))
                value = float(a.data["value"])
            else:
                continue
            rows.append(
                MeasurementRow(
                    a.id, a.kind, name, a.frame, label, value, unit, calibrated, points, a.origin.value
                )
            )
    finally:
        if cine is not None:
            cine.close()
    return rows
