"""Breast-like lesion: benign-like (circumscribed, parallel) vs malignant-like (spiculated, shadowing)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from training.sim.config import LINEAR
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, mask_box, register_scene
from training.sim.shapes import Band, Radial
from training.sim.truth import Quantity, SimResult

CLASS_NAMES = ("benign", "malignant")
# backscatter amplitude inside the lesion relative to the tissue around it; "iso" is a
# low-contrast lesion, 0.25-0.65 below or above its surroundings
ECHO_RANGES = {
    "anechoic": (0.0, 0.06),
    "hypo": (0.08, 0.3),
    "iso": (0.25, 0.65),
    "hyper": (2.0, 3.5),
}
BACKGROUNDS = ("breast", "plain", "layers")
POSTERIOR = {"shadow": (0.3, 1.0), "enhance": (-0.08, -0.02), "none": (0.0, 0.0)}  # dB/mm inside


def breast_layers(rng: np.random.Generator, depth_mm: float) -> tuple[Layer, ...]:
    """Skin, subcutaneous fat and pectoral muscle bands over glandular background."""
    fat = rng.uniform(5.0, 9.0)
    muscle = depth_mm * rng.uniform(0.78, 0.9)
    return (
        Layer(Band(-1e3, 1.5), echo=2.2),
        Layer(Band(1.5, fat), echo=0.55),
        Layer(Band(muscle, 1e4), echo=0.75),
    )


def lesion_shape(
    rng: np.random.Generator, cx: float, cz: float, radius: float, malignant: bool, disc: bool = False
) -> Radial:
    """A smooth oval (benign-like; nearly round with ``disc``) or an irregular, spiculated
    outline (malignant-like)."""
    if not malignant:
        harmonics = tuple((k, rng.uniform(0.0, 0.05), rng.uniform(0, 2 * np.pi)) for k in (2, 3))
        aspect = rng.uniform(0.9, 1.1) if disc else rng.uniform(0.55, 0.85)
        return Radial(cx, cz, radius, harmonics, (), aspect=aspect, angle=rng.uniform(-0.2, 0.2))
    harmonics = tuple((k, rng.uniform(0.04, 0.1), rng.uniform(0, 2 * np.pi)) for k in range(3, 8))
    n_spikes = int(rng.integers(6, 14))
    spikes = tuple(
        (rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 0.6), rng.uniform(0.04, 0.09)) for _ in range(n_spikes)
    )
    return Radial(
        cx, cz, radius, harmonics, spikes, aspect=rng.uniform(0.9, 1.3), angle=rng.uniform(-0.5, 0.5)
    )


def plain_layers(rng: np.random.Generator, depth_mm: float, count: int) -> tuple[Layer, ...]:
    """``count`` horizontal tissue bands of random echogenicity over uniform tissue (0: a plain phantom)."""
    cuts = np.sort(rng.uniform(0.1, 0.95, 2 * count)) * depth_mm
    return tuple(
        Layer(Band(float(z0), float(z1)), echo=float(np.exp(rng.uniform(-0.7, 0.7))))
        for z0, z1 in zip(cuts[::2], cuts[1::2], strict=True)
    )


class NoRoom(RuntimeError):
    """The fan has no room left for a lesion of the asked size."""


def _place(
    ctx: SceneContext,
    malignant: bool,
    top: float,
    bottom: float,
    radius_mm: tuple[float, float] = (4.0, 9.0),
    others: tuple[Radial, ...] = (),
    margin_mm: float = 2.0,
    disc: bool = False,
) -> Radial:
    """A lesion between ``top`` and ``bottom`` (mm), inside the fan by ``margin_mm``, clear of ``others``."""
    rng = ctx.rng
    u0, u1 = ctx.scanner.beams.u_range
    for attempt in range(100):
        shape = lesion_shape(rng, 0.0, 0.0, rng.uniform(*radius_mm) * 0.97**attempt, malignant, disc)
        extent = 1.02 * shape.max_radius()
        if bottom - top <= 2.0 * extent:
            continue
        r = rng.uniform(top + extent, bottom - extent)
        x, z = ctx.scanner.beams.from_beam(
            np.asarray(r), np.asarray(u0 + rng.uniform(0.15, 0.85) * (u1 - u0))
        )
        clear = all(
            np.hypot(float(x) - o.cx, float(z) - o.cz) > extent + 1.02 * o.max_radius() + 1.5 for o in others
        )
        if clear and ctx.fits(float(x), float(z), extent, margin_mm):
            return shape.moved(float(x), float(z))
    raise NoRoom("could not place a lesion in this fan; use a deeper or wider probe")


def _halo(shape: Radial, level: float) -> Layer:
    """A rim about 1 mm wide around ``shape`` (painted under the lesion), of echo ``level``."""
    grow = 1.0 + 1.0 / max(shape.radius, 1.0)
    return Layer(replace(shape, radius=shape.radius * grow), echo=level, multiply=True)


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
def lesion_scene(
    ctx: SceneContext,
    malignant: bool | None = None,
    echo: str | None = None,
    *,
    count: int = 1,
    background: str = "breast",
    radius_mm: tuple[float, float] = (4.0, 9.0),
    halo: float | None = None,
    posterior: str | None = None,
    margin_mm: float = 2.0,
    disc: bool = False,
    iso_contrast: tuple[float, float] | None = None,
) -> SimResult:
    """Lesions in breast-like (or plain) tissue; the class is the margin/shadowing pattern.

    Args:
        ctx: the scene context.
        malignant: force the class; random (50/50) when ``None``.
        echo: a key of ``ECHO_RANGES``; random hypo/hyper when ``None`` (malignant-like
            lesions are hypoechoic unless forced).
        count: number of lesions (all of the same class and echo kind); where the tissue band
            has no room for another after the first, fewer (the truth holds those placed).
        background: ``"breast"`` (skin, fat, gland, muscle), ``"plain"`` (uniform tissue, a
            phantom) or ``"layers"`` (uniform tissue with one to three bands of other echo).
        radius_mm: range of the lesion's mean radius.
        halo: echo factor of a thin rim around each lesion (e.g. 0.4 dark, 2.5 bright);
            ``None`` for no rim.
        posterior: ``"shadow"``, ``"enhance"`` or ``"none"``; ``None`` follows the class
            (shadow when malignant-like, slight enhancement otherwise).
        margin_mm: the least distance from a lesion to the edges of the fan.
        disc: benign-like lesions nearly round (aspect 0.9-1.1) instead of oval (0.55-0.85).
        iso_contrast: the range of a near-isoechoic lesion's contrast (amplitude 1 minus or
            plus it); ``ECHO_RANGES["iso"]`` when ``None``.

    Returns:
        Frames (a short cine with probe drift when the configuration asks for several),
        mask label 1 "lesion", one box per lesion and frame, the class, the first lesion's
        size and a report.
    """
    rng = ctx.rng
    malignant = bool(rng.random() < 0.5) if malignant is None else malignant
    if echo is None:
        echo = "hypo" if malignant or rng.random() < 0.7 else "hyper"
    depth = ctx.probe.depth_mm
    if background == "breast":
        bands = breast_layers(rng, depth)
        top, bottom = bands[1].shape.z1 + 1.0, bands[2].shape.z0 - 1.0  # type: ignore[attr-defined]
    else:
        bands = plain_layers(rng, depth, 0 if background == "plain" else int(rng.integers(1, 4)))
        top, bottom = 0.04 * depth, 0.96 * depth
    shapes: list[Radial] = []
    for _ in range(count):
        try:
            shapes.append(_place(ctx, malignant, top, bottom, radius_mm, tuple(shapes), margin_mm, disc))
        except NoRoom:
            if not shapes:
                raise
            break
    shape = shapes[0]
    levels = [_echo_level(rng, echo, iso_contrast) for _ in shapes]
    level = levels[0]
    lesion_layers: list[Layer] = []
    for sh, lv in zip(shapes, levels, strict=True):
        if posterior is None:
            shadow = rng.uniform(0.5, 1.0) if malignant else rng.uniform(-0.06, 0.0)
        else:
            shadow = rng.uniform(*POSTERIOR[posterior])
        if halo is not None:
            lesion_layers.append(_halo(sh, halo))
        lesion_layers.append(Layer(sh, echo=lv, attenuation_db_mm=shadow, label=1))
    base = Phantom((*bands, *lesion_layers))
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
    boxes = tuple(_boxes(ctx, ph, m) for ph, m in zip(phantoms, masks, strict=True))
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


def _boxes(ctx: SceneContext, phantom: Phantom, mask: np.ndarray) -> np.ndarray:
    """``[M, 4]`` tight boxes of each visible lesion of ``phantom`` (they never overlap)."""
    found = []
    for layer in phantom.layers:
        if layer.label == 1:
            box = mask_box(ctx.mask_of(layer.shape) & (mask == 1))
            if box is not None:
                found.append(box)
    return np.stack(found) if found else np.zeros((0, 4), np.float32)


def _echo_level(rng: np.random.Generator, echo: str, iso: tuple[float, float] | None = None) -> float:
    lo, hi = iso if echo == "iso" and iso is not None else ECHO_RANGES[echo]
    level = rng.uniform(lo, hi)
    if echo == "iso":  # a contrast below or above the surrounding tissue
        return float(1.0 - level if rng.random() < 0.6 else 1.0 + level)
    return float(level)
