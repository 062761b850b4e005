"""Probe geometry and scan conversion: beam grid <-> output pixels <-> millimetres.

Coordinates:
    * physical: ``x`` lateral (mm, 0 on the probe axis, positive to the right) and ``z``
      depth (mm, 0 at the centre of the transducer face, positive into the body);
    * beam: ``r`` depth along the beam from the face (mm) and ``u`` lateral beam coordinate
      (mm for linear probes, radians for sectors);
    * image: ``(x, y)`` = (column, row) with pixel centres at integers, isotropic spacing.

Echoes are formed on a regular ``[S, B]`` grid of samples x beams and remapped onto the
image with ``cv2.remap``; labels are evaluated directly at pixel centres, so they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import cv2
import numpy as np

from engine.registry import Registry
from training.sim.config import ProbeGeometry

# Fractions of the image kept free around the fan for burned-in text and the depth scale.
MARGIN_TOP = 0.14
MARGIN_BOTTOM = 0.03
MARGIN_LEFT = 0.06
MARGIN_RIGHT = 0.12


class BeamMap(Protocol):
    """Maps physical points to beam coordinates and back for one probe."""

    depth_mm: float
    u_range: tuple[float, float]

    def to_beam(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def from_beam(self, r: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def bbox(self) -> tuple[float, float, float, float]: ...

    def mm_per_u(self, r: float) -> float: ...


BEAM_MAPS: Registry[type] = Registry("probe kind")


@BEAM_MAPS.register("linear")
class LinearBeams:
    """Parallel beams across a flat aperture: ``u`` is the lateral position in mm."""

    def __init__(self, probe: ProbeGeometry) -> None:
        self.depth_mm = probe.depth_mm
        self.u_range = (-probe.width_mm / 2.0, probe.width_mm / 2.0)

    def to_beam(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(z, dtype=np.float64), np.asarray(x, dtype=np.float64)

    def from_beam(self, r: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(u, dtype=np.float64), np.asarray(r, dtype=np.float64)

    def bbox(self) -> tuple[float, float, float, float]:
        return self.u_range[0], self.u_range[1], 0.0, self.depth_mm

    def mm_per_u(self, r: float) -> float:
        return 1.0


@BEAM_MAPS.register("convex")
@BEAM_MAPS.register("phased")
class SectorBeams:
    """Beams fanning out from an apex ``radius_mm`` behind the face: ``u`` is the angle in radians."""

    def __init__(self, probe: ProbeGeometry) -> None:
        self.depth_mm = probe.depth_mm
        self.radius = probe.radius_mm
        half = np.deg2rad(probe.angle_deg) / 2.0
        self.u_range = (-half, half)

    def to_beam(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zz = np.asarray(z, dtype=np.float64) + self.radius
        xx = np.asarray(x, dtype=np.float64)
        return np.hypot(xx, zz) - self.radius, np.arctan2(xx, zz)

    def from_beam(self, r: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rr = np.asarray(r, dtype=np.float64) + self.radius
        return rr * np.sin(u), rr * np.cos(u) - self.radius

    def bbox(self) -> tuple[float, float, float, float]:
        half = self.u_range[1]
        outer = self.radius + self.depth_mm
        top = self.radius * np.cos(half) - self.radius
        return -outer * np.sin(half), outer * np.sin(half), float(top), self.depth_mm

    def mm_per_u(self, r: float) -> float:
        return self.radius + r


@dataclass(frozen=True, eq=False)
class Scanner:
    """Everything fixed by (probe, image size): grids, fan mask and the remap tables.

    Attributes:
        probe: the probe geometry.
        beams: its beam map.
        spacing_mm: isotropic pixel spacing (mm per pixel) of the output image.
        origin: ``(cx, cy)``, image coordinates of the physical origin (x = 0, z = 0).
        pix_x: ``[H, W]`` physical x of every pixel centre (mm).
        pix_z: ``[H, W]`` physical z of every pixel centre (mm).
        fan_mask: ``[H, W]`` bool, pixels inside the imaged fan.
        map_x: ``[H, W]`` float32 beam index of every pixel (for ``cv2.remap``).
        map_y: ``[H, W]`` float32 sample index of every pixel.
        beam_r: ``[S]`` depth of the sample centres (mm).
        beam_u: ``[B]`` lateral coordinate of the beam centres.
        beam_x: ``[S, B]`` physical x of every beam-grid sample (mm).
        beam_z: ``[S, B]`` physical z of every beam-grid sample (mm).
    """

    probe: ProbeGeometry
    beams: BeamMap
    spacing_mm: float
    origin: tuple[float, float]
    pix_x: np.ndarray
    pix_z: np.ndarray
    fan_mask: np.ndarray
    map_x: np.ndarray
    map_y: np.ndarray
    beam_r: np.ndarray
    beam_u: np.ndarray
    beam_x: np.ndarray
    beam_z: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Output image ``(H, W)``."""
        return self.fan_mask.shape  # type: ignore[return-value]

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Beam grid ``(S, B)``."""
        return self.beam_x.shape  # type: ignore[return-value]

    def mm_to_px(self, x: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
        """Physical points (mm) to image coordinates; returns ``[..., 2]`` as (x, y) pixels."""
        cx, cy = self.origin
        return np.stack([np.asarray(x) / self.spacing_mm + cx, np.asarray(z) / self.spacing_mm + cy], -1)

    def px_to_mm(self, col: np.ndarray | float, row: np.ndarray | float) -> np.ndarray:
        """Image coordinates to physical points; returns ``[..., 2]`` as (x, z) mm."""
        cx, cy = self.origin
        return np.stack(
            [(np.asarray(col) - cx) * self.spacing_mm, (np.asarray(row) - cy) * self.spacing_mm], -1
        )

    def fan_bbox_px(self) -> tuple[int, int, int, int]:
        """Inclusive ``(x0, y0, x1, y1)`` pixel bounds of the fan."""
        rows = np.flatnonzero(self.fan_mask.any(axis=1))
        cols = np.flatnonzero(self.fan_mask.any(axis=0))
        return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])

    def scan_convert(self, grid: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Resample a ``[S, B]`` float32 beam-grid image onto the ``[H, W]`` output; 0 outside the fan."""
        out = cv2.remap(grid, self.map_x, self.map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
        out[~self.fan_mask] = 0
        return out


def _layout(bbox: tuple[float, float, float, float], height: int, width: int) -> tuple[float, float, float]:
    """Spacing (mm/pixel) and pixel origin that fit the fan box into the free part of the image."""
    bx0, bx1, bz0, bz1 = bbox
    avail_w = width * (1.0 - MARGIN_LEFT - MARGIN_RIGHT)
    avail_h = height * (1.0 - MARGIN_TOP - MARGIN_BOTTOM)
    spacing = max((bx1 - bx0) / avail_w, (bz1 - bz0) / avail_h)
    left = width * MARGIN_LEFT + (avail_w - (bx1 - bx0) / spacing) / 2.0
    cx = left - bx0 / spacing
    cy = height * MARGIN_TOP - bz0 / spacing
    return float(spacing), float(cx), float(cy)


@lru_cache(maxsize=32)
def make_scanner(probe: ProbeGeometry, height: int, width: int, beam_density: float = 0.5) -> Scanner:
    """Build (and cache) the scan-conversion tables for one probe and output size.

    Args:
        probe: the probe geometry.
        height: output rows.
        width: output columns.
        beam_density: beams per pixel of fan width at full depth.
    """
    beams: BeamMap = BEAM_MAPS.get(probe.kind)(probe)
    spacing, cx, cy = _layout(beams.bbox(), height, width)
    rows, cols = np.mgrid[0:height, 0:width]
    pix_x = (cols - cx) * spacing
    pix_z = (rows - cy) * spacing
    r, u = beams.to_beam(pix_x, pix_z)
    u0, u1 = beams.u_range
    depth = probe.depth_mm
    n_samples = max(32, int(np.ceil(depth / spacing)))
    fan_width_px = (u1 - u0) * beams.mm_per_u(depth) / spacing
    n_beams = max(32, int(np.ceil(fan_width_px * beam_density)))
    dr = depth / n_samples
    du = (u1 - u0) / n_beams
    fan = (r >= 0) & (r <= depth) & (u >= u0) & (u <= u1)
    beam_r = (np.arange(n_samples) + 0.5) * dr
    beam_u = u0 + (np.arange(n_beams) + 0.5) * du
    bx, bz = np.broadcast_arrays(*beams.from_beam(beam_r[:, None], beam_u[None, :]))
    return Scanner(
        probe=probe,
        beams=beams,
        spacing_mm=spacing,
        origin=(cx, cy),
        pix_x=pix_x.astype(np.float32),
        pix_z=pix_z.astype(np.float32),
        fan_mask=fan,
        map_x=((u - u0) / du - 0.5).astype(np.float32),
        map_y=(r / dr - 0.5).astype(np.float32),
        beam_r=beam_r,
        beam_u=beam_u,
        beam_x=bx.astype(np.float32),
        beam_z=bz.astype(np.float32),
    )
