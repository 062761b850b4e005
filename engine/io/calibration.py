"""Physical calibration of ultrasound frames: regions (SequenceOfUltrasoundRegions) and pixel spacing.

All coordinates are pixels of the original frame, x to the right (columns), y down (rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Units of PhysicalUnitsXDirection / YDirection (DICOM PS3.3 C.8.5.5.1.15) after conversion:
# centimetres become millimetres; everything else keeps its unit.
UNITS = ("none", "%", "dB", "mm", "s", "Hz", "dB/s", "cm/s", "cm2", "cm2/s", "cm3", "cm3/s", "deg")

# RegionDataType (C.8.5.5.1.2)
DATA_TYPES = {
    0: "none",
    1: "tissue",
    2: "color_flow",
    3: "pw_doppler",
    4: "cw_doppler",
    5: "doppler_mean_trace",
    6: "doppler_mode_trace",
    7: "doppler_max_trace",
    8: "volume_trace",
    9: "d_volume_trace",
    10: "ecg_trace",
    11: "pulse_trace",
    12: "phonocardiogram_trace",
    13: "gray_bar",
    14: "color_bar",
    15: "integrated_backscatter",
    16: "area_trace",
    17: "d_area",
    18: "other_physiological_input",
}


@dataclass(frozen=True)
class Region:
    """One ultrasound region with its own physical scale.

    Bounds are inclusive pixel indices, already clamped to the image. ``spacing_x`` and
    ``spacing_y`` are physical units per pixel in ``unit_x`` / ``unit_y`` (mm for tissue).
    ``clamped`` records that the file's bounds reached outside the image.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    spacing_x: float | None
    spacing_y: float | None
    unit_x: str
    unit_y: str
    data_type: str = "none"
    spatial_format: int = 0
    reference_pixel: tuple[float, float] | None = None
    clamped: bool = False
    reference_value: tuple[float, float] | None = None  # physical value at reference_pixel, in unit_x/y

    def contains(self, x: float, y: float) -> bool:
        """Whether the pixel ``(x, y)`` lies inside the (inclusive) bounds."""
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    @property
    def n_pixels(self) -> int:
        """How many pixels the region covers."""
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)

    @property
    def is_spatial(self) -> bool:
        """Both axes are in mm, so distances and areas are meaningful."""
        return self.unit_x == "mm" and self.unit_y == "mm" and bool(self.spacing_x) and bool(self.spacing_y)

    def as_dict(self) -> dict[str, object]:
        return {
            "x0": self.x0,
            "y0": self.y0,
            "x1": self.x1,
            "y1": self.y1,
            "spacing_x": self.spacing_x,
            "spacing_y": self.spacing_y,
            "unit_x": self.unit_x,
            "unit_y": self.unit_y,
            "data_type": self.data_type,
            "spatial_format": self.spatial_format,
            "clamped": self.clamped,
            "reference_pixel": list(self.reference_pixel) if self.reference_pixel else None,
            "reference_value": list(self.reference_value) if self.reference_value else None,
        }


@dataclass(frozen=True)
class Calibration:
    """How pixels of one frame map to physical units.

    ``source`` is ``"regions"``, ``"pixel_spacing"`` or ``"none"``. An uncalibrated frame has
    no spatial scale at all: callers must report pixels and flag it, never assume 1 mm/pixel.
    """

    regions: tuple[Region, ...] = ()
    pixel_spacing: tuple[float, float] | None = None  # (row spacing, column spacing) in mm
    source: str = "none"

    @property
    def calibrated(self) -> bool:
        return self.source != "none" and (
            any(r.is_spatial for r in self.regions) or self.pixel_spacing is not None
        )

    def region_at(self, x: float, y: float) -> Region | None:
        """The region containing the point; the smallest one where regions overlap."""
        hits = [r for r in self.regions if r.contains(x, y)]
        if not hits:
            return None
        return min(hits, key=lambda r: r.n_pixels)

    def mm_per_pixel_at(self, x: float, y: float) -> tuple[float, float] | None:
        """(mm per pixel along x, along y) at a point, or None where no spatial scale applies."""
        return self.scale_in(self.region_at(x, y))

    def mm_per_pixel_of(self, points: np.ndarray) -> np.ndarray:
        """``mm_per_pixel_at`` of each of ``[N, 2]`` (x, y) points as ``[N, 2]``, NaN where None;
        computed region by region rather than point by point."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        xs, ys = pts[:, 0], pts[:, 1]
        inside = np.full(len(pts), -1, dtype=np.intp)  # index into regions, -1 outside all
        for i in sorted(range(len(self.regions)), key=lambda i: self.regions[i].n_pixels):
            r = self.regions[i]
            inside[(inside < 0) & (xs >= r.x0) & (xs <= r.x1) & (ys >= r.y0) & (ys <= r.y1)] = i
        out = np.full((len(pts), 2), np.nan)
        for i in np.unique(inside):
            scale = self.scale_in(self.regions[i] if i >= 0 else None)
            if scale is not None:
                out[inside == i] = scale
        return out

    def scale_in(self, region: Region | None) -> tuple[float, float] | None:
        """The (mm per pixel x, y) of a point whose smallest enclosing region is ``region`` (None:
        in no region), or None where no spatial scale applies."""
        if self.regions:
            if region is not None and region.is_spatial:
                return float(region.spacing_x), float(region.spacing_y)  # type: ignore[arg-type]
            if self.source == "regions":
                return None
        if self.pixel_spacing is not None:
            row, col = self.pixel_spacing
            return col, row
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "calibrated": self.calibrated,
            "pixel_spacing": list(self.pixel_spacing) if self.pixel_spacing else None,
            "regions": [r.as_dict() for r in self.regions],
        }


UNCALIBRATED = Calibration()
