"""Fetal head: a bright elliptical skull in amniotic fluid, with biometry landmarks and HC/BPD/OFD.

Biometry is outer-to-outer on the skull's outer ellipse (semi-axes ``a`` >= ``b``):
BPD = 2b, OFD = 2a, HC = the ellipse perimeter (Ramanujan), as in HC18-style datasets.
Gestational age follows Hadlock (1984): GA = 8.96 + 0.540 HC + 0.0003 HC^3 (HC in cm).
"""

from __future__ import annotations

import numpy as np

from training.sim.config import CONVEX
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Annulus, Ellipse, Tube
from training.sim.truth import Quantity, SimResult

LANDMARKS = ("bpd_a", "bpd_b", "ofd_a", "ofd_b")


def hadlock_ga_weeks(hc_mm: float) -> float:
    """Gestational age (weeks) from head circumference (mm), Hadlock 1984."""
    hc = hc_mm / 10.0
    return 8.96 + 0.540 * hc + 0.0003 * hc**3


def head_layers(outer: Ellipse, skull_mm: float, rng: np.random.Generator) -> tuple[Layer, ...]:
    """Fluid, brain, skull, midline echo and thalami of one head."""
    a, b, angle = outer.a, outer.b, outer.angle
    cx, cz = outer.cx, outer.cz
    inner = Ellipse(cx, cz, a - skull_mm, b - skull_mm, angle)
    fluid = Ellipse(cx, cz, a + rng.uniform(8.0, 14.0), b + rng.uniform(8.0, 14.0), angle)
    c, s = np.cos(angle), np.sin(angle)
    mid = 0.8 * (a - skull_mm)
    falx = Tube(((cx - mid * c, cz - mid * s), (cx + mid * c, cz + mid * s)), 0.5)
    off = 0.18 * b
    thalami = [Ellipse(cx + k * off * -s, cz + k * off * c, 0.16 * a, 0.12 * b, angle) for k in (-1, 1)]
    return (
        Layer(fluid, 0.04, attenuation_db_mm=-0.03),
        Layer(outer, 0.45, label=1),
        Layer(Annulus(outer, inner), rng.uniform(6.0, 9.0), attenuation_db_mm=0.15),
        Layer(falx, 3.0),
        *(Layer(t, 0.25) for t in thalami),
    )


def biometry_points(outer: Ellipse) -> np.ndarray:
    """``[4, 2]`` physical (x, z) mm: BPD ends (minor axis) then OFD ends (major axis), each pair
    ordered top first (smaller z; smaller x on a tie)."""
    pairs = [(outer.point(np.pi / 2), outer.point(-np.pi / 2)), (outer.point(0.0), outer.point(np.pi))]
    out = []
    for p, q in pairs:
        out += sorted([p, q], key=lambda v: (round(v[1], 9), v[0]))
    return np.asarray(out, dtype=np.float64)


def _report(values: dict[str, Quantity]) -> str:
    findings = [
        f"Head circumference (HC) {fmt(values['hc_mm'])}.",
        f"Biparietal diameter (BPD) {fmt(values['bpd_mm'])}.",
        f"Occipitofrontal diameter (OFD) {fmt(values['ofd_mm'])}.",
        f"Cephalic index {fmt(values['cephalic_index'])}.",
        f"Gestational age by HC (Hadlock) {fmt(values['ga_weeks'])}.",
    ]
    return compose("Fetal biometry (simulated)", findings, "Single fetal head, biometry as measured.")


@register_scene("fetal_head", probe=CONVEX, frames=1, tag="fetal")
def fetal_head_scene(ctx: SceneContext) -> SimResult:
    """A fetal head with label 1 "head" (inside the skull's outer edge), four landmarks and biometry."""
    rng = ctx.rng
    for _ in range(200):
        ofd = rng.uniform(50.0, 100.0)
        a, b = ofd / 2.0, ofd / 2.0 * rng.uniform(0.74, 0.86)
        x, z = ctx.random_point((0.35, 0.65), (0.35, 0.65))
        outer = Ellipse(x, z, a, b, rng.uniform(-0.6, 0.6))
        if ctx.fits(x, z, a + 4.0):
            break
    else:
        raise RuntimeError("the fetal head does not fit this fan; use a deeper probe")
    skull = rng.uniform(2.5, 4.0)
    phantom = Phantom(head_layers(outer, skull, rng))
    drift = np.cumsum(rng.normal(0.0, 0.15, (ctx.frames, 2)), axis=0)
    drift -= drift[0]
    phantoms = [phantom.moved(float(dx), float(dz)) for dx, dz in drift]
    points = biometry_points(outer)
    landmarks = np.stack([ctx.scanner.mm_to_px(points[:, 0] + dx, points[:, 1] + dz) for dx, dz in drift])
    hc = outer.perimeter_mm()
    values = {
        "hc_mm": Quantity(hc, "mm"),
        "bpd_mm": Quantity(2.0 * outer.b, "mm"),
        "ofd_mm": Quantity(2.0 * outer.a, "mm"),
        "cephalic_index": Quantity(100.0 * outer.b / outer.a, "%"),
        "ga_weeks": Quantity(hadlock_ga_weeks(hc), "weeks"),
        "skull_thickness_mm": Quantity(skull, "mm"),
    }
    boxes = tuple(
        np.asarray(mask_box(ctx.mask_of(p.layers[1].shape)), np.float32).reshape(-1, 4) for p in phantoms
    )
    extras = Extras(
        labels={1: "head"},
        boxes=boxes,
        box_labels=tuple(np.zeros(len(bx), np.int64) for bx in boxes),
        box_classes=("head",),
        landmarks=landmarks.astype(np.float32),
        landmark_names=LANDMARKS,
        values=values,
        report=_report(values),
    )
    return ctx.finish(phantoms, extras)
