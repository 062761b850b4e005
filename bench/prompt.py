"""Promptable segmentation: accuracy on held-out simulated structures, and the time of a click.

    python bench/prompt.py [--model echocare-demo] [--per-scene 40] [--clicks 60]

Accuracy (the standard interactive-segmentation protocol, ``training.recipes.prompt``): every
connected part of every labelled structure of the held-out simulated scenes (test seed 9001,
never used in training), at the recipe's render sizes; one click at the structure's centre
(``miou_1click``), correction clicks at the centre of the largest error region until IoU 0.85
(``noc_85``, at most 20; ``reached_85`` the share that got there) and the tight box
(``miou_box``), all in original-frame pixels through the engine; for the structures that lie
inside a larger one (the LV cavity and its wall, ``nested``), the first click's alternative
against that larger structure (``miou_alt_1click``) and the share where the head offered it
(``alt_offered``). Beside them, in the same run,
OpenCV's GrabCut from the same box (``grabcut_miou_box``, ``grabcut_ms``): the classical
interactive baseline.

Speed, with ``torch`` on 2 threads: ``click_ms`` (p50 and p95 over ``--clicks`` prompts on a
480x640 frame whose features are cached: the decoder and the mapping back to the frame) beside
``encoder_ms`` (one uncached frame: what the first click on a frame also pays) and
``correction_ms`` (a second click with the first answer as the previous mask: the head zooms in,
so this includes encoding the crop unless an earlier prompt used the same one).

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import torch

from engine.factory import load_model
from engine.heads.kinds.prompt import Prompt, iou
from engine.inference import Predictor
from engine.tasks.prompting import PromptSession
from training.recipes.prompt import PromptRecipe, encode_split, evaluate_prompts, summary, tight_box


def grabcut(frame: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """OpenCV GrabCut (5 iterations) initialised with ``box``."""
    image = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    image = np.ascontiguousarray(image.astype(np.uint8))
    x0, y0, x1, y1 = (round(v) for v in box)
    rect = (x0, y0, max(1, x1 - x0 + 1), max(1, y1 - y0 + 1))
    mask = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(image, mask, rect, bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    except cv2.error:  # a box too small for its colour models
        return np.zeros(image.shape[:2], bool)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def timings(loaded, clicks: int) -> dict[str, float]:
    """Click and encoder milliseconds on a 480x640 simulated frame."""
    from engine.io.memory import ArrayCine
    from training.sim import SimConfig, simulate

    sim = simulate("lesion", seed=12345, cfg=SimConfig(height=480, width=640))
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    with ArrayCine(np.asarray(sim.frames), path="bench-frame") as cine:
        session = PromptSession(cine, predictor)
        enc = []
        for _ in range(5):
            predictor.cache.clear()
            t = time.perf_counter()
            session.warm([0])
            enc.append((time.perf_counter() - t) * 1000)
        rng = np.random.default_rng(0)
        ms, refine = [], []
        for _ in range(clicks):
            x, y = rng.uniform(100, 540), rng.uniform(80, 400)
            first = session.segment(0, Prompt(((x, y, True),)))
            ms.append(first.ms)
            mask = first.result.mask.astype(np.float32)
            refine.append(session.segment(0, Prompt(((x, y, True), (x + 9, y + 7, True)), mask=mask)).ms)
    return {
        "click_ms_p50": round(float(np.percentile(ms, 50)), 1),
        "click_ms_p95": round(float(np.percentile(ms, 95)), 1),
        "correction_ms_p50": round(float(np.percentile(refine, 50)), 1),
        "correction_ms_p95": round(float(np.percentile(refine, 95)), 1),
        "encoder_ms": round(float(np.median(enc)), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="echocare-demo")
    parser.add_argument("--per-scene", type=int, default=40, help="held-out frames per scene")
    parser.add_argument("--clicks", type=int, default=60, help="prompts timed on a cached frame")
    args = parser.parse_args()
    torch.set_num_threads(2)
    loaded = load_model(args.model, device="cpu")
    if "prompt" not in loaded.cfg.heads_by_name:
        print(f"error: model {loaded.cfg.name} has no prompt head", file=sys.stderr)
        return 2
    recipe = PromptRecipe(per_scene={"train": 0, "test": args.per_scene})
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    test, frames = encode_split(predictor, loaded.cfg, recipe, "test", False, lambda _: None)
    t = time.perf_counter()
    rows = evaluate_prompts(predictor, frames, test.structures, 20)
    eval_s = time.perf_counter() - t
    figures = summary(rows)
    grab, grab_ms = [], []
    for s in test.structures:
        f, _ = frames[s.frame]
        t = time.perf_counter()
        grab.append(iou(grabcut(f.frame, tight_box(s.mask)), s.mask))
        grab_ms.append((time.perf_counter() - t) * 1000)
    result = {
        "model": loaded.ref.label(),
        "structures": len(rows),
        "miou_1click": round(figures["miou_1click"], 4),
        "noc_85": round(figures["noc_85"], 3),
        "reached_85": round(figures["reached_85"], 4),
        "miou_box": round(figures["miou_box"], 4),
        # structures inside a larger one (the LV cavity, its wall): the first click's
        # alternative against that larger structure, and how often the head offered it
        "nested": int(figures.get("nested", 0)),
        "miou_alt_1click": round(figures.get("miou_alt_1click", float("nan")), 4),
        "alt_offered": round(figures.get("alt_offered", float("nan")), 4),
        # first answers the head called unsure (predicted IoU below UNSURE), and their mean IoU
        "unsure_1click": int(figures.get("unsure_1click", 0)),
        "miou_1click_unsure": round(figures.get("miou_1click_unsure", float("nan")), 4),
        "grabcut_miou_box": round(float(np.mean(grab)), 4),
        "grabcut_ms": round(float(np.median(grab_ms)), 1),
        "per_structure": {
            name: {k: round(figures[f"{name}.{k}"], 4) for k in ("miou_1click", "noc_85", "miou_box")}
            for name in sorted({r["name"] for r in rows})
        },
        **timings(loaded, args.clicks),
        "threads": torch.get_num_threads(),
        "eval_s": round(eval_s, 1),
        "targets": {"noc_85": "<= 3", "click_ms_p95": "<= 50"},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
