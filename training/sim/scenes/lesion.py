"""Breast-like lesion: benign-like (circumscribed, parallel) vs malignant-like (spiculated, shadowing)."""

from __future__ import annotations

import numpy as np

from training.sim.config import LINEAR
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Band, Radial
from training.sim.truth import Quantity, SimResult

CLASS_NAMES = ("benign", "malignant")
ECHO_RANGES = {"hypo": (0.08, 0.3), "hyper": (2.0, 3.5)}


def breast_layers(rng: np.random.Generator, depth_mm: float) -> tuple[Layer, ...]:
    """Skin, subcutaneous fat and pectoral muscle bands over glandular background."""
    fat = rng.uniform(5.0, 9.0)
    muscle = depth_mm * rng.uniform(0.78, 0.9)
    return (
        Layer(Band(-1e3, 1.5), echo=2.2),
        Layer(Band(1.5, fat), echo=0.55),
        Layer(Band(muscle, 1e4), echo=0.75),
    )


def lesion_shape(rng: np.random.Generator, cx: float, cz: float, radius: float, malignant: bool) -> Radial:
    """A smooth oval (benign-like) or an irregular, spiculated outline (malignant-like)."""
    if not malignant:
        harmonics = tuple((k, rng.uniform(0.0, 0.05), rng.uniform(0, 2 * np.pi)) for k in (2, 3))
        return Radial(
            cx, cz, radius, harmonics, (), aspect=rng.uniform(0.55, 0.85), angle=rng.uniform(-0.2, 0.2)
        )
    harmonics = tuple((k, rng.uniform(0.04, 0.1), rng.uniform(0, 2 * np.pi)) for k in range(3, 8))
    n_spikes = int(rng.integers(6, 14))
    spikes = tuple(
        (rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 0.6), rng.uniform(0.04, 0.09)) for _ in range(n_spikes)
    )
    return Radial(
        cx, cz, radius, harmonics, spikes, aspect=rng.uniform(0.9, 1.3), angle=rng.uniform(-0.5, 0.5)
    )


def _place(ctx: SceneContext, malignant: bool, top: float, bottom: float) -> Radial:
    """A lesion between the fat and muscle layers, fully inside the fan."""
    rng = ctx.rng
    u0, u1 = ctx.scanner.beams.u_range
    for attempt in range(100):
        shape = lesion_shape(rng, 0.0, 0.0, rng.uniform(4.0, 9.0) * 0.97**attempt, malignant)
        extent = 1.02 * shape.max_radius()
        if bottom - top <= 2.0 * extent:
            continue
        r = rng.uniform(top + extent, bottom - extent)
        x, z = ctx.scanner.beams.from_beam(
            np.asarray(r), np.asarray(u0 + rng.uniform(0.15, 0.85) * (u1 - u0))
        )
        if ctx.fits(float(x), float(z), extent):
            return shape.moved(float(x), float(z))
    raise RuntimeError("could not place a lesion in this fan; use a deeper or wider probe")


def _report(malignant: bool, echo: str, values: dict[str, Quantity]) -> str:
    margins = "irregular, spiculated margins" if malignant else "circumscribed margins, parallel orientation"
    findings = [
        f"A {echo}echoic mass with {margins} at a depth of {fmt(values['depth_mm'])}.",
        f"Size {fmt(values['width_mm'])} x {fmt(values['height_mm'])}, area {fmt(values['area_mm2'])}.",
        f"Contrast to surrounding tissue {fmt(values['contrast_db'])}.",
        "Posterior acoustic shadowing." if malignant else "No posterior acoustic shadowing.",
    ]
    impression = "Malignant-like appearance." if malignant else "Benign-like appearance."
    return compose("Breast ultrasound (simulated)", findings, impression)


@register_scene("lesion", probe=LINEAR, frames=1, tag="breast")
def lesion_scene(ctx: SceneContext, malignant: bool | None = None, echo: str | None = None) -> SimResult:
    """One lesion in breast-like tissue; the class is the margin/shadowing pattern.

    Args:
        ctx: the scene context.
        malignant: force the class; random (50/50) when ``None``.
        echo: ``"hypo"`` or ``"hyper"``; random when ``None`` (malignant-like lesions are
            hypoechoic unless forced).

    Returns:
        Frames (a short cine with probe drift when the configuration asks for several),
        mask label 1 "lesion", one box per frame, the class, the lesion's size and report.
    """
    rng = ctx.rng
    malignant = bool(rng.random() < 0.5) if malignant is None else malignant
    if echo is None:
        echo = "hypo" if malignant or rng.random() < 0.7 else "hyper"
    bands = breast_layers(rng, ctx.probe.depth_mm)
    top, bottom = bands[1].shape.z1 + 1.0, bands[2].shape.z0 - 1.0  # type: ignore[attr-defined]
    shape = _place(ctx, malignant, top, bottom)
    level = rng.uniform(*ECHO_RANGES[echo])
    shadow = rng.uniform(0.5, 1.0) if malignant else rng.uniform(-0.06, 0.0)
    base = Phantom((*bands, Layer(shape, echo=level, attenuation_db_mm=shadow, label=1)))
    drift = np.cumsum(rng.normal(0.0, 0.15, ctx.frames))
    drift -= drift[0]
    phantoms = [base.moved(float(d), 0.0) for d in drift]
    outline, fine = shape.outline(), shape.outline(8192)
    values = {
        "area_mm2": Quantity(shape.area_mm2(), "mm2"),
        "width_mm": Quantity(float(np.ptp(outline[:, 0])), "mm"),
        "height_mm": Quantity(float(np.ptp(outline[:, 1])), "mm"),
        "depth_mm": Quantity(shape.cz, "mm"),
        "perimeter_mm": Quantity(float(np.hypot(*np.diff(fine, axis=0, append=fine[:1]).T).sum()), "mm"),
        "contrast_db": Quantity(float(20.0 * np.log10(level)), "dB"),
    }
    masks = ctx.labels(phantoms)
    boxes = tuple(_boxes(m == 1) for m in masks)
    extras = Extras(
        labels={1: "lesion"},
        boxes=boxes,
        box_labels=tuple(np.zeros(len(b), np.int64) for b in boxes),
        box_classes=("lesion",),
        class_index=int(malignant),
        class_names=CLASS_NAMES,
        values=values,
        report=_report(malignant, echo, values),
    )
    return ctx.finish(phantoms, extras, masks)


def _boxes(mask: np.ndarray) -> np.ndarray:
    box = mask_box(mask)
    return np.zeros((0, 4), np.float32) if box is None else box[None]
