"""Abdominal organ-like structures as detection targets: kidney, cyst, gallbladder and solid mass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.sim.config import CONVEX
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Annulus, Ellipse, Radial
from training.sim.truth import Quantity, SimResult

CLASSES = ("kidney", "cyst", "gallbladder", "mass")


def _kidney(rng: np.random.Generator, cx: float, cz: float, label: int) -> tuple[list[Layer], Ellipse]:
    a, b, angle = rng.uniform(22.0, 30.0), rng.uniform(11.0, 15.0), rng.uniform(-0.5, 0.5)
    outer = Ellipse(cx, cz, a, b, angle)
    sinus = Ellipse(cx, cz, a * 0.55, b * 0.45, angle)
    capsule = Annulus(Ellipse(cx, cz, a + 1.0, b + 1.0, angle), outer)
    return [Layer(capsule, 2.5), Layer(outer, 0.45, label=label), Layer(sinus, 2.2)], outer


def _cyst(rng: np.random.Generator, cx: float, cz: float, label: int) -> tuple[list[Layer], Ellipse]:
    r = rng.uniform(5.0, 12.0)
    shape = Ellipse(cx, cz, r, r * rng.uniform(0.8, 1.0), rng.uniform(0, np.pi))
    return [Layer(shape, 0.02, attenuation_db_mm=-0.06, label=label)], shape


def _gallbladder(rng: np.random.Generator, cx: float, cz: float, label: int) -> tuple[list[Layer], Ellipse]:
    a, b, angle = rng.uniform(18.0, 26.0), rng.uniform(7.0, 11.0), rng.uniform(-0.6, 0.6)
    lumen = Ellipse(cx, cz, a, b, angle)
    wall = Annulus(Ellipse(cx, cz, a + 1.5, b + 1.5, angle), lumen)
    return [Layer(wall, 2.4), Layer(lumen, 0.03, attenuation_db_mm=-0.05, label=label)], lumen


def _mass(rng: np.random.Generator, cx: float, cz: float, label: int) -> tuple[list[Layer], Radial]:
    harmonics = tuple((k, rng.uniform(0.0, 0.06), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4))
    shape = Radial(cx, cz, rng.uniform(6.0, 12.0), harmonics, aspect=rng.uniform(0.75, 1.0))
    return [Layer(shape, rng.uniform(2.2, 3.5), label=label)], shape


BUILDERS: dict[str, Callable[..., tuple[list[Layer], object]]] = {
    "kidney": _kidney,
    "cyst": _cyst,
    "gallbladder": _gallbladder,
    "mass": _mass,
}


def _extent(shape: object) -> float:
    outline = shape.outline()  # type: ignore[attr-defined]
    centre = outline.mean(axis=0)
    return float(np.hypot(*(outline - centre).T).max())


def _place(ctx: SceneContext, names: list[str]) -> list[tuple[str, list[Layer], object]]:
    """Objects that fit in the fan and keep 4 mm between their bounding circles."""
    placed: list[tuple[str, list[Layer], object, float, float, float]] = []
    for name in names:
        for _ in range(100):
            x, z = ctx.random_point((0.15, 0.9), (0.1, 0.9))
            layers, shape = BUILDERS[name](ctx.rng, x, z, CLASSES.index(name) + 1)
            ext = _extent(shape)
            far = all(np.hypot(x - px, z - pz) > ext + pe + 4.0 for *_, px, pz, pe in placed)
            if far and ctx.fits(x, z, ext):
                placed.append((name, layers, shape, x, z, ext))
                break
    return [(n, layers, shape) for n, layers, shape, *_ in placed]


def _report(found: list[tuple[str, Quantity, Quantity]], values: dict[str, Quantity]) -> str:
    findings = [f"Structures detected: {fmt(values['object_count'])}."]
    findings += [f"{name.capitalize()}: {fmt(w)} x {fmt(h)}." for name, w, h in found]
    return compose("Abdominal ultrasound (simulated)", findings, "Findings as listed; simulated anatomy.")


@register_scene("organs", probe=CONVEX, frames=1, tag="abdomen")
def organs_scene(ctx: SceneContext, count: int | None = None) -> SimResult:
    """Two to four organ-like structures of random classes, boxed with their class.

    Masks use label ``i + 1`` for class ``CLASSES[i]``; boxes are the tight bounds of each
    object's own mask (objects never overlap).

    Args:
        ctx: the scene context.
        count: number of objects; random 2-4 when ``None``.
    """
    rng = ctx.rng
    count = int(rng.integers(2, 5)) if count is None else int(count)
    names = [CLASSES[int(i)] for i in rng.integers(0, len(CLASSES), count)]
    placed = _place(ctx, names)
    layers = tuple(layer for _, ls, _ in placed for layer in ls)
    phantom = Phantom(layers)
    boxes, classes, found = [], [], []
    values: dict[str, Quantity] = {"object_count": Quantity(float(len(placed)), "count")}
    for i, (name, _, shape) in enumerate(placed):
        box = mask_box(ctx.mask_of(shape))  # type: ignore[arg-type]
        if box is None:
            continue
        boxes.append(box)
        classes.append(CLASSES.index(name))
        outline = shape.outline()  # type: ignore[attr-defined]
        w, h = Quantity(float(np.ptp(outline[:, 0])), "mm"), Quantity(float(np.ptp(outline[:, 1])), "mm")
        values[f"object_{i}_width_mm"], values[f"object_{i}_height_mm"] = w, h
        found.append((name, w, h))
    phantoms = [phantom] * ctx.frames
    box_arr = np.array(boxes, np.float32).reshape(-1, 4)
    extras = Extras(
        labels={i + 1: name for i, name in enumerate(CLASSES)},
        boxes=tuple(box_arr for _ in phantoms),
        box_labels=tuple(np.array(classes, np.int64) for _ in phantoms),
        box_classes=CLASSES,
        values=values,
        report=_report(found, values),
    )
    return ctx.finish(phantoms, extras)
