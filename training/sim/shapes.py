"""Analytic shapes in physical coordinates (mm), with exact inside tests and areas.

Every shape answers ``inside(x, z)`` for arrays of points, so the same object paints the
echogenicity on the beam grid and the label at each output pixel centre.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

import numpy as np

_THETA = np.linspace(0.0, 2.0 * np.pi, 4096, endpoint=False)
_THETA_COARSE = np.linspace(0.0, 2.0 * np.pi, 1024, endpoint=False, dtype=np.float32)


class Shape(Protocol):
    """A region of the image plane."""

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray: ...

    def area_mm2(self) -> float: ...

    def bbox(self) -> tuple[float, float, float, float]: ...

    def moved(self, dx: float, dz: float) -> Shape: ...


def inside(shape: Shape, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``shape.inside(x, z)`` evaluated only within the shape's bounding box: same result, less work.

    Args:
        shape: any shape.
        x: lateral positions (mm), any shape of array.
        z: depths (mm), same shape as ``x``.

    Returns:
        Bool array shaped like ``x``.
    """
    x0, x1, z0, z1 = shape.bbox()
    xf, zf = np.ravel(x), np.ravel(z)
    idx = np.flatnonzero((xf >= x0) & (xf <= x1) & (zf >= z0) & (zf <= z1))
    out = np.zeros(xf.shape, dtype=bool)
    if idx.size:
        out[idx] = shape.inside(xf[idx], zf[idx])
    return out.reshape(np.shape(x))


def _local(x: np.ndarray, z: np.ndarray, cx: float, cz: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Points in a frame centred on (cx, cz) and rotated by ``angle`` (radians, x towards z)."""
    dx = x - np.float32(cx)
    dz = z - np.float32(cz)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return dx * c + dz * s, -dx * s + dz * c


@dataclass(frozen=True)
class Ellipse:
    """Ellipse with semi-axes ``a`` (along the rotated x axis) and ``b`` (mm), rotated by ``angle`` rad."""

    cx: float
    cz: float
    a: float
    b: float
    angle: float = 0.0

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        u, v = _local(x, z, self.cx, self.cz, self.angle)
        return (u / np.float32(self.a)) ** 2 + (v / np.float32(self.b)) ** 2 <= 1.0

    def area_mm2(self) -> float:
        return float(np.pi * self.a * self.b)

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, x1, z0, z1)`` in mm."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        hx, hz = np.hypot(self.a * c, self.b * s), np.hypot(self.a * s, self.b * c)
        return self.cx - hx, self.cx + hx, self.cz - hz, self.cz + hz

    def perimeter_mm(self) -> float:
        """Ramanujan's second approximation (relative error < 1e-9 for aspect ratios above 0.3)."""
        a, b = self.a, self.b
        h = ((a - b) / (a + b)) ** 2
        return float(np.pi * (a + b) * (1.0 + 3.0 * h / (10.0 + np.sqrt(4.0 - 3.0 * h))))

    def point(self, t: float) -> tuple[float, float]:
        """The boundary point at parameter ``t`` (radians), in physical coordinates."""
        u, v = self.a * np.cos(t), self.b * np.sin(t)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return float(self.cx + u * c - v * s), float(self.cz + u * s + v * c)

    def outline(self, n: int = 720) -> np.ndarray:
        """``[n, 2]`` boundary points (x, z) in mm."""
        t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
        u, v = self.a * np.cos(t), self.b * np.sin(t)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.stack([self.cx + u * c - v * s, self.cz + u * s + v * c], -1)

    def moved(self, dx: float, dz: float) -> Ellipse:
        return replace(self, cx=self.cx + dx, cz=self.cz + dz)


@dataclass(frozen=True)
class Radial:
    """Star-shaped region: boundary radius ``radius * (1 + sum_k amp_k cos(k t + phase_k) + spikes)``.

    Attributes:
        cx: centre x (mm).
        cz: centre z (mm).
        radius: base radius (mm).
        harmonics: ``((k, amplitude, phase), ...)`` smooth lobulation.
        spikes: ``((direction_rad, height, width_rad), ...)`` narrow spicules (Gaussian in angle).
        aspect: stretch of the second local axis (1 = round).
        angle: rotation (radians).
    """

    cx: float
    cz: float
    radius: float
    harmonics: tuple[tuple[int, float, float], ...] = ()
    spikes: tuple[tuple[float, float, float], ...] = ()
    aspect: float = 1.0
    angle: float = 0.0

    def boundary(self, t: np.ndarray) -> np.ndarray:
        """Boundary radius (mm, before the aspect stretch) at polar angles ``t``."""
        rel = np.ones_like(t)
        for k, amp, phase in self.harmonics:
            rel += amp * np.cos(k * t + phase)
        for direction, height, width in self.spikes:
            d = (t - direction + np.pi) % (2.0 * np.pi) - np.pi
            rel += height * np.exp(-0.5 * (d / width) ** 2)
        return self.radius * rel

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        u, v = _local(x, z, self.cx, self.cz, self.angle)
        v = v / np.float32(self.aspect)
        return np.hypot(u, v) <= self.boundary(np.arctan2(v, u)).astype(np.float32)

    def area_mm2(self) -> float:
        r = self.boundary(_THETA)
        return float(self.aspect * 0.5 * np.mean(r**2) * 2.0 * np.pi)

    def outline(self, n: int = 720) -> np.ndarray:
        """``[n, 2]`` boundary points (x, z) in mm."""
        t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
        r = self.boundary(t)
        u, v = r * np.cos(t), self.aspect * r * np.sin(t)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.stack([self.cx + u * c - v * s, self.cz + u * s + v * c], -1)

    @cached_property
    def _max_r(self) -> float:
        return float(self.boundary(_THETA_COARSE).max())

    def max_radius(self) -> float:
        return self._max_r * max(1.0, self.aspect)

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, x1, z0, z1)`` in mm (the square around the largest radius, with 2 % spare)."""
        r = 1.02 * self.max_radius()
        return self.cx - r, self.cx + r, self.cz - r, self.cz + r

    def moved(self, dx: float, dz: float) -> Radial:
        return replace(self, cx=self.cx + dx, cz=self.cz + dz)


@dataclass(frozen=True)
class Annulus:
    """The part of ``outer`` not inside ``inner`` (e.g. a skull or a myocardial wall)."""

    outer: Ellipse
    inner: Ellipse

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.outer.inside(x, z) & ~self.inner.inside(x, z)

    def area_mm2(self) -> float:
        return self.outer.area_mm2() - self.inner.area_mm2()

    def bbox(self) -> tuple[float, float, float, float]:
        return self.outer.bbox()

    def moved(self, dx: float, dz: float) -> Annulus:
        return Annulus(self.outer.moved(dx, dz), self.inner.moved(dx, dz))


@dataclass(frozen=True)
class Tube:
    """Points within ``radius`` (mm) of a polyline ``points`` (``((x, z), ...)`` in mm): a vessel."""

    points: tuple[tuple[float, float], ...]
    radius: float

    def distance(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Distance (mm) from each point to the centre line."""
        best = np.full(np.shape(x), np.inf, dtype=np.float32)
        pts = np.asarray(self.points, dtype=np.float32)
        for (ax, az), (bx, bz) in itertools.pairwise(pts):
            ex, ez = bx - ax, bz - az
            t = np.clip(((x - ax) * ex + (z - az) * ez) / max(float(ex * ex + ez * ez), 1e-12), 0.0, 1.0)
            best = np.minimum(best, np.hypot(x - (ax + t * ex), z - (az + t * ez)))
        return best

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(x), dtype=bool)
        r, r2 = np.float32(self.radius), np.float32(self.radius) ** 2
        pts = np.asarray(self.points, dtype=np.float32)
        for (ax, az), (bx, bz) in itertools.pairwise(pts):
            # only points in the segment's box grown by the radius can be within reach
            near = np.flatnonzero(
                (x >= min(ax, bx) - r)
                & (x <= max(ax, bx) + r)
                & (z >= min(az, bz) - r)
                & (z <= max(az, bz) + r)
            )
            if near.size == 0:
                continue
            px, pz = x.ravel()[near], z.ravel()[near]
            ex, ez = bx - ax, bz - az
            t = np.clip(((px - ax) * ex + (pz - az) * ez) / max(float(ex * ex + ez * ez), 1e-12), 0.0, 1.0)
            hit = (px - (ax + t * ex)) ** 2 + (pz - (az + t * ez)) ** 2 <= r2
            out.ravel()[near[hit]] = True
        return out

    def bbox(self) -> tuple[float, float, float, float]:
        pts = np.asarray(self.points, dtype=np.float64)
        r = self.radius
        return pts[:, 0].min() - r, pts[:, 0].max() + r, pts[:, 1].min() - r, pts[:, 1].max() + r

    def length_mm(self) -> float:
        pts = np.asarray(self.points, dtype=np.float64)
        return float(np.hypot(*np.diff(pts, axis=0).T).sum())

    def area_mm2(self) -> float:
        """Area of a straight or gently curved tube: length x diameter plus the two round caps."""
        return 2.0 * self.radius * self.length_mm() + np.pi * self.radius**2

    def moved(self, dx: float, dz: float) -> Tube:
        return Tube(tuple((px + dx, pz + dz) for px, pz in self.points), self.radius)


@dataclass(frozen=True)
class Band:
    """A tissue layer between depths ``z0`` and ``z1`` (mm), e.g. skin, fat or muscle."""

    z0: float
    z1: float

    def inside(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        return (z >= self.z0) & (z < self.z1)

    def area_mm2(self) -> float:
        return float("inf")

    def bbox(self) -> tuple[float, float, float, float]:
        return -np.inf, np.inf, self.z0, self.z1

    def moved(self, dx: float, dz: float) -> Band:
        return Band(self.z0 + dz, self.z1 + dz)
