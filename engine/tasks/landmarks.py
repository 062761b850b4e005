"""Landmarks: sub-pixel heatmap peaks in original-frame pixels, and the card's named measurements.

Measurement kinds (``ModelCfg.measurements``): ``distance`` (2 points), ``angle`` (3 points,
the vertex second) and ``ellipse`` (4 points: the minor axis's ends, then the major axis's,
e.g. BPD then OFD ends). An ellipse measurement with a ``structure`` of the segmentation
head places its four points at the axis ends of the ellipse fitted to that structure's
outline in the same frame (``engine.tasks.ellipse``), each end given the name of the nearer
heatmap peak; its value is the circumference (e.g. HC) of the ellipse with those axes, so it
follows the points when a person moves them.

Each value is measured by ``engine.measurement``'s rule, as the app measures a caliper on the
same points: mm where the points share a calibrated region, px (flagged uncalibrated) on an
uncalibrated frame, NaN where they lie in different regions or where no spatial scale applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.provenance import ModelRef
from engine.tasks import units
from engine.tasks.base import CineContext, FrameContext, make_info
from engine.tasks.ellipse import FittedEllipse, fit_ellipse, match_ends
from engine.types import Landmarks, Quantity, SegmentationResult, TaskResult

POINTS_PER_KIND = {"distance": 2, "angle": 3, "ellipse": 4}


def subpixel_peak(heatmap: np.ndarray) -> tuple[float, float, float]:
    """(x, y, value) of the maximum of ``[h, w]``, refined by a quadratic fit along each axis.

    The refinement moves the integer argmax by at most half a pixel towards the higher
    neighbour: ``dx = (f(x+1) - f(x-1)) / (2 (2 f(x) - f(x-1) - f(x+1)))``, fitted to the
    logarithm of the heatmap where the three values are positive (exact for a Gaussian peak).
    """
    h, w = heatmap.shape
    y, x = divmod(int(np.argmax(heatmap)), w)
    peak = float(heatmap[y, x])

    def offset(lo: float, mid: float, hi: float) -> float:
        if min(lo, mid, hi) > 1e-6:
            lo, mid, hi = math.log(lo), math.log(mid), math.log(hi)
        curve = 2 * mid - lo - hi
        return 0.0 if curve <= 0 else float(np.clip((hi - lo) / (2 * curve), -0.5, 0.5))

    dx = offset(heatmap[y, x - 1], peak, heatmap[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = offset(heatmap[y - 1, x], peak, heatmap[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy, peak


def ellipse_through(
    minor_a: np.ndarray, minor_b: np.ndarray, major_a: np.ndarray, major_b: np.ndarray
) -> FittedEllipse:
    """The ellipse whose axes are the two diameters (centred on the major one's midpoint)."""
    centre = (np.asarray(major_a) + np.asarray(major_b)) / 2
    d = np.asarray(major_b, np.float64) - np.asarray(major_a, np.float64)
    half_major = float(np.hypot(*d)) / 2
    half_minor = float(np.hypot(*(np.asarray(minor_b, np.float64) - minor_a))) / 2
    return FittedEllipse(
        float(centre[0]), float(centre[1]), half_major, half_minor, float(math.atan2(d[1], d[0]))
    )


class LandmarkTask:
    """Peaks of ``heatmaps`` ``[L, h, w]``; distances, ellipse circumferences (mm) and angles
    (deg) from ``ModelCfg.measurements``."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        measurements = tuple(m for m in cfg.measurements if m.get("kind") in POINTS_PER_KIND)
        self.fitted = tuple(m for m in measurements if m["kind"] == "ellipse" and m.get("structure"))
        self.info = make_info(
            cfg, ref, "landmarks", "Landmarks", uses=("segmentation",) if self.fitted else ()
        )
        self.measurements = measurements
        names = set(self.info.labels)
        for m in self.measurements:
            points = list(m.get("points", ()))
            if len(points) != POINTS_PER_KIND[m["kind"]] or not set(points) <= names:
                raise ConfigError(
                    cfg.name, f"measurement {m.get('name')!r} needs landmarks among {sorted(names)}"
                )
        seg = cfg.heads_by_name.get("segmentation")
        for m in self.fitted:
            if seg is None or m["structure"] not in seg.labels:
                raise ConfigError(
                    cfg.name, f"measurement {m.get('name')!r} needs a segmented structure {m['structure']!r}"
                )

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> Landmarks:
        maps = outputs["heatmaps"]
        stride_y = ctx.geometry.input_size[0] / maps.shape[-2]
        stride_x = ctx.geometry.input_size[1] / maps.shape[-1]
        peaks = np.array([subpixel_peak(m) for m in maps], dtype=np.float64).reshape(-1, 3)
        model_pts = np.stack(
            [peaks[:, 0] * stride_x + (stride_x - 1) / 2, peaks[:, 1] * stride_y + (stride_y - 1) / 2], 1
        )
        points = ctx.geometry.clip_to_crop(ctx.geometry.points_to_original(model_pts))
        seg = ctx.results.get("segmentation")
        if isinstance(seg, SegmentationResult):
            points = self.snap_to_ellipses(points, seg)
        return self.result(ctx, points, np.clip(peaks[:, 2], 0.0, 1.0))

    def snap_to_ellipses(self, points: np.ndarray, seg: SegmentationResult) -> np.ndarray:
        """``points`` with each fitted measurement's four moved to its structure's ellipse axis ends
        (unchanged where the structure is missing from the frame or too small to fit)."""
        out = points.copy()
        for m in self.fitted:
            ellipse = fit_ellipse(seg.mask == seg.labels.index(m["structure"]) + 1)
            if ellipse is None:
                continue
            idx = [self.info.labels.index(p) for p in m["points"]]
            out[idx[:2]] = match_ends(ellipse.minor_ends(), points[idx[:2]])
            out[idx[2:]] = match_ends(ellipse.major_ends(), points[idx[2:]])
        return out

    def result(self, ctx: FrameContext, points: np.ndarray, scores: np.ndarray) -> Landmarks:
        """Landmarks at original-frame ``points`` ``[L, 2]`` with the declared measurements."""
        where = {name: points[i] for i, name in enumerate(self.info.labels)}
        values = []
        for m in self.measurements:
            pts = [where[p] for p in m["points"]]
            if m["kind"] == "distance":
                values.append(units.distance(m["name"], pts[0], pts[1], ctx.calibration, ctx.index))
            elif m["kind"] == "ellipse":
                outline = ellipse_through(*pts).outline(120)
                values.append(units.perimeter(m["name"], outline, ctx.calibration, ctx.index))
            else:
                values.append(units.angle(m["name"], pts[0], pts[1], pts[2], ctx.calibration, ctx.index))
        return Landmarks(
            ctx.index, self.info.labels, points, scores.astype(np.float32), tuple(values), self.info.model
        )

    def summarize(
        self, frames: Sequence[Landmarks], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Quantity, ...]:
        """Each measurement's mean over the frames where it was measured (NaN where none was)."""
        if not frames or not self.measurements:
            return ()
        out = []
        for k in range(len(self.measurements)):
            per = [f.measurements[k] for f in frames if math.isfinite(f.measurements[k].value)]
            if not per:
                first = frames[0].measurements[k]
                out.append(Quantity(first.name, math.nan, first.unit, first.calibrated, None))
                continue
            calibrated = all(q.calibrated for q in per)
            unit = per[0].unit if calibrated else ("deg" if per[0].unit == "deg" else "px")
            if not calibrated and unit == "px" and any(q.unit == "mm" for q in per):
                per = [q for q in per if q.unit == "px"]
            out.append(Quantity(per[0].name, float(np.mean([q.value for q in per])), unit, calibrated, None))
        return tuple(out)
