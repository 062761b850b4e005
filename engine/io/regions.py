"""Calibration of DICOM ultrasound frames: SequenceOfUltrasoundRegions, then PixelSpacing.

Region attributes follow PS3.3 C.8.5.5 (US Region Calibration module). Centimetres are
converted to millimetres; the other units keep their own. Bounds are clamped to the image,
because real files (for example downscaled exports) carry regions that reach outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from engine.io.calibration import DATA_TYPES, UNCALIBRATED, Calibration, Region

# PhysicalUnitsX/YDirection code -> (unit after conversion, factor applied to the value)
UNIT_CODES: dict[int, tuple[str, float]] = {
    0: ("none", 1.0),
    1: ("%", 1.0),
    2: ("dB", 1.0),
    3: ("mm", 10.0),  # cm -> mm
    4: ("s", 1.0),
    5: ("Hz", 1.0),
    6: ("dB/s", 1.0),
    7: ("cm/s", 1.0),
    8: ("cm2", 1.0),
    9: ("cm2/s", 1.0),
    10: ("cm3", 1.0),
    11: ("cm3/s", 1.0),
    12: ("deg", 1.0),
}


UNCALIBRATED_NOTE = "no physical calibration: measurements are in pixels"


@dataclass(frozen=True)
class RegionReport:
    """Regions of one object, plus the items dropped because they lie entirely outside the image.

    Attributes:
        regions: the usable regions, clamped.
        outside: for each dropped item, its bounds as stored and its data type.
    """

    regions: tuple[Region, ...]
    outside: tuple[dict[str, object], ...] = ()

    @property
    def dropped(self) -> int:
        """How many items were dropped."""
        return len(self.outside)


def _unit(code: object) -> tuple[str, float]:
    try:
        return UNIT_CODES.get(int(code), ("none", 1.0))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ("none", 1.0)


def _scaled(value: object, factor: float) -> float | None:
    try:
        out = float(value) * factor  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if out != 0.0 else None


def _clamp(lo: int, hi: int, size: int) -> tuple[int, int] | None:
    lo, hi = min(lo, hi), max(lo, hi)
    if hi < 0 or lo > size - 1:
        return None
    return max(lo, 0), min(hi, size - 1)


def region_from_item(item: Dataset, rows: int, columns: int) -> Region | None:
    """One SequenceOfUltrasoundRegions item as a Region, or None when it lies outside the image.

    Args:
        item: the sequence item.
        rows: image height in pixels.
        columns: image width in pixels.
    """
    x0, y0 = int(item.get("RegionLocationMinX0", 0)), int(item.get("RegionLocationMinY0", 0))
    x1 = int(item.get("RegionLocationMaxX1", columns - 1))
    y1 = int(item.get("RegionLocationMaxY1", rows - 1))
    xs, ys = _clamp(x0, x1, columns), _clamp(y0, y1, rows)
    if xs is None or ys is None:
        return None
    unit_x, fx = _unit(item.get("PhysicalUnitsXDirection", 0))
    unit_y, fy = _unit(item.get("PhysicalUnitsYDirection", 0))
    ref_px = None
    if "ReferencePixelX0" in item and "ReferencePixelY0" in item:
        ref_px = (float(item.ReferencePixelX0), float(item.ReferencePixelY0))
    ref_val = None
    if "ReferencePixelPhysicalValueX" in item and "ReferencePixelPhysicalValueY" in item:
        ref_val = (
            float(item.ReferencePixelPhysicalValueX) * fx,
            float(item.ReferencePixelPhysicalValueY) * fy,
        )
    return Region(
        x0=xs[0],
        y0=ys[0],
        x1=xs[1],
        y1=ys[1],
        spacing_x=_scaled(item.get("PhysicalDeltaX"), fx),
        spacing_y=_scaled(item.get("PhysicalDeltaY"), fy),
        unit_x=unit_x,
        unit_y=unit_y,
        data_type=DATA_TYPES.get(int(item.get("RegionDataType", 0)), "none"),
        spatial_format=int(item.get("RegionSpatialFormat", 0)),
        reference_pixel=ref_px,
        clamped=(xs, ys) != ((x0, x1), (y0, y1)),
        reference_value=ref_val,
    )


def ultrasound_regions(ds: Dataset, rows: int, columns: int) -> RegionReport:
    """Every item of SequenceOfUltrasoundRegions, clamped to a ``rows x columns`` image."""
    items: Sequence[Dataset] = ds.get("SequenceOfUltrasoundRegions") or ()
    kept, outside = [], []
    for item in items:
        region = region_from_item(item, rows, columns)
        if region is not None:
            kept.append(region)
            continue
        bounds = ("RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1")
        raw: dict[str, object] = {k: int(item.get(k, 0)) for k in bounds}
        raw["data_type"] = DATA_TYPES.get(int(item.get("RegionDataType", 0)), "none")
        outside.append(raw)
    return RegionReport(tuple(kept), tuple(outside))


def _spacing(ds: Dataset | None) -> tuple[float, float] | None:
    value = None if ds is None else ds.get("PixelSpacing")
    if value is None or len(value) != 2:
        return None
    row, col = float(value[0]), float(value[1])
    return (row, col) if row > 0 and col > 0 else None


def _measures(group: Dataset | None) -> Dataset | None:
    seq = None if group is None else group.get("PixelMeasuresSequence")
    return seq[0] if seq else None


def calibration_from(regions: tuple[Region, ...], spacing: tuple[float, float] | None) -> Calibration:
    """Regions first, PixelSpacing as fallback, else uncalibrated (never a guessed 1 mm/pixel)."""
    if regions:
        return Calibration(regions=regions, pixel_spacing=spacing, source="regions")
    if spacing is not None:
        return Calibration(pixel_spacing=spacing, source="pixel_spacing")
    return UNCALIBRATED


def dicom_calibration(ds: Dataset, rows: int, columns: int) -> tuple[Calibration, RegionReport]:
    """Calibration shared by every frame of a DICOM object."""
    report = ultrasound_regions(ds, rows, columns)
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    spacing = _spacing(ds) or _spacing(_measures(shared))
    return calibration_from(report.regions, spacing), report


def per_frame_calibrations(ds: Dataset, base: Calibration, frames: int) -> tuple[Calibration, ...] | None:
    """Per-frame calibration from PerFrameFunctionalGroupsSequence (Enhanced US), if it varies.

    Returns:
        One Calibration per frame, or None when every frame shares ``base``.
    """
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if not groups or len(groups) != frames:
        return None
    out = []
    for group in groups:
        spacing = _spacing(_measures(group))
        out.append(base if spacing is None else calibration_from(base.regions, spacing))
    return None if all(c == base for c in out) else tuple(out)


def calibration_notes(calibration: Calibration, report: RegionReport) -> list[str]:
    """Plain-language warnings about a calibration, for ``echocare info`` and the app."""
    notes = []
    clamped = sum(r.clamped for r in report.regions)
    if clamped:
        notes.append(
            f"{clamped} region(s) reach outside the image and were clamped: the image may have been "
            "resized after calibration, so check distances"
        )
    if report.dropped:
        notes.append(f"{report.dropped} region(s) lie entirely outside the image and were left out")
    if not calibration.calibrated:
        notes.append(UNCALIBRATED_NOTE)
    return notes
