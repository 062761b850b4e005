"""Lesion finding on B-mode images of a tissue-mimicking phantom, formed from RF physics.

    python bench/phantom.py [--model echocare-demo] [--images 6] [--seed 0] [--out bench/out/phantom]

The bundled models learn only from the EchoCare Studio simulator (``training/sim``), which forms
images on a beam grid as a blurred complex speckle field. This benchmark asks how such a model
fares on images made by an independent formation model, as a new user scanning a commercial
general-purpose phantom would see them. Nothing here uses the simulator.

Formation model (numpy and OpenCV only):

* Object: a 40 mm wide x 50 mm deep slab of point scatterers, Poisson in number (about 40 per
  mm^2, i.e. 10 or more per resolution cell) with uniform positions and zero-mean Gaussian
  amplitudes. Anechoic cysts (three per image, diameters drawn from 3-8 mm) hold no scatterers;
  one or two hyperechoic targets (5-8 mm) scale the amplitudes by 3-4; a vertical column and a
  horizontal row of wire targets are single strong scatterers. Positions vary with the seed.
* RF lines of a linear array: 128 A-lines over the width. Each scatterer adds a 2-cycle
  Gaussian-modulated cosine (f0 = 5 MHz, c = 1540 m/s) at its two-way delay, weighted by a
  Gaussian two-way lateral beam profile whose width grows away from the 25 mm focus like a
  Gaussian beam (sigma = 0.35 mm at focus, Rayleigh range 15 mm; peak amplitude falls as
  1/sqrt(width)). Sampling at 80 MHz; delays placed by linear interpolation and convolved with
  the pulse by FFT. Attenuation 0.5 dB/cm/MHz (two-way, at f0), white electronic noise, then a
  TGC that gives back 0.45 dB/cm/MHz.
* Display: quadrature demodulation (mix with exp(-i 2 pi f0 t), windowed-sinc low-pass at
  3 MHz), envelope, log compression to a 60 dB dynamic range with the speckle median at 26 dB
  above the floor, area-resampled in depth and linearly across lines to 256 rows x 205 columns
  of square pixels (0.1955 mm), uint8. The frames carry that pixel spacing as calibration.

Each image is run through the engine exactly as ``echocare infer`` does (``run_tasks`` on an
in-memory cine: letterbox preprocessing, the heads, task post-processing with default
thresholds), for segmentation, classification and detection. Per truth object (cyst or
hyperechoic target): ``dice`` of the predicted ``lesion`` components that touch it against
its exact mask, ``hit`` when that Dice is >= 0.5 or the object's centre pixel is labelled
``lesion``, the segmentation label covering most of the object, and the best-overlapping
detection box (label, score). With a prompt head, ``prompt_dice`` gives per target kind the Dice
of one click at the target's centre and of its tight box (``engine.tasks.prompting``), beside
blur + Otsu's threshold inside the same box (``otsu_box``). ``false_positive_area_fraction`` is
the share of the area outside every cyst and hyperechoic target (dilated by 1 mm) that is
labelled ``lesion``. Phantom images and overlays (truth outlines green for cysts, cyan for
hyperechoic targets; predicted lesion red, other segmentation labels yellow; detection boxes
magenta) go to ``--out``. Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEMO = "echocare-demo"
OUT = Path(__file__).resolve().parent / "out" / "phantom"

C_MM_S = 1540e3  # speed of sound, mm/s
F0 = 5e6  # centre frequency, Hz
FS = 80e6  # RF sampling rate, Hz
CYCLES = 2.0  # pulse length (FWHM of the Gaussian envelope), in cycles
N_LINES = 128
ROWS, COLS = 256, 205
N_SAMPLES = 5200  # RF samples per line: 5200 * c / (2 fs) = 50.05 mm
DZ = C_MM_S / (2 * FS)  # mm per RF sample
DEPTH_MM = N_SAMPLES * DZ
SPACING = DEPTH_MM / ROWS  # mm per pixel, both axes
WIDTH_MM = COLS * SPACING
DENSITY = 40.0  # scatterers per mm^2
FOCUS_MM, SIGMA0_MM, RAYLEIGH_MM = 25.0, 0.35, 15.0
ATTEN, TGC = 0.5, 0.45  # dB/cm/MHz, one-way (doubled for the round trip)
NOISE_DB = -40.0  # electronic noise rms relative to the shallow echo rms
DYNAMIC_DB, MEDIAN_DB = 60.0, 26.0
WIRE_AMP = 60.0  # wire amplitude; background scatterers have unit standard deviation


@dataclass(frozen=True)
class Target:
    """A round phantom target: ``kind`` is ``cyst`` or ``hyperechoic``; centre and size in mm."""

    kind: str
    x_mm: float  # lateral, 0 at the array centre
    z_mm: float  # depth
    diameter_mm: float
    gain: float = 0.0  # scatterer amplitude factor inside


@dataclass
class Phantom:
    """One phantom layout: round targets and wire positions (mm)."""

    targets: list[Target] = field(default_factory=list)
    wires: list[tuple[float, float]] = field(default_factory=list)


def layout(seed: int) -> Phantom:
    """A general-purpose phantom layout: 3 cysts, 1-2 hyperechoic targets, two wire groups."""
    rng = np.random.default_rng(seed)
    ph = Phantom()
    wire_x = float(rng.choice([-14.0, 14.0]))
    ph.wires = [(wire_x, z) for z in (10.0, 20.0, 30.0, 40.0)]
    row_z = float(rng.uniform(33.0, 44.0))
    ph.wires += [(-0.4 * wire_x + dx, row_z) for dx in (-4.0, 0.0, 4.0)]
    diameters = [float(rng.choice([3.0, 4.0])), float(rng.choice([5.0, 6.0])), float(rng.choice([7.0, 8.0]))]
    kinds = [("cyst", d, 0.0) for d in diameters]
    for _ in range(int(rng.integers(1, 3))):
        kinds.append(("hyperechoic", float(rng.uniform(5.0, 8.0)), float(rng.uniform(3.0, 4.0))))
    for kind, d, gain in kinds:
        for _ in range(500):
            x = float(rng.uniform(-WIDTH_MM / 2 + d / 2 + 2.5, WIDTH_MM / 2 - d / 2 - 2.5))
            z = float(rng.uniform(7.0 + d / 2, DEPTH_MM - 4.0 - d / 2))
            gap = [np.hypot(x - t.x_mm, z - t.z_mm) - (d + t.diameter_mm) / 2 for t in ph.targets]
            clear_t = all(g > 3.0 for g in gap)
            clear_w = all(np.hypot(x - wx, z - wz) > d / 2 + 3.0 for wx, wz in ph.wires)
            if clear_t and clear_w:
                ph.targets.append(Target(kind, x, z, d, gain))
                break
    return ph


def scatterers(ph: Phantom, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scatterer positions (x, z in mm) and amplitudes: Poisson count, Gaussian amplitudes."""
    n = int(rng.poisson(DENSITY * WIDTH_MM * DEPTH_MM))
    x = rng.uniform(-WIDTH_MM / 2, WIDTH_MM / 2, n)
    z = rng.uniform(0.0, DEPTH_MM, n)
    amp = rng.standard_normal(n)
    for t in ph.targets:
        inside = (x - t.x_mm) ** 2 + (z - t.z_mm) ** 2 < (t.diameter_mm / 2) ** 2
        amp[inside] *= t.gain
    wires = np.asarray(ph.wires, np.float64).reshape(-1, 2)
    wire_amp = WIRE_AMP * np.ones(len(wires))
    return np.concatenate([x, wires[:, 0]]), np.concatenate([z, wires[:, 1]]), np.concatenate([amp, wire_amp])


def _fft_filter(lines: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve each row with a centred odd-length kernel; output as long as the input."""
    half = len(kernel) // 2
    n = lines.shape[1] + len(kernel) - 1
    nfft = 1 << int(np.ceil(np.log2(n)))
    spec = np.fft.fft(lines, nfft, axis=1) * np.fft.fft(kernel, nfft)[None, :]
    out = np.fft.ifft(spec, axis=1)[:, half : half + lines.shape[1]]
    return out if np.iscomplexobj(lines) or np.iscomplexobj(kernel) else out.real


def rf_lines(x: np.ndarray, z: np.ndarray, amp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[N_LINES, N_SAMPLES]`` RF of a linear array after attenuation, noise and TGC."""
    pitch = WIDTH_MM / N_LINES
    line_x0 = -WIDTH_MM / 2 + pitch / 2
    sigma = SIGMA0_MM * np.sqrt(1.0 + ((z - FOCUS_MM) / RAYLEIGH_MM) ** 2)  # two-way lateral sigma
    reach = int(np.ceil(3.5 * sigma.max() / pitch))
    nearest = np.rint((x - line_x0) / pitch).astype(np.int64)
    lines = nearest[:, None] + np.arange(-reach, reach + 1)[None, :]
    dx = x[:, None] - (line_x0 + lines * pitch)
    weight = np.exp(-0.5 * (dx / sigma[:, None]) ** 2) * np.sqrt(SIGMA0_MM / sigma)[:, None]
    weight *= (amp * 10 ** (-ATTEN * (F0 / 1e6) * 2 * z / 10 / 20))[:, None]  # z/10: mm -> cm
    keep = (lines >= 0) & (lines < N_LINES) & (weight != 0)
    pos = np.broadcast_to((z / DZ)[:, None], lines.shape)[keep]
    line, w = lines[keep], weight[keep]
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    impulses = np.zeros(N_LINES * (N_SAMPLES + 2))
    impulses += np.bincount(line * (N_SAMPLES + 2) + lo, w * (1 - frac), impulses.size)
    impulses += np.bincount(line * (N_SAMPLES + 2) + lo + 1, w * frac, impulses.size)
    impulses = impulses.reshape(N_LINES, N_SAMPLES + 2)[:, :N_SAMPLES]
    sigma_t = CYCLES / F0 / (2 * np.sqrt(2 * np.log(2)))
    t = np.arange(-int(4 * sigma_t * FS), int(4 * sigma_t * FS) + 1) / FS
    pulse = np.exp(-0.5 * (t / sigma_t) ** 2) * np.cos(2 * np.pi * F0 * t)
    rf = _fft_filter(impulses, pulse)
    shallow = rf[:, : int(8.0 / DZ)].std()
    rf = rf + rng.standard_normal(rf.shape) * shallow * 10 ** (NOISE_DB / 20)
    depth_cm = np.arange(N_SAMPLES) * DZ / 10
    return rf * 10 ** (TGC * (F0 / 1e6) * 2 * depth_cm / 20)[None, :]


def envelope(rf: np.ndarray) -> np.ndarray:
    """Quadrature demodulation at f0, windowed-sinc low-pass at 3 MHz, magnitude."""
    t = np.arange(rf.shape[1]) / FS
    mixed = rf * np.exp(-2j * np.pi * F0 * t)[None, :]
    taps = np.arange(-40, 41)
    cutoff = 3e6 / FS
    lowpass = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
    return 2 * np.abs(_fft_filter(mixed, lowpass / lowpass.sum()))


def bmode(env: np.ndarray) -> np.ndarray:
    """Log compression and scan conversion to ``[ROWS, COLS]`` uint8 (depth down the rows)."""
    db = 20 * np.log10(env / np.median(env) + 1e-12) + MEDIAN_DB
    gray = np.clip(db / DYNAMIC_DB, 0.0, 1.0).astype(np.float32).T  # [samples, lines]
    gray = cv2.resize(gray, (N_LINES, ROWS), interpolation=cv2.INTER_AREA)
    gray = cv2.resize(gray, (COLS, ROWS), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(gray * 255), 0, 255).astype(np.uint8)


def truth_masks(ph: Phantom) -> list[np.ndarray]:
    """Exact pixel masks (pixel centre inside the circle), one per round target."""
    xs = -WIDTH_MM / 2 + (np.arange(COLS) + 0.5) * SPACING
    zs = (np.arange(ROWS) + 0.5) * SPACING
    gx, gz = np.meshgrid(xs, zs)
    return [(gx - t.x_mm) ** 2 + (gz - t.z_mm) ** 2 < (t.diameter_mm / 2) ** 2 for t in ph.targets]


def render(seed: int) -> tuple[np.ndarray, Phantom, list[np.ndarray]]:
    """One phantom image with its layout and truth masks."""
    ph = layout(seed)
    rng = np.random.default_rng(10_000 + seed)
    x, z, amp = scatterers(ph, rng)
    return bmode(envelope(rf_lines(x, z, amp, rng))), ph, truth_masks(ph)


def _iou(a: np.ndarray, b: tuple[float, float, float, float]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0 + 1) * max(0.0, y1 - y0 + 1)
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return float(inter / area) if area > 0 else 0.0


def score_image(ph: Phantom, masks: list[np.ndarray], seg: Any, det: Any, cls: Any) -> dict[str, Any]:
    """Per-object and per-image figures for one phantom image."""
    from training.recipes.evaluate import dice

    labels = ("background", *seg.labels)
    lesion = seg.mask == seg.labels.index("lesion") + 1
    n_comp, comp = cv2.connectedComponents(lesion.astype(np.uint8), connectivity=8)
    objects = []
    for t, m in zip(ph.targets, masks):
        touching = np.unique(comp[m & lesion])
        pred = np.isin(comp, touching[touching > 0])
        ys, xs = np.nonzero(m)
        cy, cx = round(t.z_mm / SPACING - 0.5), round((t.x_mm + WIDTH_MM / 2) / SPACING - 0.5)
        d = dice(pred, m)
        counts = np.bincount(seg.mask[m].ravel(), minlength=len(labels))
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        ious = [_iou(b, box) for b in det.boxes]
        best = int(np.argmax(ious)) if ious and max(ious) > 0 else None
        objects.append(
            {
                "kind": t.kind,
                "x_mm": round(t.x_mm, 1),
                "z_mm": round(t.z_mm, 1),
                "diameter_mm": round(t.diameter_mm, 1),
                "dice": round(d, 3),
                "hit": bool(d >= 0.5 or lesion[cy, cx]),
                "lesion_fraction": round(float(lesion[m].mean()), 3),
                "majority_label": labels[int(np.argmax(counts))],
                "box": None
                if best is None
                else {
                    "label": det.labels[int(det.label_ids[best])],
                    "score": round(float(det.scores[best]), 3),
                    "iou": round(ious[best], 3),
                },
            }
        )
    near = np.zeros_like(lesion)
    if masks:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(1.0 / SPACING) + 1,) * 2)
        near = cv2.dilate(np.any(masks, axis=0).astype(np.uint8), kernel) > 0
    outside = ~near
    fractions = np.bincount(seg.mask.ravel(), minlength=len(labels)) / seg.mask.size
    return {
        "objects": objects,
        "false_positive_area_fraction": round(float(lesion[outside].mean()), 4),
        "false_positive_area_mm2": round(float(lesion[outside].sum()) * SPACING**2, 1),
        "lesion_components": n_comp - 1,
        "label_fractions": {name: round(float(f), 4) for name, f in zip(labels, fractions) if f > 0},
        "classification": {name: round(float(p), 3) for name, p in zip(cls.labels, cls.probs)},
        "boxes": [
            {"label": det.labels[int(k)], "score": round(float(s), 3)}
            for k, s in zip(det.label_ids, det.scores)
        ],
    }


def overlay(image: np.ndarray, ph: Phantom, masks: list[np.ndarray], seg: Any, det: Any) -> np.ndarray:
    """The phantom image at 2x with truth outlines, predicted label outlines and boxes."""
    scale = 2
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    out = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)

    def outline(mask: np.ndarray, color: tuple[int, int, int]) -> None:
        up = cv2.resize(mask.astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, color, 1)

    for t, m in zip(ph.targets, masks):
        outline(m, (0, 200, 0) if t.kind == "cyst" else (255, 255, 0))
    lesion_id = seg.labels.index("lesion") + 1
    for value in range(1, len(seg.labels) + 1):
        if value != lesion_id and (seg.mask == value).any():
            outline(seg.mask == value, (0, 230, 230))
    outline(seg.mask == lesion_id, (0, 0, 255))
    for b, k, s in zip(det.boxes, det.label_ids, det.scores):
        p0 = (int(b[0] * scale), int(b[1] * scale))
        cv2.rectangle(out, p0, (int(b[2] * scale), int(b[3] * scale)), (255, 0, 255), 1)
        text = f"{det.labels[int(k)]} {s:.2f}"
        cv2.putText(out, text, (p0[0], max(10, p0[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 0, 255), 1)
    return out


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else 1.0


def otsu_in_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The baseline a prompt must beat: blur, then Otsu's threshold inside the box, keeping the
    side of the threshold the box centre is on, then the connected part holding the centre."""
    x0, y0, x1, y1 = box
    roi = cv2.GaussianBlur(image, (0, 0), 2.0)[y0 : y1 + 1, x0 : x1 + 1]
    _, above = cv2.threshold(roi, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    cy, cx = roi.shape[0] // 2, roi.shape[1] // 2
    side = (above == above[cy, cx]).astype(np.uint8)
    _, comp = cv2.connectedComponents(side)
    out = np.zeros(image.shape, bool)
    out[y0 : y1 + 1, x0 : x1 + 1] = comp == comp[cy, cx]
    return out


def prompt_scores(loaded: Any, frames: list[np.ndarray], layouts: list[Phantom], all_masks: list) -> dict:
    """The prompt head on every round target: one click at its centre and its tight box, Dice per
    target kind, beside blur + Otsu inside the same box."""
    from engine.heads.kinds.prompt import Prompt
    from engine.inference import Predictor
    from engine.io.calibration import Calibration
    from engine.io.memory import ArrayCine
    from engine.tasks.prompting import PromptSession

    predictor = Predictor(loaded, backend="torch", device="cpu")
    calibration = Calibration(pixel_spacing=(SPACING, SPACING), source="pixel_spacing")
    cine = ArrayCine(np.stack(frames), calibration=calibration, path="<phantom>")
    session = PromptSession(cine, predictor)
    rows = []
    for i, (ph, masks) in enumerate(zip(layouts, all_masks)):
        for target, mask in zip(ph.targets, masks):
            ys, xs = np.nonzero(mask)
            box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
            cx, cy = float(xs.mean()), float(ys.mean())
            click = session.segment(i, Prompt(((cx, cy, True),))).result.mask
            boxed = session.segment(i, Prompt(box=tuple(float(v) for v in box))).result.mask
            rows.append(
                {
                    "kind": target.kind,
                    "click": _dice(click, mask),
                    "box": _dice(boxed, mask),
                    "otsu_box": _dice(otsu_in_box(frames[i], box), mask),
                }
            )
    out: dict[str, Any] = {
        "path": f"{loaded.ref.label()} prompt head, one click at the centre / the tight box"
    }
    for kind in ("cyst", "hyperechoic"):
        sel = [r for r in rows if r["kind"] == kind]
        out[kind] = {k: _mean([r[k] for r in sel]) for k in ("click", "box", "otsu_box")} | {"n": len(sel)}
    return out


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEMO, help="model name, name@version or a model folder")
    parser.add_argument("--images", type=int, default=6, help="phantom images to render")
    parser.add_argument("--seed", type=int, default=0, help="first layout seed")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for phantom and overlay PNGs")
    args = parser.parse_args()

    from engine.factory import load_model
    from engine.inference import Predictor
    from engine.io.calibration import Calibration
    from engine.io.memory import ArrayCine
    from engine.tasks.runner import run_tasks

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames, layouts, all_masks = [], [], []
    for i in range(args.images):
        t1 = time.perf_counter()
        image, ph, masks = render(args.seed + i)
        frames.append(image)
        layouts.append(ph)
        all_masks.append(masks)
        cv2.imwrite(str(args.out / f"phantom_{i:02d}.png"), image)
        print(f"phantom {i}: {len(ph.targets)} targets, {time.perf_counter() - t1:.2f} s", file=sys.stderr)
    render_s = time.perf_counter() - t0

    loaded = load_model(args.model, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", batch_size=4)
    calibration = Calibration(pixel_spacing=(SPACING, SPACING), source="pixel_spacing")
    cine = ArrayCine(np.stack(frames), calibration=calibration, path="<phantom>")
    tasks = ("segmentation", "classification", "detection")
    t1 = time.perf_counter()
    run = run_tasks(cine, predictor, loaded.cfg, loaded.ref, tasks, batch_size=4)
    infer_s = time.perf_counter() - t1

    per_image = []
    for i, (image, ph, masks) in enumerate(zip(frames, layouts, all_masks)):
        seg = run.tasks["segmentation"].frames[i]
        det = run.tasks["detection"].frames[i]
        cls = run.tasks["classification"].frames[i]
        scores = score_image(ph, masks, seg, det, cls)
        per_image.append(scores)
        cv2.imwrite(str(args.out / f"overlay_{i:02d}.png"), overlay(image, ph, masks, seg, det))
        found = sum(o["hit"] for o in scores["objects"] if o["kind"] == "cyst")
        print(
            f"image {i}: cysts found {found}/3, lesion FP {scores['false_positive_area_fraction']:.3f}, "
            f"labels {scores['label_fractions']}, class {scores['classification']}, boxes {scores['boxes']}",
            file=sys.stderr,
        )
        for o in scores["objects"]:
            print(f"  {o}", file=sys.stderr)

    objs = [o for s in per_image for o in s["objects"]]
    cysts = [o for o in objs if o["kind"] == "cyst"]
    hyper = [o for o in objs if o["kind"] == "hyperechoic"]
    majority: dict[str, int] = {}
    for o in cysts:
        majority[o["majority_label"]] = majority.get(o["majority_label"], 0) + 1
    box_labels: dict[str, int] = {}
    for o in cysts:
        if o["box"] is not None and o["box"]["iou"] >= 0.3:
            box_labels[o["box"]["label"]] = box_labels.get(o["box"]["label"], 0) + 1
    cls_names = list(per_image[0]["classification"]) if per_image else []
    fp = [s["false_positive_area_fraction"] for s in per_image]
    result = {
        "phantom_images": len(per_image),
        "cysts": len(cysts),
        "cysts_found": sum(o["hit"] for o in cysts),
        "cyst_hit_rate": _mean([float(o["hit"]) for o in cysts]),
        "mean_cyst_dice": _mean([o["dice"] for o in cysts]),
        "cyst_hits_by_diameter": {
            f"{d:g}": f"{sum(o['hit'] for o in cysts if o['diameter_mm'] == d)}/"
            f"{sum(o['diameter_mm'] == d for o in cysts)}"
            for d in sorted({o["diameter_mm"] for o in cysts})
        },
        "cyst_majority_label": majority,
        "cysts_with_box_iou30": box_labels,
        "hyperechoic": len(hyper),
        "hyperechoic_found": sum(o["hit"] for o in hyper),
        "mean_hyperechoic_dice": _mean([o["dice"] for o in hyper]),
        "false_positive_area_fraction": _mean(fp),
        "mean_classification": {n: _mean([s["classification"][n] for s in per_image]) for n in cls_names},
        "boxes_per_image": _mean([float(len(s["boxes"])) for s in per_image]),
        "pixel_spacing_mm": round(SPACING, 4),
        "image_size": [ROWS, COLS],
        "render_s_per_image": round(render_s / max(1, len(per_image)), 2),
        "infer_s": round(infer_s, 2),
        "prompt_dice": prompt_scores(loaded, frames, layouts, all_masks)
        if "prompt" in loaded.cfg.heads_by_name
        else None,
        "model": loaded.ref.name,
        "model_version": loaded.ref.version,
        "model_sha256": loaded.ref.sha256,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
