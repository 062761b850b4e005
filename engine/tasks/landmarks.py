"""Landmarks: sub-pixel heatmap peaks in original-frame pixels, and the card's named measurements."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.provenance import ModelRef
from engine.tasks import units
from engine.tasks.base import CineContext, FrameContext, make_info, register_task
from engine.types import Landmarks, Quantity, TaskResult

POINTS_PER_KIND = {"distance": 2, "angle": 3}


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


@register_task("landmarks")
class LandmarkTask:
    """Peaks of ``heatmaps`` ``[L, h, w]``; distances (mm) and angles (deg) from ``ModelCfg.measurements``."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "landmarks", "Landmarks")
        self.measurements = tuple(m for m in cfg.measurements if m.get("kind") in POINTS_PER_KIND)
        names = set(self.info.labels)
        for m in self.measurements:
            points = list(m.get("points", ()))
            if len(points) != POINTS_PER_KIND[m["kind"]] or not set(points) <= names:
                raise ConfigError(
                    cfg.name, f"measurement {m.get('name')!r} needs landmarks among {sorted(names)}"
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
        return self.result(ctx, points, np.clip(peaks[:, 2], 0.0, 1.0))

    def result(self, ctx: FrameContext, points: np.ndarray, scores: np.ndarray) -> Landmarks:
        """Landmarks at original-frame ``points`` ``[L, 2]`` with the declared measurements."""
        where = {name: points[i] for i, name in enumerate(self.info.labels)}
        values = []
        for m in self.measurements:
            pts = [where[p] for p in m["points"]]
            if m["kind"] == "distance":
                values.append(units.distance(m["name"], pts[0], pts[1], ctx.calibration, ctx.index))
            else:
                values.append(units.angle(m["name"], pts[0], pts[1], pts[2], ctx.calibration, ctx.index))
        return Landmarks(
            ctx.index, self.info.labels, points, scores.astype(np.float32), tuple(values), self.info.model
        )

    def summarize(
        self, frames: Sequence[Landmarks], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Quantity, ...]:
        """Each measurement's mean over the frames."""
        if not frames or not self.measurements:
            return ()
        out = []
        for k in range(len(self.measurements)):
            per = [f.measurements[k] for f in frames]
            calibrated = all(q.calibrated for q in per)
            unit = per[0].unit if calibrated else ("deg" if per[0].unit == "deg" else "px")
            if not calibrated and unit == "px" and any(q.unit == "mm" for q in per):
                per = [q for q in per if q.unit == "px"]
            out.append(Quantity(per[0].name, float(np.mean([q.value for q in per])), unit, calibrated, None))
        return tuple(out)
