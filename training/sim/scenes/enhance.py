"""Low/high-quality pairs for enhancement: one tissue scene seen by a poor and by a good acquisition."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from training.sim.config import CONVEX, ImagingParams
from training.sim.phantom import Layer, Phantom
from training.sim.report import compose, fmt
from training.sim.scenes.base import Extras, SceneContext, clean_params, register_scene
from training.sim.scenes.lesion import lesion_shape
from training.sim.shapes import Band, Ellipse
from training.sim.truth import Quantity, SimResult


def degraded_params(params: ImagingParams) -> ImagingParams:
    """A poor acquisition: coarser point spread, lower gain, electronic noise, a single look."""
    return replace(
        params,
        looks=1,
        psf_axial_wavelengths=params.psf_axial_wavelengths * 1.6,
        psf_lateral_wavelengths=params.psf_lateral_wavelengths * 1.6,
        gain_db=params.gain_db - 6.0,
        noise=0.2,
    )


def psnr_db(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB, peak 255) between two uint8 images over a mask."""
    mse = float(np.mean((a[where].astype(np.float64) - b[where].astype(np.float64)) ** 2))
    return float(10.0 * np.log10(255.0**2 / max(mse, 1e-12)))


def tissue_phantom(ctx: SceneContext) -> Phantom:
    """Layered tissue with a few round structures of mixed echogenicity."""
    rng, depth = ctx.rng, ctx.probe.depth_mm
    layers: list[Layer] = [
        Layer(Band(-1e3, 0.02 * depth), 2.0),
        Layer(Band(0.02 * depth, rng.uniform(0.08, 0.15) * depth), 0.6),
    ]
    for _ in range(int(rng.integers(2, 5))):
        x, z = ctx.random_point((0.25, 0.85), (0.15, 0.85))
        r = rng.uniform(0.04, 0.1) * depth
        if rng.random() < 0.5:
            shape = lesion_shape(rng, x, z, r, bool(rng.random() < 0.5))
            layers.append(Layer(shape, float(rng.choice([0.15, 0.4, 2.5])), label=1))
        else:
            layers.append(
                Layer(Ellipse(x, z, r, r * rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)), 0.03, -0.05, 1)
            )
    return Phantom(tuple(layers))


@register_scene("enhance", probe=CONVEX, frames=1, tag="quality")
def enhance_scene(ctx: SceneContext) -> SimResult:
    """Frames from a degraded acquisition; ``truth.clean`` is the same tissue acquired well.

    Both share anatomy and tissue texture; the clean image is compounded over 12 looks
    with a sharper point spread and no noise. Label 1 marks the structures.
    """
    phantom = tissue_phantom(ctx)
    phantoms = [phantom] * ctx.frames
    frames = ctx.render(phantoms, degraded_params(ctx.cfg.imaging), ctx.speckle_rng)
    clean = ctx.render(phantoms, clean_params(ctx.cfg.imaging), ctx.clean_rng)
    psnr = psnr_db(frames[0], clean[0], ctx.scanner.fan_mask)
    values = {"input_psnr_db": Quantity(psnr, "dB")}
    report = compose(
        "Image quality pair (simulated)",
        [f"Degraded input PSNR against the clean acquisition {fmt(values['input_psnr_db'])}."],
        "Low-quality input; the clean target is a compounded acquisition of the same tissue.",
    )
    extras = Extras(labels={1: "structure"}, values=values, report=report)
    return ctx.pack(frames, ctx.labels(phantoms), extras, clean)
