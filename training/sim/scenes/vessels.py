"""Vessels: anechoic tubes with bright walls and posterior enhancement crossing the field."""

from __future__ import annotations

import numpy as np

from training.sim.config import LINEAR
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Band, Tube
from training.sim.truth import Quantity, SimResult

ORDINALS = ("first", "second", "third", "fourth")


def _centre_line(rng: np.random.Generator, x0: float, x1: float, z: float) -> tuple[tuple[float, float], ...]:
    """A gently curved, roughly horizontal centre line from x0 to x1 at depth z (mm)."""
    xs = np.linspace(x0, x1, 9)
    amp, period, phase = rng.uniform(0.0, 2.5), rng.uniform(30.0, 80.0), rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(-0.12, 0.12)
    zs = z + amp * np.sin(2 * np.pi * xs / period + phase) + tilt * xs
    return tuple((float(a), float(b)) for a, b in zip(xs, zs))


def _tubes(ctx: SceneContext, count: int) -> list[Tube]:
    """Non-touching vessels at distinct depths, each crossing the whole fan width."""
    rng, depth = ctx.rng, ctx.probe.depth_mm
    x_lo, x_hi, _, _ = ctx.scanner.beams.bbox()
    tubes: list[Tube] = []
    for _ in range(60):
        if len(tubes) == count:
            break
        radius = rng.uniform(1.5, 4.0) * max(1.0, depth / 60.0)
        z = rng.uniform(0.2, 0.85) * depth
        tube = Tube(_centre_line(rng, x_lo - 5.0, x_hi + 5.0, z), radius)
        line = np.asarray(tube.points)
        # all centre lines share the same x samples, so compare depths column by column
        clear = all(
            np.min(np.abs(line[:, 1] - np.asarray(other.points)[:, 1])) > radius + other.radius + 4.0
            for other in tubes
        )
        if clear and line[:, 1].min() - radius > 3.0 and line[:, 1].max() + radius < depth - 2.0:
            tubes.append(tube)
    return tubes


def _report(values: dict[str, Quantity], n: int) -> str:
    findings = [f"Vessels in view: {fmt(values['vessel_count'])}."]
    for i in range(n):
        d, z = values[f"vessel_{i}_diameter_mm"], values[f"vessel_{i}_depth_mm"]
        findings.append(f"The {ORDINALS[i]} vessel: lumen diameter {fmt(d)} at a depth of {fmt(z)}, patent.")
    return compose("Vascular ultrasound (simulated)", findings, "Patent anechoic vessels, no thrombus.")


@register_scene("vessels", probe=LINEAR, frames=1, tag="vascular")
def vessels_scene(ctx: SceneContext, count: int | None = None) -> SimResult:
    """One to three anechoic vessels; each is labelled 1 "vessel" and boxed.

    Args:
        ctx: the scene context.
        count: number of vessels (1-4); random 1-3 when ``None``.
    """
    rng = ctx.rng
    count = int(rng.integers(1, 4)) if count is None else int(count)
    if not 1 <= count <= len(ORDINALS):
        raise ValueError(f"count must be 1..{len(ORDINALS)}, got {count}")
    tubes = _tubes(ctx, count)
    layers: list[Layer] = [Layer(Band(-1e3, 1.2), echo=2.0)]
    for tube in tubes:
        layers.append(Layer(Tube(tube.points, tube.radius + 0.6), echo=2.2))
    for tube in tubes:
        layers.append(Layer(tube, echo=0.02, attenuation_db_mm=-0.08, label=1))
    drift = np.cumsum(rng.normal(0.0, 0.1, ctx.frames))
    phantoms = [Phantom(tuple(layers)).moved(0.0, float(d - drift[0])) for d in drift]
    boxes, values = [], {"vessel_count": Quantity(float(len(tubes)), "count")}
    for i, tube in enumerate(tubes):
        values[f"vessel_{i}_diameter_mm"] = Quantity(2.0 * tube.radius, "mm")
        values[f"vessel_{i}_depth_mm"] = Quantity(float(np.mean(np.asarray(tube.points)[:, 1])), "mm")
    for p in phantoms:
        per_frame = [mask_box(ctx.mask_of(layer.shape)) for layer in p.layers if layer.label == 1]
        boxes.append(np.array([b for b in per_frame if b is not None], np.float32).reshape(-1, 4))
    extras = Extras(
        labels={1: "vessel"},
        boxes=tuple(boxes),
        box_labels=tuple(np.zeros(len(b), np.int64) for b in boxes),
        box_classes=("vessel",),
        values=values,
        report=_report(values, len(tubes)),
    )
    return ctx.finish(phantoms, extras)
