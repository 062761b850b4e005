"""Held-out evaluation of a stored model on freshly simulated scenes, through the engine's tasks.

Every figure is computed from what ``echocare infer`` would output (engine preprocessing,
heads, task post-processing in original-frame pixels) against the simulator's exact truth.
Test scenes use simulator seeds ``test_seed * SEED_STRIDE + i``, never seen in training.

Figures (keys of :func:`evaluate`): ``lesion.dice``, ``vessel.dice``, ``classification.auc``,
``classification.accuracy``, ``detection.map50``, ``landmarks.fetal_mre_px`` (at the render
size, 256x256 by default), ``landmarks.cardiac_mre_px``, ``regression.hc_mae_mm``,
``ef.mae`` and ``ef.max_error`` (over the test cines that hold a full cardiac cycle, the
EF rule's condition; ``ef.cines_with_cycle`` counts them), ``lv.dice`` (all tasks, unrouted;
a model with an exam head also gets ``ef.mae_auto``, ``lv.dice_auto`` ... under ``--tasks auto``,
routed by its own exam decision, as ``echocare infer`` runs by default),
``enhancement.psnr_input_db`` / ``psnr_output_db`` / ``psnr_gain_db`` (inside the fan),
``report.token_f1`` and ``report.numbers_consistent`` (share of reports whose every number
equals a structured output).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import ModelCfg
from engine.tasks.propagate import dice
from training.recipes.config import EvalRecipe
from training.recipes.data import SEED_STRIDE
from training.recipes.labels import DETECTION, LANDMARKS, REGRESSION, canonical_pairs

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def average_precision(hits: Sequence[tuple[float, bool]], n_truth: int) -> float:
    """All-point interpolated AP of score-ranked (score, is-true-positive) hits."""
    if n_truth == 0:
        return math.nan
    if not hits:
        return 0.0
    ranked = sorted(hits, key=lambda h: -h[0])
    tp = np.cumsum([h[1] for h in ranked])
    precision = tp / np.arange(1, len(ranked) + 1)
    recall = np.concatenate([[0.0], tp / n_truth])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope))


def match_boxes(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, truth: np.ndarray, truth_labels: np.ndarray
) -> dict[int, list[tuple[float, bool]]]:
    """Greedy IoU >= 0.5 matching per class, best score first; returns hits per class."""
    from engine.tasks.nms import box_iou

    out: dict[int, list[tuple[float, bool]]] = {}
    for c in set(labels.tolist()):
        pc, tc = np.flatnonzero(labels == c), np.flatnonzero(truth_labels == c)
        used = np.zeros(len(tc), bool)
        iou = box_iou(boxes[pc], truth[tc]) if len(tc) else np.zeros((len(pc), 0))
        for i in np.argsort(-scores[pc], kind="stable"):
            j = int(np.argmax(iou[i])) if len(tc) else -1
            ok = j >= 0 and iou[i, j] >= 0.5 and not used[j]
            if ok:
                used[j] = True
            out.setdefault(c, []).append((float(scores[pc][i]), ok))
    return out


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """PSNR (dB) of two uint8 images over the pixels ``where``."""
    d = a[where].astype(np.float64) - b[where].astype(np.float64)
    return float(10 * math.log10(255.0**2 / max(1e-10, float(np.mean(d * d)))))


def _formatted(value: float) -> set[str]:
    return {f"{value:.0f}", f"{value:.1f}", f"{value:.2f}"} if math.isfinite(value) else set()


def structured_numbers(tasks: Mapping[str, Any]) -> set[str]:
    """Every structured value of a run's results, formatted as a report may print it."""
    from engine.types import ClassScores, EjectionFraction, Quantity

    found: set[str] = set()
    for result in tasks.values():
        for item in result.summary:
            if isinstance(item, Quantity):
                found |= _formatted(item.value)
            elif isinstance(item, ClassScores):
                for p in item.probs:
                    found |= _formatted(float(p))
            elif isinstance(item, EjectionFraction):
                found |= _formatted(item.ef_percent)
                found |= {str(i) for i in (*item.ed_frames, *item.es_frames)}
    return found


def report_consistent(tasks: Mapping[str, Any]) -> bool:
    """True when every number in the report's findings equals a structured output."""
    reports = [r for r in tasks["report"].summary]
    allowed = structured_numbers(tasks)
    return all(set(_NUMBER.findall(value)) <= allowed for report in reports for _, value in report.findings)


class _Runner:
    """The engine's inference path over single frames: preprocess -> heads -> task post-processing."""

    def __init__(self, folder: Path, batch: int = 16) -> None:
        from engine.factory import load_model
        from engine.inference import Predictor
        from engine.tasks import TASKS
        from engine.tasks.detect import DetectTask

        self.loaded = load_model(folder, device="cpu")
        self.cfg: ModelCfg = self.loaded.cfg
        self.predictor = Predictor(
            self.loaded, backend="torch", device="cpu", precision="fp32", batch_size=batch
        )
        names = [h for h in self.cfg.heads_by_name if h in TASKS]
        self.tasks = {n: TASKS.get(n)(self.cfg, self.loaded.ref) for n in names}
        self.tasks["detection"] = DetectTask(self.cfg, self.loaded.ref, score_threshold=0.05)
        self.batch = batch

    def frames(self, results: Sequence[Any], heads: Sequence[str]) -> list[dict[str, Any]]:
        """Per simulation (first frame), the post-processed result of each head."""
        from engine.tasks.base import FrameContext, postprocess_frame
        from engine.transforms.preprocess import preprocess

        out: list[dict[str, Any]] = []
        for start in range(0, len(results), self.batch):
            chunk = results[start : start + self.batch]
            preps = [preprocess(r.frames[0], self.cfg) for r in chunk]
            keys = [("eval", r.truth.scene, r.truth.seed) for r in chunk]
            outputs = self.predictor.run_heads(keys, np.stack([p.image for p in preps]), heads)
            for b, (r, p) in enumerate(zip(chunk, preps)):
                ctx = FrameContext(0, r.frames[0], p.geometry, r.calibration())
                one = {h: {k: v[b] for k, v in outputs[h].items()} for h in heads}
                out.append(postprocess_frame([self.tasks[h] for h in heads], one, ctx))
        self.predictor.cache.clear()
        return out


def _simulate(scene: str, n: int, seed: int, size: tuple[int, int], frames: int | None = None) -> list[Any]:
    from training.sim import SimConfig, simulate

    cfg = SimConfig(height=size[0], width=size[1], frames=frames)
    return [simulate(scene, seed=seed * SEED_STRIDE + i, cfg=cfg) for i in range(n)]


def _seg_dice(run: _Runner, results: Sequence[Any], outs: Sequence[dict[str, Any]], name: str) -> float:
    label = run.cfg.heads_by_name["segmentation"].labels.index(name) + 1
    values = []
    for r, o in zip(results, outs):
        truth_id = next(k for k, v in r.truth.labels.items() if v == name)
        values.append(dice(o["segmentation"].mask == label, r.truth.masks[0] == truth_id))
    return float(np.mean(values))


def _lesion(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    from engine.tasks.report import words
    from training.metrics import binary_auc, report_scores

    results = _simulate("lesion", ev.per_scene, seed, ev.size)
    outs = run.frames(results, ("segmentation", "classification", "report"))
    labels = run.cfg.heads_by_name["classification"].labels
    malignant = np.array([o["classification"].probs[labels.index("malignant")] for o in outs])
    truth = np.array([r.truth.class_names[r.truth.class_index] == "malignant" for r in results])
    f1 = [report_scores(o["report"], " ".join(words(r.truth.report)))[0] for r, o in zip(results, outs)]
    return {
        "lesion.dice": _seg_dice(run, results, outs, "lesion"),
        "classification.auc": binary_auc(malignant, truth),
        "classification.accuracy": float(np.mean((malignant >= 0.5) == truth)),
        "report.token_f1": float(np.mean(f1)),
    }


def _organs(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    results = _simulate("organs", ev.per_scene, seed, ev.size)
    outs = run.frames(results, ("detection",))
    hits: dict[int, list[tuple[float, bool]]] = {}
    n_truth = np.zeros(len(DETECTION), int)
    for r, o in zip(results, outs):
        d = o["detection"]
        names = [r.truth.box_classes[i] for i in r.truth.box_labels[0]]
        truth_labels = np.array([DETECTION.index(n) for n in names], np.int64)
        n_truth += np.bincount(truth_labels, minlength=len(DETECTION))
        truth = np.asarray(r.truth.boxes[0], np.float64).reshape(-1, 4)
        for c, h in match_boxes(d.boxes, d.scores, d.label_ids, truth, truth_labels).items():
            hits.setdefault(c, []).extend(h)
    aps = [average_precision(hits.get(c, []), int(n_truth[c])) for c in range(len(DETECTION))]
    out = {f"detection.ap50_{name}": ap for name, ap in zip(DETECTION, aps) if not math.isnan(ap)}
    out["detection.map50"] = float(np.nanmean(aps))
    return out


def _landmark_error(names: Sequence[str], points: np.ndarray, truth: Any, frame: int = 0) -> list[float]:
    """Radial errors (pixels) of each true landmark; diameter ends compared in canonical order."""
    own = canonical_pairs(tuple(truth.landmark_names), np.asarray(truth.landmarks[frame], np.float64))
    return [
        float(np.hypot(*(points[LANDMARKS.index(n)] - own[k]))) for k, n in enumerate(truth.landmark_names)
    ]


def _fetal(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    results = _simulate("fetal_head", ev.per_scene, seed, ev.size)
    outs = run.frames(results, ("segmentation", "landmarks", "regression"))
    errors = [
        e for r, o in zip(results, outs) for e in _landmark_error(LANDMARKS, o["landmarks"].points, r.truth)
    ]
    hc = [
        abs(o["regression"].values[REGRESSION.index("hc_mm")].value - r.truth.values["hc_mm"].value)
        for r, o in zip(results, outs)
    ]
    return {
        "landmarks.fetal_mre_px": float(np.mean(errors)),
        "landmarks.fetal_max_px": float(np.max(errors)),
        "head.dice": _seg_dice(run, results, outs, "head"),
        "regression.hc_mae_mm": float(np.mean(hc)),
    }


def _vessels(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    results = _simulate("vessels", ev.per_scene, seed, ev.size)
    return {"vessel.dice": _seg_dice(run, results, run.frames(results, ("segmentation",)), "vessel")}


def _enhance(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    results = _simulate("enhance", ev.per_scene, seed, ev.size)
    outs = run.frames(results, ("enhancement",))
    before, after = [], []
    for r, o in zip(results, outs):
        fan, clean = r.truth.fan_mask, r.truth.clean[0]
        before.append(psnr(r.frames[0], clean, fan))
        after.append(psnr(o["enhancement"].image, clean, fan))
    return {
        "enhancement.psnr_input_db": float(np.mean(before)),
        "enhancement.psnr_output_db": float(np.mean(after)),
        "enhancement.psnr_gain_db": float(np.mean(after) - np.mean(before)),
    }


def _cardiac(run: _Runner, ev: EvalRecipe, seed: int) -> dict[str, float]:
    from engine.tasks.runner import run_tasks
    from engine.types import EjectionFraction

    results = _simulate("cardiac", ev.cardiac_cines, seed, ev.size, frames=ev.cardiac_cine_frames)
    modes = ("all", "auto") if "exam" in run.cfg.heads_by_name else ("all",)
    ef_err: dict[str, list[float]] = {m: [] for m in modes}
    lv: dict[str, list[float]] = {m: [] for m in modes}
    lm, consistent = [], []
    label = run.cfg.heads_by_name["segmentation"].labels.index("lv_cavity") + 1
    for r in results:
        cavity = next(k for k, v in r.truth.labels.items() if v == "lv_cavity")
        for mode in modes:
            res = run_tasks(r.cine(), run.predictor, run.cfg, run.loaded.ref, mode, batch_size=run.batch)
            summary = res.tasks["regression"].summary if "regression" in res.tasks else ()
            efs = [e for e in summary if isinstance(e, EjectionFraction)]
            ef = efs[0].ef_percent if efs else math.nan
            if math.isfinite(ef):  # a cine holding no full cardiac cycle has no EF (engine.tasks.ejection)
                ef_err[mode].append(abs(ef - r.truth.values["ef"].value))
            frames = res.tasks["segmentation"].frames if "segmentation" in res.tasks else ()
            got = [dice(f.mask == label, r.truth.masks[f.frame] == cavity) for f in frames]
            lv[mode] += got or [0.0] * len(r.frames)  # routed away from the ventricle: nothing found
            if mode == "all":
                for f in res.tasks["landmarks"].frames:
                    lm += _landmark_error(LANDMARKS, f.points, r.truth, f.frame)
                consistent.append(report_consistent(res.tasks))
        run.predictor.cache.clear()
    out: dict[str, float] = {}
    for mode in modes:
        suffix = "" if mode == "all" else "_auto"  # _auto: routed by the model's own exam decision
        errors = ef_err[mode]
        out[f"ef.mae{suffix}"] = float(np.mean(errors)) if errors else math.nan
        out[f"ef.max_error{suffix}"] = float(np.max(errors)) if errors else math.nan
        out[f"ef.cines_with_cycle{suffix}"] = float(len(errors))
        out[f"lv.dice{suffix}"] = float(np.mean(lv[mode]))
    out["landmarks.cardiac_mre_px"] = float(np.mean(lm))
    out["report.numbers_consistent"] = float(np.mean(consistent))
    return out


PARTS: tuple[Callable[[_Runner, EvalRecipe, int], dict[str, float]], ...] = (
    _lesion,
    _vessels,
    _organs,
    _fetal,
    _enhance,
    _cardiac,
)


def evaluate(
    folder: str | Path, ev: EvalRecipe, test_seed: int, log: Callable[[str], None] = print
) -> dict[str, float]:
    """Figures of the model stored in ``folder`` on the held-out simulated test set (module docstring)."""
    run = _Runner(Path(folder))
    metrics: dict[str, float] = {}
    for k, part in enumerate(PARTS):
        got = part(run, ev, test_seed * 10 + k)
        log(" ".join(f"{key}={value:.4g}" for key, value in got.items()))
        metrics.update(got)
    return metrics


# the acceptance targets of the demo model: figure -> (bound, higher is better)
TARGETS: dict[str, tuple[float, bool]] = {
    "lesion.dice": (0.85, True),
    "classification.auc": (0.90, True),
    "detection.map50": (0.80, True),
    "landmarks.fetal_mre_px": (3.0, False),
    "ef.mae": (5.0, False),
    "enhancement.psnr_gain_db": (3.0, True),
    "report.numbers_consistent": (1.0, True),
}


def check_targets(metrics: Mapping[str, float]) -> dict[str, bool]:
    """Whether each target figure is met (False when the figure is missing or NaN)."""
    out = {}
    for key, (bound, higher) in TARGETS.items():
        v = metrics.get(key, math.nan)
        out[key] = bool(math.isfinite(v) and (v >= bound if higher else v <= bound))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.recipes.evaluate MODEL_FOLDER --config RECIPE``: score a stored model on
    the recipe's held-out simulated set; prints the figures as one JSON line."""
    import argparse
    import json

    from training.recipes.config import load_recipe

    p = argparse.ArgumentParser(prog="python -m training.recipes.evaluate", description=main.__doc__)
    p.add_argument("folder", help="a model folder (card.json + model.safetensors)")
    p.add_argument("--config", required=True, help="the recipe whose eval settings and test seed to use")
    args = p.parse_args(argv)
    recipe = load_recipe(Path(args.config))
    metrics = evaluate(args.folder, recipe.eval, recipe.test_seed)
    print(json.dumps({k: round(v, 6) for k, v in sorted(metrics.items())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
