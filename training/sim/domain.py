"""Domain randomisation: every scene under many scanners, settings, geometries and exports.

One seed draws one acquisition (:func:`draw`): probe geometry (linear, convex, phased or a
plain no-sector rectangle), image size, centre frequency, speckle density, point-spread
width and side lobes, attenuation with or without TGC, dynamic range, gain, noise, the
log-compression curve, burned-in text, and for the lesion scene the lesions themselves
(count, size, echogenicity from anechoic to hyperechoic, halo, posterior shadow or
enhancement, breast, plain or layered background). :func:`simulate_randomised` renders it and
applies what happens after the scanner: JPEG compression and a colour-Doppler box.

The ranges live in one frozen dataclass (:class:`DomainRanges`); ``docs/simulator.md`` lists
them. Same seed, same output: the draws come from their own generator, the anatomy and speckle
from the scene's, so randomisation never changes what a plain ``simulate`` call makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from training.sim.config import CONVEX, LINEAR, PHASED, ImagingParams, ProbeGeometry, SimConfig
from training.sim.scenes import SCENES, simulate
from training.sim.scenes.lesion import ECHO_RANGES
from training.sim.truth import SimResult

# probe geometries each scene can be imaged with; "plain" is a linear probe cropped to its
# rectangle: no sector, no margins, no text (a phantom or a research-system export). Lesions
# stay off the phased fan: an anechoic disc there is what the LV cavity looks like, and a model
# trained on both called the LV cavity "lesion" (no EF).
SCENE_GEOMETRIES: dict[str, tuple[str, ...]] = {
    "lesion": ("linear", "plain", "convex"),
    "vessels": ("linear", "plain", "convex"),
    "organs": ("convex", "phased"),
    "fetal_head": ("convex", "phased"),
    "cardiac": ("phased", "convex"),
    "enhance": ("convex", "phased", "linear", "plain"),
}
_PROBES = {"linear": LINEAR, "plain": LINEAR, "convex": CONVEX, "phased": PHASED}
# the grey level (mean of R, G and B, as the engine reads colour) of colour-Doppler hues:
# dark and bright red, dark and bright blue, aliasing yellow and cyan
DOPPLER_GREYS = (60, 100, 75, 120, 170, 160)


@dataclass(frozen=True)
class DomainRanges:
    """The ranges one randomised acquisition is drawn from (uniform unless said otherwise).

    Sizes in pixels, depths in mm, frequencies in MHz, levels in dB; ``*_p`` are probabilities.
    """

    size_px: tuple[int, int] = (200, 800)  # the longer image side
    aspect: tuple[float, float] = (0.75, 1.35)  # width / height
    frequency_scale: tuple[float, float] = (0.7, 1.4)  # times the probe's nominal frequency
    depth_scale: tuple[float, float] = (0.8, 1.15)  # times the scene's natural depth
    lesion_depth_mm: tuple[float, float] = (25.0, 60.0)  # small-parts imaging depth (lesion, vessels)
    sector_lesion_depth_mm: tuple[float, float] = (40.0, 100.0)  # the same on a convex fan (vessels too)
    psf_axial_wavelengths: tuple[float, float] = (0.4, 1.6)
    psf_lateral_wavelengths: tuple[float, float] = (1.0, 4.5)
    psf_sidelobe_p: float = 0.4
    psf_sidelobe: tuple[float, float] = (0.1, 0.35)
    sparse_speckle_p: float = 0.3
    # a fine-speckle acquisition (its own random stream; 0 by default): echoes formed on one
    # beam per pixel instead of one per two, with PSF widths from the ranges below and a
    # narrower floor (in grid samples), so that a speckle cell spans one or two pixels of the
    # 256-px model input along and across the beam (median 1.6 x 2.0; the other draws 2.3 x
    # 4.8), nearly white on a small image, as on a research system's export or an RF
    # simulator's image of a phantom
    fine_speckle_p: float = 0.0
    fine_psf_axial_wavelengths: tuple[float, float] = (0.1, 0.5)
    fine_psf_lateral_wavelengths: tuple[float, float] = (0.3, 1.2)
    fine_psf_min_sigma: tuple[float, float] = (0.3, 0.7)  # grid samples
    fine_beam_density: float = 1.0
    # a raw-speckle acquisition (its own random stream; 0 by default): one look (no compounding)
    # and a narrower dynamic range, so that the speckle keeps its full contrast, as on a
    # research system's or an RF simulator's single-angle export (a local grey-level standard
    # deviation of about 17 at the 256-px model input, median, against 10 otherwise; PyMUST 24)
    raw_speckle_p: float = 0.0
    raw_dynamic_range_db: tuple[float, float] = (35.0, 55.0)
    # diffuse clutter (its own random stream; 0 by default): a single-angle plane wave's or an
    # unfocused beam's grating and side lobes, reverberation near the probe; it fills in what is
    # darker than its surroundings, so a hypoechoic lesion shows less contrast than its echo,
    # most near the probe (docs/simulator.md)
    clutter_p: float = 0.0
    clutter: tuple[float, float] = (0.3, 1.0)  # amplitude relative to the local mean echo
    clutter_width_mm: tuple[float, float] = (2.0, 6.0)
    clutter_depth_mm: tuple[float, float] = (8.0, 30.0)  # 1/e depth; a third keep one level
    scatterer_density: tuple[float, float] = (0.2, 2.0)  # scatterers per beam-grid sample when sparse
    looks: tuple[int, int] = (1, 3)  # compounding, inclusive
    attenuation_db_cm_mhz: tuple[float, float] = (0.3, 1.0)
    tgc_off_p: float = 0.25
    tgc_compensation: tuple[float, float] = (0.6, 1.0)
    dynamic_range_db: tuple[float, float] = (35.0, 80.0)
    headroom_db: tuple[float, float] = (8.0, 24.0)
    gain_db: tuple[float, float] = (-10.0, 8.0)
    noise: tuple[float, float] = (0.0, 0.2)
    texture: tuple[float, float] = (0.0, 0.5)
    gamma: tuple[float, float] = (0.6, 1.6)  # grey = 255 (grey / 255) ** gamma after log compression
    text_p: float = 0.5  # burned-in text and depth scale (never on the plain rectangle)
    jpeg_p: float = 0.4
    jpeg_quality: tuple[int, int] = (25, 95)
    doppler_p: float = 0.15
    shading_p: float = 0.4
    shading_db: tuple[float, float] = (1.5, 5.0)  # standard deviation of the smooth gain field
    # lesion scene
    lesion_count: dict[int, float] = field(default_factory=lambda: {1: 0.6, 2: 0.25, 3: 0.15})
    lesion_echo: dict[str, float] = field(
        default_factory=lambda: {"anechoic": 0.2, "hypo": 0.35, "iso": 0.2, "hyper": 0.25}
    )
    lesion_radius_mm: tuple[float, float] = (1.5, 10.0)
    lesion_halo_p: float = 0.25
    lesion_posterior: dict[str, float] = field(
        default_factory=lambda: {"class": 0.4, "shadow": 0.2, "enhance": 0.2, "none": 0.2}
    )
    lesion_background: dict[str, float] = field(
        default_factory=lambda: {"breast": 0.4, "plain": 0.35, "layers": 0.25}
    )
    # a zoomed field on a linear or plain geometry (a scanner's zoom box, a shallow small-parts
    # preset): one lesion fills much of the image, as a dark round ventricle or vessel does
    lesion_zoom_p: float = 0.25
    lesion_zoom_depth_mm: tuple[float, float] = (15.0, 25.0)
    lesion_zoom_radius: tuple[float, float] = (0.2, 0.45)  # mean radius, a share of the field's depth
    lesion_zoom_background: dict[str, float] = field(default_factory=lambda: {"plain": 0.6, "layers": 0.4})
    # the share of near-isoechoic ("iso") lesion frames drawn as plain discs: benign (smooth),
    # round, no halo and no posterior effect, so the lesion differs from the tissue by its mean
    # level alone (as a phantom's contrast target does); drawn from its own stream
    lesion_plain_iso_p: float = 0.0
    # the share of all lesion frames (any echogenicity) drawn as a phantom's targets are: plain
    # discs as above (a QA phantom's anechoic, hypo- and hyperechoic cylinders seen across),
    # drawn from its own stream after ``lesion_plain_iso_p``
    lesion_disc_p: float = 0.0
    # a near-isoechoic lesion's contrast: its backscatter amplitude is 1 minus or plus this
    # (the scene's own range by default); above about 0.3 the lesion is visible
    lesion_iso_contrast: tuple[float, float] = ECHO_RANGES["iso"]


DEFAULT_RANGES = DomainRanges()


def ranges_with(overrides: Mapping[str, Any]) -> DomainRanges:
    """``DEFAULT_RANGES`` with some fields replaced (a recipe's ``data.domain``).

    A range is two numbers, low to high; a probability is in [0, 1]; a weighted choice
    (``lesion_echo``, ``lesion_count``, ...) gives weights >= 0, not all 0, to some of the
    default's keys (the others get 0).

    Raises:
        ValueError: an unknown field or a value of the wrong shape (the message names it).
    """
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in DomainRanges.__dataclass_fields__:
            known = ", ".join(DomainRanges.__dataclass_fields__)
            raise ValueError(f"unknown domain range {key!r} (known: {known})")
        default = getattr(DEFAULT_RANGES, key)
        out[key] = _checked(key, value, default)
    return replace(DEFAULT_RANGES, **out)


def _checked(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, dict):
        if not isinstance(value, Mapping) or not value:
            raise ValueError(f"domain.{key} must map some of {sorted(default, key=str)} to weights")
        kind = type(next(iter(default)))
        weights = {}
        for k, w in value.items():
            name = kind(k) if kind is int and str(k).isdigit() else k
            if name not in default or not isinstance(w, int | float) or w < 0:
                raise ValueError(
                    f"domain.{key}: {k!r}: {w!r} is not a weight >= 0 of one of {sorted(default)}"
                )
            weights[name] = float(w)
        if sum(weights.values()) <= 0:
            raise ValueError(f"domain.{key}: the weights are all 0")
        return {k: weights.get(k, 0.0) for k in default}
    if isinstance(default, tuple):
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int | float) for v in value)
            or value[0] > value[1]
        ):
            raise ValueError(f"domain.{key} {value!r} must be a range [low, high]")
        return tuple(type(d)(v) for d, v in zip(default, value))
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"domain.{key} {value!r} must be a number")
    if key.endswith("_p") and not 0.0 <= value <= 1.0:
        raise ValueError(f"domain.{key} {value!r} must be a probability between 0 and 1")
    return type(default)(value)


@dataclass(frozen=True)
class Acquisition:
    """One drawn acquisition: the simulator configuration, scene options and export steps."""

    scene: str
    geometry: str
    cfg: SimConfig
    options: dict[str, Any]
    gamma: float
    jpeg_quality: int | None
    doppler: bool

    def record(self) -> dict[str, Any]:
        """JSON-ready summary (stored as ``truth.domain``)."""
        return {
            "geometry": self.geometry,
            "size": [self.cfg.height, self.cfg.width],
            "probe": asdict(self.cfg.probe) if self.cfg.probe else None,
            "imaging": asdict(self.cfg.imaging),
            "text": self.cfg.overlay,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
            "gamma": self.gamma,
            "jpeg_quality": self.jpeg_quality,
            "doppler": self.doppler,
        }


def _u(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return float(rng.uniform(*span))


def _pick(rng: np.random.Generator, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _probe(rng: np.random.Generator, scene: str, geometry: str, r: DomainRanges) -> ProbeGeometry:
    base = _PROBES[geometry]
    freq = base.frequency_mhz * _u(rng, r.frequency_scale)
    if scene in ("lesion", "vessels"):
        span = r.lesion_depth_mm if geometry in ("linear", "plain") else r.sector_lesion_depth_mm
        depth = _u(rng, span)
    else:
        natural = SCENES.get(scene).probe
        depth = (natural.depth_mm if natural.kind == geometry else base.depth_mm) * _u(rng, r.depth_scale)
    width = depth * _u(rng, (0.7, 1.3)) if geometry == "plain" else base.width_mm
    return replace(base, depth_mm=depth, width_mm=width, frequency_mhz=freq)


def _imaging(rng: np.random.Generator, r: DomainRanges) -> ImagingParams:
    sidelobe = _u(rng, r.psf_sidelobe) if rng.random() < r.psf_sidelobe_p else 0.0
    density = _u(rng, r.scatterer_density) if rng.random() < r.sparse_speckle_p else 0.0
    tgc = 0.0 if rng.random() < r.tgc_off_p else _u(rng, r.tgc_compensation)
    return ImagingParams(
        attenuation_db_cm_mhz=_u(rng, r.attenuation_db_cm_mhz),
        tgc_compensation=tgc,
        gain_db=_u(rng, r.gain_db),
        dynamic_range_db=_u(rng, r.dynamic_range_db),
        headroom_db=_u(rng, r.headroom_db),
        psf_axial_wavelengths=_u(rng, r.psf_axial_wavelengths),
        psf_lateral_wavelengths=_u(rng, r.psf_lateral_wavelengths),
        looks=int(rng.integers(r.looks[0], r.looks[1] + 1)),
        noise=_u(rng, r.noise),
        texture=_u(rng, r.texture),
        scatterer_density=density,
        psf_sidelobe=sidelobe,
    )


def _lesion_options(rng: np.random.Generator, r: DomainRanges) -> dict[str, Any]:
    posterior = _pick(rng, r.lesion_posterior)
    return {
        "echo": _pick(rng, r.lesion_echo),
        "count": int(_pick(rng, r.lesion_count)),
        "background": _pick(rng, r.lesion_background),
        "radius_mm": r.lesion_radius_mm,
        "halo": float(np.exp(rng.uniform(-1.0, 1.0))) if rng.random() < r.lesion_halo_p else None,
        "posterior": None if posterior == "class" else posterior,
    }


def draw(scene: str, seed: int, ranges: DomainRanges = DEFAULT_RANGES) -> Acquisition:
    """The acquisition of ``scene`` that ``seed`` draws from ``ranges`` (deterministic)."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    geometry = str(rng.choice(SCENE_GEOMETRIES[scene]))
    side = int(rng.integers(ranges.size_px[0], ranges.size_px[1] + 1))
    aspect = _u(rng, ranges.aspect)
    height, width = (side, round(side * aspect)) if aspect < 1 else (round(side / aspect), side)
    probe = _probe(rng, scene, geometry, ranges)
    imaging = _imaging(rng, ranges)
    text = geometry != "plain" and bool(rng.random() < ranges.text_p)
    options = _lesion_options(rng, ranges) if scene == "lesion" else {}
    gamma = _u(rng, ranges.gamma)
    quality = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    compressed = bool(rng.random() < ranges.jpeg_p)
    doppler = bool(rng.random() < ranges.doppler_p)
    shade = np.random.default_rng([int(seed), 0x5AD])  # its own stream, as the zoom's below
    if shade.random() < ranges.shading_p:
        imaging = replace(imaging, shading_db=_u(shade, ranges.shading_db), shading_seed=int(seed))
    if scene == "lesion" and geometry in ("linear", "plain"):
        # its own stream, so that adding the zoom left every other draw of a seed as it was
        zoom = np.random.default_rng([int(seed), 0x200A])
        if zoom.random() < ranges.lesion_zoom_p:
            depth = _u(zoom, ranges.lesion_zoom_depth_mm)
            probe = replace(probe, depth_mm=depth, width_mm=depth * _u(zoom, (0.7, 1.3)))
            options["radius_mm"] = tuple(depth * f for f in ranges.lesion_zoom_radius)
            options["count"] = 1  # one lesion fills the zoomed field
            options["margin_mm"] = 0.5
            options["background"] = _pick(zoom, ranges.lesion_zoom_background)
    iso = scene == "lesion" and options["echo"] == "iso"
    if iso and np.random.default_rng([int(seed), 0x1500]).random() < ranges.lesion_plain_iso_p:
        options.update(malignant=False, disc=True, halo=None, posterior="none")
    if scene == "lesion" and np.random.default_rng([int(seed), 0xD15C]).random() < ranges.lesion_disc_p:
        options.update(malignant=False, disc=True, halo=None, posterior="none")
    if iso and ranges.lesion_iso_contrast != ECHO_RANGES["iso"]:
        options["iso_contrast"] = ranges.lesion_iso_contrast
    fine = np.random.default_rng([int(seed), 0xF1E])  # its own stream, as the zoom's above
    if fine.random() < ranges.fine_speckle_p:
        imaging = replace(
            imaging,
            psf_axial_wavelengths=_u(fine, ranges.fine_psf_axial_wavelengths),
            psf_lateral_wavelengths=_u(fine, ranges.fine_psf_lateral_wavelengths),
            psf_min_sigma=_u(fine, ranges.fine_psf_min_sigma),
            beam_density=ranges.fine_beam_density,
        )
    raw = np.random.default_rng([int(seed), 0x2A3])  # its own stream, as the zoom's above
    if raw.random() < ranges.raw_speckle_p:
        imaging = replace(imaging, looks=1, dynamic_range_db=_u(raw, ranges.raw_dynamic_range_db))
    clutter = np.random.default_rng([int(seed), 0xC1])  # its own stream, as the zoom's above
    if clutter.random() < ranges.clutter_p:
        imaging = replace(
            imaging,
            clutter=_u(clutter, ranges.clutter),
            clutter_width_mm=_u(clutter, ranges.clutter_width_mm),
            clutter_depth_mm=0.0 if clutter.random() < 1 / 3 else _u(clutter, ranges.clutter_depth_mm),
        )
    cfg = SimConfig(height=height, width=width, probe=probe, imaging=imaging, overlay=text)
    return Acquisition(scene, geometry, cfg, options, gamma, quality if compressed else None, doppler)


def simulate_randomised(
    scene: str, seed: int, ranges: DomainRanges = DEFAULT_RANGES, *, clean: bool = False, **options: Any
) -> SimResult:
    """``scene`` under the acquisition ``draw(scene, seed, ranges)``; the draw is in ``truth.domain``.

    Args:
        scene: a registered scene.
        seed: one seed for the draw and the scene (anatomy and speckle).
        ranges: the randomisation ranges.
        clean: also render the clean counterpart (it gets the same geometry and compression
            curve, never JPEG or Doppler).
        **options: scene options that override the drawn ones.

    Returns:
        The result; a plain geometry is cropped to the image rectangle.
    """
    acq = draw(scene, seed, ranges)
    result = simulate(scene, seed=seed, cfg=acq.cfg, clean=clean, **{**acq.options, **options})
    if acq.geometry == "plain":
        result = crop(result, result.fan_bbox)
    rng = np.random.default_rng([int(seed), 0xD0C])
    frames = _curve(result.frames, acq.gamma)
    truth_clean = None if result.truth.clean is None else _curve(result.truth.clean, acq.gamma)
    fan = result.truth.fan_mask
    if acq.doppler:
        frames = doppler_box(frames, fan, rng)
    if acq.jpeg_quality is not None:
        frames = np.stack([jpeg(f, acq.jpeg_quality) for f in frames])
    record = acq.record()
    record["options"].update(options)
    truth = replace(result.truth, clean=truth_clean, domain=record)
    return replace(result, frames=frames, truth=truth)


def _curve(frames: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    return lut[frames]


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """``frame`` (uint8 grey) after a JPEG round trip at ``quality``."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def doppler_box(frames: np.ndarray, fan: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames with a colour-Doppler box: an outlined rectangle in the fan with flow-coloured blobs.

    Colours are painted as the grey level the engine reads from them (the mean of R, G and B).
    """
    out = frames.copy()
    rows, cols = np.flatnonzero(fan.any(axis=1)), np.flatnonzero(fan.any(axis=0))
    if rows.size < 8 or cols.size < 8:
        return out
    fh, fw = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    h, w = int(fh * rng.uniform(0.25, 0.5)), int(fw * rng.uniform(0.25, 0.5))
    y0 = int(rows[0] + rng.uniform(0.05, 0.95) * (fh - h))
    x0 = int(cols[0] + rng.uniform(0.05, 0.95) * (fw - w))
    coarse = rng.standard_normal((max(2, h // 16), max(2, w // 16))).astype(np.float32)
    flow = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    blobs = np.abs(flow) > 1.5  # flow fills a few patches of the box
    hue = np.where(flow > 0, DOPPLER_GREYS[int(rng.integers(0, 2))], DOPPLER_GREYS[int(rng.integers(2, 4))])
    hue = np.where(np.abs(flow) > 2.2, DOPPLER_GREYS[int(rng.integers(4, 6))], hue).astype(np.uint8)
    inside = blobs & fan[y0 : y0 + h, x0 : x0 + w]
    for f in out:
        patch = f[y0 : y0 + h, x0 : x0 + w]
        patch[inside] = hue[inside]
        cv2.rectangle(f, (x0, y0), (x0 + w - 1, y0 + h - 1), 200, 1)
    return out


def crop(result: SimResult, box: tuple[int, int, int, int]) -> SimResult:
    """``result`` cut to the inclusive pixel box ``(x0, y0, x1, y1)``: frames, masks and every coordinate."""
    x0, y0, x1, y1 = box
    ys, xs = slice(y0, y1 + 1), slice(x0, x1 + 1)
    t = result.truth
    shift = np.array([x0, y0, x0, y0], np.float32)
    boxes = tuple(np.asarray(b, np.float32) - shift for b in t.boxes)
    landmarks = t.landmarks - np.array([x0, y0], np.float32)
    truth = replace(
        t,
        masks=np.ascontiguousarray(t.masks[:, ys, xs]),
        boxes=boxes,
        landmarks=landmarks,
        clean=None if t.clean is None else np.ascontiguousarray(t.clean[:, ys, xs]),
        fan_mask=np.ascontiguousarray(t.fan_mask[ys, xs]),
        text_mask=np.ascontiguousarray(t.text_mask[ys, xs]),
    )
    ox, oy = result.origin_px
    return replace(
        result,
        frames=np.ascontiguousarray(result.frames[:, ys, xs]),
        truth=truth,
        fan_bbox=(0, 0, x1 - x0, y1 - y0),
        origin_px=(ox - x0, oy - y0),
    )
