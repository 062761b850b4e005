"""Lesion segmentation beyond our simulator, beside blur + Otsu thresholding.

    python bench/independent.py [--model echocare-demo] [--per-kind 8] [--seed 0] [--out DIR]
    python bench/independent.py --images bench/out/pymust   # a set from bench/pymust_set.py

A held-out set that ``training/sim`` did not make and that no recipe reads: B-mode images formed
from RF physics by ``bench/phantom.py`` (point scatterers, a Gaussian-modulated pulse, a focused
linear array with a depth-dependent beam, attenuation and TGC, quadrature demodulation, log
compression; no sector, no burned-in text, 256 x 205 pixels of 0.1955 mm). Nothing here calls the
simulator, and the set is rendered afresh from its seeds, so it never sits beside training data.

Lesion kinds (``--per-kind`` images each; "amplitude" is the scatterer amplitude factor inside
the lesion, so the lesion's mean echo is that fraction of the tissue's):

* ``plain``: one hypoechoic lesion, 6-12 mm, amplitude 0.15-0.35.
* ``small``: one hypoechoic lesion of a few millimetres, 2.5-4 mm, amplitude 0.15-0.3.
* ``contrast_0.4``: one lesion of contrast 0.4 (amplitude 0.6), 6-10 mm.
* ``hyperechoic``: one lesion of amplitude 2-3, 6-10 mm.
* ``two``: two hypoechoic lesions, 5-9 mm, amplitude 0.15-0.35.

* ``zoomed`` (RF phantom only): a plain lesion in a zoomed field, the image cropped to 40 % of
  its height and width around the lesion, so that the lesion fills much of it (as in a
  scanner's zoom box; a model that takes any large dark round region for a ventricle or a
  vessel fails here).

``hard`` pools the four after ``plain``. ``--images DIR`` scores a set rendered elsewhere instead, with the
same kinds: ``DIR/set.json`` (``{"spacing_mm", "images": {name: {"kind"}}}``) beside
``name.png`` and its mask ``name.mask.png``; ``bench/pymust_set.py`` writes one with PyMUST.

Each image goes through the engine as ``echocare infer`` sends it (``run_tasks``,
segmentation, default thresholds); the model's ``lesion`` pixels are scored against the union of
the lesion masks (Dice per image, then the mean per kind). The baseline is a Gaussian blur (sigma
1 mm) then Otsu's threshold over the whole image, keeping the dark side for hypoechoic kinds and
the bright side for the hyperechoic one: it is told the polarity, which the model is not.
``margin`` is the model's mean Dice minus the baseline's. The last stdout line is one JSON
object; images and overlays (truth green, model red, baseline blue) go to ``--out``.

``--exam LEAF`` runs the image as ``echocare infer --tasks auto --exam LEAF`` does: the exam a
person set (for a lesion phantom, ``breast/breast/lesion``), so that each pixel chooses only
among the labels that apply to it (``HeadSpec.condition``). ``--exam auto`` lets the model's
exam head decide, as ``--tasks auto`` without ``--exam``: where it calls the image ``unknown``
no lesion is reported (that image's Dice is 0), and ``exam_unknown`` counts those images.

``--prompt`` scores the prompt head instead (``echocare segment``'s path, ``PromptSession``):
for each lesion of each image, one positive click at its centre (the pixel farthest from its
outline) and, separately, its tight box; Dice of the answer against that lesion alone, then
the mean per kind (``click_dice``, ``box_dice``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import phantom as rf

OUT = Path(__file__).resolve().parent / "out" / "independent"
# kind -> (lesion count, diameter range mm, amplitude range)
KINDS: dict[str, tuple[int, tuple[float, float], tuple[float, float]]] = {
    "plain": (1, (6.0, 12.0), (0.15, 0.35)),
    "small": (1, (2.5, 4.0), (0.15, 0.3)),
    "contrast_0.4": (1, (6.0, 10.0), (0.6, 0.6)),
    "hyperechoic": (1, (6.0, 10.0), (2.0, 3.0)),
    "two": (2, (5.0, 9.0), (0.15, 0.35)),
}
HARD = ("small", "contrast_0.4", "hyperechoic", "two")
# a plain lesion in a zoomed field: the RF image cropped to ZOOM of its height and width around
# the lesion (a scanner's zoom box shows the same: the lesion fills much more of the image)
ZOOMED, ZOOM = "zoomed", 0.4
ALL_KINDS = (*KINDS, ZOOMED)


def lesion_layout(kind: str, seed: int) -> rf.Phantom:
    """A phantom with the lesions of ``kind`` at random clear positions (no wires)."""
    count, (d0, d1), (a0, a1) = KINDS[kind]
    rng = np.random.default_rng([seed, 0x1E5])
    ph = rf.Phantom()
    for _ in range(count):
        d, gain = float(rng.uniform(d0, d1)), float(rng.uniform(a0, a1))
        for _ in range(500):
            x = float(rng.uniform(-rf.WIDTH_MM / 2 + d / 2 + 2.0, rf.WIDTH_MM / 2 - d / 2 - 2.0))
            z = float(rng.uniform(6.0 + d / 2, rf.DEPTH_MM - 5.0 - d / 2))
            if all(np.hypot(x - t.x_mm, z - t.z_mm) > (d + t.diameter_mm) / 2 + 3.0 for t in ph.targets):
                ph.targets.append(rf.Target("lesion", x, z, d, gain))
                break
    return ph


def render(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One image of ``kind`` (``KINDS`` or ``ZOOMED``) and its lesion mask (union of the lesions)."""
    if kind == ZOOMED:
        image, mask = render("plain", seed + 100)  # other lesions than the plain kind's
        return zoomed(image, mask)
    ph = lesion_layout(kind, seed)
    rng = np.random.default_rng([seed, 0xB0DE])
    x, z, amp = rf.scatterers(ph, rng)
    image = rf.bmode(rf.envelope(rf.rf_lines(x, z, amp, rng)))
    return image, np.any(rf.truth_masks(ph), axis=0)


def zoomed(image: np.ndarray, mask: np.ndarray, share: float = ZOOM) -> tuple[np.ndarray, np.ndarray]:
    """``image`` and ``mask`` cropped to ``share`` of each side, centred on the mask (kept inside)."""
    ys, xs = np.nonzero(mask)
    h, w = round(image.shape[0] * share), round(image.shape[1] * share)
    y0 = min(max(0, round(ys.mean()) - h // 2), image.shape[0] - h)
    x0 = min(max(0, round(xs.mean()) - w // 2), image.shape[1] - w)
    return np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w]), mask[y0 : y0 + h, x0 : x0 + w]


def load_set(folder: Path) -> tuple[list[tuple[str, str, np.ndarray, np.ndarray]], float]:
    """``(kind, name, image, mask)`` of every image of a rendered set, and its pixel spacing (mm)."""
    record = json.loads((folder / "set.json").read_text())
    items = []
    for name, info in sorted(record["images"].items()):
        image = cv2.imread(str(folder / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(folder / f"{name}.mask.png"), cv2.IMREAD_GRAYSCALE)
        if image is None or mask is None:
            raise SystemExit(f"{folder / name}.png: image or mask missing or unreadable")
        items.append((info["kind"], name, image, mask > 127))
    return items, float(record["spacing_mm"])


def otsu_baseline(image: np.ndarray, dark: bool, spacing: float = rf.SPACING) -> np.ndarray:
    """Gaussian blur (sigma 1 mm), Otsu's threshold over the image, the side the lesion is on."""
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0 / spacing)
    _, above = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return above == 0 if dark else above == 1


def _overlay(image: np.ndarray, truth: np.ndarray, model: np.ndarray, otsu: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(
        cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR
    )
    for mask, colour in ((otsu, (255, 128, 0)), (model, (0, 0, 255)), (truth, (0, 200, 0))):
        up = cv2.resize(mask.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, 1)
    return out


def _stat(sel: list[dict[str, Any]], key: str, fn: Any = np.mean) -> float:
    return round(float(fn([r[key] for r in sel])), 4)


def summary(rows: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any]:
    sel = [r for r in rows if r["kind"] in kinds]
    return {
        "n": len(sel),
        "model_dice": _stat(sel, "model"),
        "otsu_dice": _stat(sel, "otsu"),
        "margin": round(float(np.mean([r["model"] - r["otsu"] for r in sel])), 4),
        "model_dice_min": _stat(sel, "model", min),
    }


def prompted(
    items: list[tuple[str, str, np.ndarray, np.ndarray]], predictor: Any, calibration: Any
) -> list[dict]:
    """Per lesion: Dice of the prompt head's answer to one click at its centre, and to its box."""
    from engine.heads.kinds.prompt import Prompt, centre, tight_box
    from engine.io.memory import ArrayCine
    from engine.tasks.prompting import PromptSession
    from engine.tasks.propagate import dice

    rows = []
    for kind, name, image, truth in items:
        session = PromptSession(ArrayCine(image[None], calibration=calibration, path=f"<{name}>"), predictor)
        count, components = cv2.connectedComponents(truth.astype(np.uint8))
        for k in range(1, count):
            lesion = components == k
            x, y = centre(lesion)
            click = session.segment(0, Prompt().with_point(x, y)).result
            box = session.segment(0, Prompt(box=tight_box(lesion))).result
            rows.append(
                {
                    "kind": kind,
                    "image": name,
                    "lesion": k,
                    "click": dice(click.mask, lesion),
                    "box": dice(box.mask, lesion),
                    "click_unsure": click.unsure(),
                    "box_unsure": box.unsure(),
                }
            )
        predictor.cache.clear()
    return rows


def prompt_summary(rows: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any]:
    sel = [r for r in rows if r["kind"] in kinds]
    return {
        "n": len(sel),
        "click_dice": _stat(sel, "click"),
        "box_dice": _stat(sel, "box"),
        "click_dice_min": _stat(sel, "click", min),
        **unsure_split(sel, "click"),
        **unsure_split(sel, "box"),
    }


def unsure_split(rows: list[dict[str, Any]], prompt: str) -> dict[str, Any]:
    """How many answers to ``prompt`` the head called unsure (``PromptResult.unsure``), and the
    mean Dice of the unsure and of the other answers."""
    unsure = [r for r in rows if r[f"{prompt}_unsure"]]
    sure = [r for r in rows if not r[f"{prompt}_unsure"]]
    return {
        f"{prompt}_unsure": len(unsure),
        f"{prompt}_dice_unsure": _stat(unsure, prompt) if unsure else None,
        f"{prompt}_dice_sure": _stat(sure, prompt) if sure else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="echocare-demo", help="model name, name@version or a model folder")
    parser.add_argument("--per-kind", type=int, default=8, help="images per lesion kind")
    parser.add_argument("--seed", type=int, default=0, help="first image seed")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for images and overlays")
    parser.add_argument("--images", type=Path, default=None, help="score a rendered set (set.json) instead")
    parser.add_argument("--prompt", action="store_true", help="score the prompt head: a click, a box")
    parser.add_argument(
        "--exam",
        default=None,
        help="run as `infer --tasks auto`: the exam a person set (region/organ/view), or auto",
    )
    args = parser.parse_args()

    from engine.factory import load_model
    from engine.heads.kinds.exam import ExamResult
    from engine.inference import Predictor
    from engine.io.calibration import Calibration
    from engine.io.memory import ArrayCine
    from engine.tasks.propagate import dice
    from engine.tasks.runner import run_tasks

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items, spacing, source = [], rf.SPACING, "bench/phantom.py RF formation"
    if args.images is not None:
        items, spacing = load_set(args.images)
        source = json.loads((args.images / "set.json").read_text()).get("simulator", str(args.images))
    else:
        for kind in ALL_KINDS:
            for i in range(args.per_kind):
                image, truth = render(kind, args.seed + i)
                items.append((kind, f"{kind}_{i:02d}", image, truth))
                cv2.imwrite(str(args.out / f"{kind}_{i:02d}.png"), image)
    render_s = time.perf_counter() - t0
    print(f"{len(items)} images in {render_s:.0f} s", file=sys.stderr)

    loaded = load_model(args.model, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", batch_size=4)
    calibration = Calibration(pixel_spacing=(spacing, spacing), source="pixel_spacing")
    if args.prompt:
        rows = prompted(items, predictor, calibration)
        kinds = tuple(k for k in ALL_KINDS if any(r["kind"] == k for r in rows))
        result = {
            "bench": "independent_prompt",
            "model": loaded.ref.name,
            "model_version": loaded.ref.version,
            "set": source,
            "lesions": len(rows),
            "per_kind": {k: prompt_summary(rows, (k,)) for k in kinds},
            "hard": prompt_summary(rows, HARD),
            "rows": rows,
        }
        print(json.dumps(result))
        return 0
    exam, tasks = None, ("segmentation",)
    if args.exam is not None:
        exam_head = loaded.cfg.heads_by_name.get("exam")
        if exam_head is None:
            print(f"{args.model}: the model has no exam head, so --exam cannot route it", file=sys.stderr)
            return 2
        tasks = "auto"
        if args.exam != "auto":
            try:
                exam = ExamResult.chosen_by_user(exam_head.labels, args.exam, loaded.ref)
            except ValueError as err:
                print(f"--exam: {err}", file=sys.stderr)
                return 2
    rows = []
    for kind, name, image, truth in items:  # one cine per image: sets may mix image sizes
        cine = ArrayCine(image[None], calibration=calibration, path=f"<independent {name}>")
        run = run_tasks(cine, predictor, loaded.cfg, loaded.ref, tasks, batch_size=1, exam=exam)
        segs = run.tasks.get("segmentation")
        seg = segs.frames[0] if segs is not None and segs.frames else None
        lesion = (
            seg.mask == seg.labels.index("lesion") + 1
            if seg is not None and "lesion" in seg.labels
            else np.zeros(truth.shape, bool)
        )
        otsu = otsu_baseline(image, dark=kind != "hyperechoic", spacing=spacing)
        row = {"kind": kind, "image": name, "model": dice(lesion, truth), "otsu": dice(otsu, truth)}
        if run.exam is not None:
            row["exam"] = run.exam.label()
        rows.append(row)
        cv2.imwrite(str(args.out / f"overlay_{name}.png"), _overlay(image, truth, lesion, otsu))
    result = {
        "bench": "independent",
        "model": loaded.ref.name,
        "model_version": loaded.ref.version,
        "model_sha256": loaded.ref.sha256,
        "set": source,
        "images": len(rows),
        "per_kind": {
            kind: summary(rows, (kind,)) for kind in ALL_KINDS if any(r["kind"] == kind for r in rows)
        },
        "hard": summary(rows, HARD),
        "pixel_spacing_mm": round(spacing, 4),
        "exam": args.exam,
        "exam_unknown": sum(r.get("exam") == "unknown" for r in rows) if args.exam is not None else None,
        "rows": rows,
        "render_s": round(render_s, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
