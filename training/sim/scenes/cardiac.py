"""Beating left ventricle in an apical view (phased sector) with exact ED/ES frames and EF.

Geometry: the LV cavity is an ellipse whose apex stays fixed while the base moves towards
it in systole. Its short semi-axis ``a`` and long semi-axis ``b`` follow a contraction
curve ``c(t)`` in [0, 1] (0 = end-diastole, 1 = end-systole) that repeats every
``period`` frames; ED and ES fall exactly on frames. The myocardium keeps its area.

Volume model: single-plane area-length, ``V = 8 A^2 / (3 pi L)`` with cavity area ``A`` and
long-axis length ``L = 2b``; for an ellipse this equals the prolate spheroid volume
``4/3 pi a^2 b``. EF = (EDV - ESV) / EDV x 100, computed from the ED and ES frames.
"""

from __future__ import annotations

import numpy as np

from training.sim.config import PHASED
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Annulus, Ellipse
from training.sim.truth import Quantity, SimResult

CLASS_NAMES = ("normal_ef", "reduced_ef")
LANDMARKS = ("lv_apex", "lv_base")
REDUCED_EF = 50.0


def contraction(period: int, es_offset: int, n: int, start: int) -> np.ndarray:
    """``[n]`` contraction per frame: 0 at ED (phase 0), 1 at ES (phase ``es_offset``)."""
    k = (np.arange(n) + start) % period
    sys = np.sin(0.5 * np.pi * k / es_offset) ** 2
    dia = np.cos(0.5 * np.pi * (k - es_offset) / (period - es_offset)) ** 2
    return np.where(k <= es_offset, sys, dia)


def area_length_volume_ml(area_mm2: np.ndarray, length_mm: np.ndarray) -> np.ndarray:
    """Single-plane area-length volume (mL) from cavity area (mm^2) and long-axis length (mm)."""
    return 8.0 * area_mm2**2 / (3.0 * np.pi * length_mm) / 1000.0


def _wall(a: float, b: float, myo_area: float) -> float:
    """Wall thickness (mm) that keeps the myocardial area ``myo_area`` around an (a, b) cavity."""
    return float((-(a + b) + np.sqrt((a + b) ** 2 + 4.0 * myo_area / np.pi)) / 2.0)


class Ventricle:
    """ED geometry and contraction of one LV; builds the cavity and wall of any frame."""

    def __init__(self, ctx: SceneContext, ef_target: float | None) -> None:
        rng = ctx.rng
        depth = ctx.probe.depth_mm
        ef = rng.uniform(25.0, 72.0) if ef_target is None else ef_target
        self.fl = rng.uniform(0.06, 0.15)
        self.fa = 1.0 - np.sqrt((1.0 - ef / 100.0) / (1.0 - self.fl))
        for _ in range(100):
            self.a_ed, self.b_ed = rng.uniform(0.11, 0.145) * depth, rng.uniform(0.24, 0.29) * depth
            self.tilt = rng.uniform(-0.08, 0.12)
            self.apex = (rng.uniform(-0.02, 0.04) * depth, rng.uniform(0.2, 0.25) * depth)
            wall = rng.uniform(0.055, 0.07) * depth
            self.myo_area = np.pi * ((self.a_ed + wall) * (self.b_ed + wall) - self.a_ed * self.b_ed)
            # keep the whole wall in the fan at both extremes of the cycle
            extremes = [
                self.layers(float(a), float(b))[0].shape for a, b in zip(*self.axes(np.array([0.0, 1.0])))
            ]
            if all(ctx.all_inside(wall.outer.outline(180)) for wall in extremes):  # type: ignore[attr-defined]
                return
        raise RuntimeError("the left ventricle does not fit this fan; use a deeper or wider sector")

    def axes(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Semi-axes (a, b) in mm at contraction ``c``."""
        return self.a_ed * (1.0 - self.fa * c), self.b_ed * (1.0 - self.fl * c)

    def ends(self, b: float) -> tuple[tuple[float, float], tuple[float, float]]:
        """Apex and base (mitral mid-point) of the long axis, in mm."""
        ux, uz = np.sin(self.tilt), np.cos(self.tilt)
        ax, az = self.apex
        return (ax, az), (ax + 2.0 * b * ux, az + 2.0 * b * uz)

    def layers(self, a: float, b: float) -> tuple[Layer, Layer, Ellipse]:
        (ax, az), (bx, bz) = self.ends(b)
        angle = np.pi / 2.0 - self.tilt
        cavity = Ellipse((ax + bx) / 2.0, (az + bz) / 2.0, b, a, angle)
        w = _wall(a, b, self.myo_area)
        outer = Ellipse(cavity.cx, cavity.cz, b + w, a + w, angle)
        return Layer(Annulus(outer, cavity), 1.6, label=2), Layer(cavity, 0.015, label=1), cavity


def _context_layers(ctx: SceneContext, v: Ventricle) -> tuple[Layer, ...]:
    """Static neighbours: right ventricle and atria as dark chambers, a bright pericardium."""
    depth = ctx.probe.depth_mm
    (_, _), (bx, bz) = v.ends(v.b_ed)
    rv = Ellipse(v.apex[0] - 0.22 * depth, v.apex[1] + 0.22 * depth, 0.2 * depth, 0.08 * depth, v.tilt + 1.75)
    la = Ellipse(bx, bz + 0.1 * depth, 0.1 * depth, 0.08 * depth)
    ra = Ellipse(bx - 0.2 * depth, bz + 0.06 * depth, 0.09 * depth, 0.07 * depth)
    peri = Annulus(
        Ellipse(bx - 0.05 * depth, bz - 0.2 * depth, 0.42 * depth, 0.36 * depth, v.tilt),
        Ellipse(bx - 0.05 * depth, bz - 0.2 * depth, 0.39 * depth, 0.33 * depth, v.tilt),
    )
    return (Layer(peri, 2.6), Layer(rv, 0.015), Layer(la, 0.015), Layer(ra, 0.015))


def _values(c: np.ndarray, area: np.ndarray, length: np.ndarray, volume: np.ndarray, hr: float) -> dict:
    ed, es = int(np.argmin(c)), 0
    after = np.flatnonzero((np.arange(c.size) > ed) & (c == c.max()))
    es = int(after[0]) if after.size else int(np.argmax(c))
    ef = (volume[ed] - volume[es]) / volume[ed] * 100.0
    return {
        "ef": Quantity(float(ef), "%"),
        "edv_ml": Quantity(float(volume[ed]), "mL"),
        "esv_ml": Quantity(float(volume[es]), "mL"),
        "ed_area_mm2": Quantity(float(area[ed]), "mm2"),
        "es_area_mm2": Quantity(float(area[es]), "mm2"),
        "ed_length_mm": Quantity(float(length[ed]), "mm"),
        "heart_rate_bpm": Quantity(hr, "bpm"),
        "ed_frame": Quantity(float(ed), "frame"),
        "es_frame": Quantity(float(es), "frame"),
    }


def _report(values: dict[str, Quantity]) -> str:
    ef = values["ef"].value
    findings = [
        f"Left ventricular ejection fraction {fmt(values['ef'])} (single-plane area-length).",
        f"End-diastolic volume {fmt(values['edv_ml'])}, end-systolic volume {fmt(values['esv_ml'])}.",
        f"Heart rate {fmt(values['heart_rate_bpm'])}.",
    ]
    impression = (
        "Reduced left ventricular systolic function."
        if ef < REDUCED_EF
        else "Normal left ventricular systolic function."
    )
    return compose("Echocardiogram, apical view (simulated)", findings, impression)


@register_scene("cardiac", probe=PHASED, frames=48, tag="cardiac")
def cardiac_scene(ctx: SceneContext, ef: float | None = None) -> SimResult:
    """A beating LV cine: labels 1 "lv_cavity", 2 "lv_myocardium"; apex/base landmarks; EF.

    Args:
        ctx: the scene context.
        ef: aim for this ejection fraction (%); random 25-72 % when ``None``. The stated EF
            is always recomputed from the ED and ES frames' volumes.
    """
    rng = ctx.rng
    v = Ventricle(ctx, ef)
    period = int(rng.integers(20, 37))
    es_offset = round(period * rng.uniform(0.34, 0.42))
    c = contraction(period, es_offset, ctx.frames, int(rng.integers(0, period)))
    a, b = v.axes(c)
    statics = _context_layers(ctx, v)
    phantoms, landmarks = [], []
    for ai, bi in zip(a, b):
        wall, cavity, _ = v.layers(float(ai), float(bi))
        phantoms.append(Phantom((*statics, wall, cavity)))
        apex, base = v.ends(float(bi))
        landmarks.append(ctx.scanner.mm_to_px(np.array([apex[0], base[0]]), np.array([apex[1], base[1]])))
    area, length = np.pi * a * b, 2.0 * b
    volume = area_length_volume_ml(area, length)
    values = _values(c, area, length, volume, 60.0 * ctx.cfg.fps / period)
    masks = ctx.labels(phantoms)
    boxes = tuple(np.asarray(mask_box(m > 0), np.float32).reshape(-1, 4) for m in masks)
    extras = Extras(
        labels={1: "lv_cavity", 2: "lv_myocardium"},
        boxes=boxes,
        box_labels=tuple(np.zeros(len(bx), np.int64) for bx in boxes),
        box_classes=("left_ventricle",),
        landmarks=np.asarray(landmarks, np.float32),
        landmark_names=LANDMARKS,
        class_index=int(values["ef"].value < REDUCED_EF),
        class_names=CLASS_NAMES,
        values=values,
        frame_values={
            "lv_area_mm2": (area, "mm2"),
            "lv_length_mm": (length, "mm"),
            "lv_volume_ml": (volume, "mL"),
            "contraction": (c, "1"),
            "is_ed": ((c == c.min()).astype(np.float64), "1"),
            "is_es": ((c == c.max()).astype(np.float64), "1"),
        },
        report=_report(values),
    )
    return ctx.finish(phantoms, extras, masks)
