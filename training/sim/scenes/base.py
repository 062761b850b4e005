"""The scene registry and the context every scene generator builds on.

A scene generator is registered by name with its natural probe and frame count. It draws
its anatomy from ``ctx.rng``, describes each frame as a :class:`Phantom`, and hands the
phantoms and the exact ground truth to :meth:`SceneContext.finish`, which renders the
frames, burns in annotations and packs a :class:`SimResult`.

Random streams are split once per scene: anatomy, speckle, texture, the clean render and
the patient identity each draw from their own child generator, so a site shift (other
gain, speckle or noise) keeps the same anatomy for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.registry import Registry
from training.sim.config import ImagingParams, ProbeGeometry, SimConfig
from training.sim.formation import Renderer, density_field, texture_field
from training.sim.geometry import Scanner, make_scanner
from training.sim.overlay import apply_layer, burn_in_layer
from training.sim.patient import PatientInfo, synthetic_patient
from training.sim.phantom import Phantom
from training.sim.shapes import Shape, inside
from training.sim.truth import Quantity, SceneTruth, SimResult


@dataclass(frozen=True)
class SceneSpec:
    """A registered scene generator with its defaults."""

    name: str
    build: Callable[..., SimResult]
    probe: ProbeGeometry
    frames: int
    tag: str


SCENES: Registry[SceneSpec] = Registry("scene")


def register_scene(
    name: str, probe: ProbeGeometry, frames: int = 1, tag: str | None = None
) -> Callable[[Callable[..., SimResult]], Callable[..., SimResult]]:
    """Register ``build(ctx, **options) -> SimResult`` under ``name``.

    Args:
        name: registry key, e.g. ``"lesion"``.
        probe: the probe used when the configuration names none.
        frames: the frame count used when the configuration names none.
        tag: second name of the synthetic patient (defaults to the scene name).
    """

    def add(build: Callable[..., SimResult]) -> Callable[..., SimResult]:
        SCENES.register(name)(SceneSpec(name, build, probe, frames, (tag or name).upper()))
        return build

    return add


@dataclass(frozen=True)
class Extras:
    """Optional ground truth a scene adds to its masks (all in output pixels)."""

    labels: dict[int, str]
    boxes: tuple[np.ndarray, ...] | None = None
    box_labels: tuple[np.ndarray, ...] | None = None
    box_classes: tuple[str, ...] = ()
    landmarks: np.ndarray | None = None
    landmark_names: tuple[str, ...] = ()
    class_index: int | None = None
    class_names: tuple[str, ...] = ()
    values: dict[str, Quantity] | None = None
    frame_values: dict[str, tuple[np.ndarray, str]] | None = None
    report: str = ""


class SceneContext:
    """What a scene generator needs: configuration, geometry, random streams and rendering.

    Args:
        spec: the registered scene.
        cfg: the acquisition configuration (probe filled in).
        rng: the scene's random generator.
        seed: the seed, recorded in the ground truth.
        clean: also render a high-quality counterpart of every frame.
    """

    def __init__(
        self, spec: SceneSpec, cfg: SimConfig, rng: np.random.Generator, seed: int | None, clean: bool
    ) -> None:
        self.spec = spec
        self.cfg = cfg.with_probe(spec.probe)
        self.seed = seed
        self.frames = self.cfg.frames or spec.frames
        streams = rng.spawn(6)
        self.rng, self.speckle_rng, texture_rng, self.clean_rng, patient_rng, density_rng = streams
        self.probe: ProbeGeometry = self.cfg.probe  # type: ignore[assignment]
        self.scanner: Scanner = make_scanner(
            self.probe, self.cfg.height, self.cfg.width, self.cfg.imaging.beam_density
        )
        self._field = texture_field(self.scanner.grid_shape, texture_rng)
        nu = self.cfg.imaging.scatterer_density
        self._density = density_field(self.scanner.grid_shape, nu, density_rng) if nu > 0 else None
        self.patient: PatientInfo = synthetic_patient(spec.tag, patient_rng)
        self.clean_params: ImagingParams | None = clean_params(self.cfg.imaging) if clean else None

    # --- placement helpers -------------------------------------------------------------------

    def fits(self, x: float, z: float, radius: float, margin: float = 2.0) -> bool:
        """True when a disc of ``radius`` mm around (x, z) lies inside the fan with ``margin`` mm to spare."""
        t = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
        circle = np.stack([x + (radius + margin) * np.cos(t), z + (radius + margin) * np.sin(t)], -1)
        return self.all_inside(circle, margin=0.0)

    def all_inside(self, points: np.ndarray, margin: float = 2.0) -> bool:
        """True when every ``[P, 2]`` physical point (x, z) lies in the fan, ``margin`` mm from its edges."""
        r, u = self.scanner.beams.to_beam(points[:, 0], points[:, 1])
        u0, u1 = self.scanner.beams.u_range
        slack = margin / np.maximum(np.vectorize(self.scanner.beams.mm_per_u)(np.maximum(r, 1.0)), 1e-6)
        ok_r = (r >= margin) & (r <= self.probe.depth_mm - margin)
        return bool(np.all(ok_r & (u >= u0 + slack) & (u <= u1 - slack)))

    def random_point(
        self, depth: tuple[float, float], lateral: tuple[float, float] = (0.15, 0.85)
    ) -> tuple[float, float]:
        """A point at a random fraction of the depth and of the fan width, in mm (x, z)."""
        r = self.rng.uniform(*depth) * self.probe.depth_mm
        u0, u1 = self.scanner.beams.u_range
        u = u0 + self.rng.uniform(*lateral) * (u1 - u0)
        x, z = self.scanner.beams.from_beam(np.asarray(r), np.asarray(u))
        return float(x), float(z)

    def mask_of(self, shape: Shape) -> np.ndarray:
        """``[H, W]`` bool: pixel centres inside ``shape`` and inside the fan."""
        return inside(shape, self.scanner.pix_x, self.scanner.pix_z) & self.scanner.fan_mask

    # --- rendering ----------------------------------------------------------------------------

    def render(
        self, phantoms: Sequence[Phantom], params: ImagingParams, rng: np.random.Generator
    ) -> np.ndarray:
        """``[N, H, W]`` uint8 frames of the phantoms, with one speckle history."""
        renderer = Renderer(self.scanner, params, rng, field=self._field, density=self._density)
        return np.stack([renderer.frame(p) for p in phantoms])

    def labels(self, phantoms: Sequence[Phantom]) -> np.ndarray:
        """``[N, H, W]`` uint8 label maps of the phantoms at pixel centres, 0 outside the fan."""
        s = self.scanner
        return np.stack([p.label_map(s.pix_x, s.pix_z, s.fan_mask) for p in phantoms])

    def right_lines(self) -> tuple[str, ...]:
        p, im = self.probe, self.cfg.imaging
        return (
            f"{p.kind[0].upper()}{p.frequency_mhz:.1f} MHz",
            f"D {p.depth_mm / 10:.1f} cm G {im.gain_db:+.0f}",
            f"DR {im.dynamic_range_db:.0f}",
        )

    def finish(
        self, phantoms: Sequence[Phantom], extras: Extras, masks: np.ndarray | None = None
    ) -> SimResult:
        """Render the phantoms, burn in annotations and pack frames plus ground truth.

        Args:
            phantoms: one phantom per frame.
            extras: the scene's ground truth besides the masks.
            masks: ``[N, H, W]`` label maps if the scene already computed them.
        """
        frames = self.render(phantoms, self.cfg.imaging, self.speckle_rng)
        clean = (
            None if self.clean_params is None else self.render(phantoms, self.clean_params, self.clean_rng)
        )
        return self.pack(frames, self.labels(phantoms) if masks is None else masks, extras, clean)

    def pack(
        self, frames: np.ndarray, masks: np.ndarray, extras: Extras, clean: np.ndarray | None = None
    ) -> SimResult:
        """Burn the annotation layer into ``frames`` (and ``clean``) and build the result."""
        s = self.scanner
        n = frames.shape[0]
        left, right = self.patient.screen_lines(), self.right_lines()
        if self.cfg.overlay:
            layer = burn_in_layer(s, left, right)
            apply_layer(frames, layer)
            if clean is not None:
                apply_layer(clean, layer)
        else:
            layer, left, right = np.zeros(s.shape, np.uint8), (), ()
        empty_boxes = tuple(np.zeros((0, 4), np.float32) for _ in range(n))
        empty_labels = tuple(np.zeros(0, np.int64) for _ in range(n))
        truth = SceneTruth(
            scene=self.spec.name,
            seed=self.seed,
            spacing_mm=(s.spacing_mm, s.spacing_mm),
            labels=extras.labels,
            masks=masks,
            boxes=extras.boxes if extras.boxes is not None else empty_boxes,
            box_labels=extras.box_labels if extras.box_labels is not None else empty_labels,
            box_classes=extras.box_classes,
            landmarks=extras.landmarks if extras.landmarks is not None else np.zeros((n, 0, 2), np.float32),
            landmark_names=extras.landmark_names,
            class_index=extras.class_index,
            class_names=extras.class_names,
            values=extras.values or {},
            frame_values=extras.frame_values or {},
            report=extras.report,
            clean=clean,
            fan_mask=s.fan_mask.copy(),
            text_mask=layer > 0,
            burned_text=left + right,
            patient=self.patient,
        )
        return SimResult(frames, self.cfg.fps, truth, s.fan_bbox_px(), self.probe.kind, s.origin)


def clean_params(params: ImagingParams) -> ImagingParams:
    """The high-quality version of an acquisition: fully compounded (speckle-free), sharper, no noise."""
    return replace(
        params,
        looks=0,
        psf_axial_wavelengths=params.psf_axial_wavelengths * 0.7,
        psf_lateral_wavelengths=params.psf_lateral_wavelengths * 0.7,
        noise=0.0,
        speckle_correlation=1.0,
    )


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """Tight ``[4]`` float32 box ``(x0, y0, x1, y1)`` (inclusive pixels) of a bool mask; ``None`` if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)


def simulate(
    name: str,
    seed: int | np.random.Generator = 0,
    cfg: SimConfig | None = None,
    *,
    clean: bool = False,
    **options: object,
) -> SimResult:
    """Simulate one scene.

    Args:
        name: a registered scene (see :func:`list_scenes`).
        seed: an integer seed or a numpy Generator; the same seed gives identical output.
        cfg: acquisition settings (size, probe, imaging); defaults to 256x256 with the
            scene's natural probe.
        clean: also render a high-quality counterpart (``truth.clean``).
        **options: scene-specific options (e.g. ``malignant=True`` for ``"lesion"``).

    Returns:
        Frames, frame rate, calibration and exact ground truth.
    """
    spec = SCENES.get(name)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    recorded = None if isinstance(seed, np.random.Generator) else int(seed)
    ctx = SceneContext(spec, cfg or SimConfig(), rng, recorded, clean)
    return spec.build(ctx, **options)


def list_scenes() -> list[str]:
    """Names of the registered scenes."""
    return SCENES.names()
