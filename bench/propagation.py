"""Mask propagation through a simulated beating left ventricle, from one corrected frame.

    python bench/propagation.py [--features auto|flow|untrained] [--frames 30] [--seeds 3] [--size 256]

The ground-truth mask of frame 0 (LV cavity and myocardium) plays the corrected keyframe; every
other of the first ``--frames`` + 1 frames is propagated from it (``engine.tasks.propagate``) and
scored against the simulator's exact mask. ``propagated_dice`` is the mean over frames, labels
and seeds of the per-label Dice (target >= 0.85).

``--features`` picks the path: ``flow`` (the default) is optical flow alone, the path the app's
review queue uses; ``demo`` adds the bundled demo model's 1/4-level encoder features;
``untrained`` adds features of an untrained ``echocare_test`` encoder. The JSON line says which
path produced ``propagated_dice``; with the default, the demo-feature path is scored on the same
cines as well (``with_demo_features``), to show whether the model's features would help.

When the installed demo model has a prompt head, the prompt-head path is scored on the same
cines beside them (``with_prompt_head``, ``engine.tasks.prompting``): frame 0 of each label is
prompted as a user would with the Smart tool (a click at the structure's centre, then
correction clicks, each with the mask shown before, until IoU 0.9, at most five; no truth mask
is given), and the mask is carried through the next ``--frames`` frames by the prompt head alone
(``PromptSession.propagate``: each frame prompted from the previous frame's mask, by that mask
widened a little with a click at its centre and by its box grown a little, keeping the answer
with the higher predicted IoU). Its Dice is over the propagated frames, as the others'.

The prompt head is also scored on simulated breast lesion cines like the bundled sample
(``lesion_prompt_head``: 400x480, 23 frames after the prompted one, malignant and benign lesions,
each frame stored as JPEG at quality 85 as scanners store cine), beside optical flow on the same
cines and the prompt head with the previous mask passed on unwidened (``widen`` 0, box margin 0),
the rule before ``engine.tasks.prompting.WIDEN``. ``end_area_ratio`` is the last frame's mask area
over the truth's: below 1 a mask shrinks as it is carried.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.tasks.propagate import dice, propagate_masks
from training.sim import SimConfig, simulate

TARGET = 0.85
DEMO = "echocare-demo"
LESION_FRAMES = 23


def encoder_features(source: str, size: int):
    """(path name, features(frames) -> per-frame [C, h, w] 1/4-level maps) for ``source``."""
    import torch

    from engine.factory import create_model
    from engine.transforms.preprocess import preprocess

    if source == "demo":
        from engine.factory import load_model

        model = load_model(DEMO, device="cpu").module
        name = f"{DEMO} encoder features (1/4 level) + optical flow"
    else:
        from engine.tasks.presets import all_heads_cfg

        cfg = all_heads_cfg(arch="echocare_test", input_size=(size, size))
        torch.manual_seed(0)
        model = create_model(cfg).eval()
        name = "untrained echocare_test encoder features (1/4 level) + optical flow"

    def run(frames: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            batch = np.stack([preprocess(f, model.cfg).image for f in frames])
            maps = model.encoder(torch.from_numpy(batch).float())
        return [m.numpy() for m in maps[1]]

    return name, run


def demo_installed() -> bool:
    from engine.errors import ModelError
    from engine.model_store import locate

    try:
        locate(DEMO)
    except ModelError:
        return False
    return True


def score(source: str, cines: Iterable[tuple[str, Any]], size: int = 256) -> dict:
    """Propagation figures of one path (optical flow, with ``source``'s features where not
    ``flow``) over ``cines``, from the true mask of frame 0."""
    path, feats_of = "optical flow (Farneback), no encoder features", None
    if source != "flow":
        path, feats_of = encoder_features(source, size)
    scores, per_label, elapsed, count = [], {}, 0.0, 0
    for _, sim in cines:
        frames, truth = np.asarray(sim.frames), sim.truth.masks
        features = feats_of(frames).__getitem__ if feats_of is not None else None
        t0 = time.perf_counter()
        out = propagate_masks(list(frames), {0: truth[0]}, features=features)
        elapsed += time.perf_counter() - t0
        count += len(frames) - 1
        for value, name in sim.truth.labels.items():
            d = [dice(out[f] == value, truth[f] == value) for f in range(1, len(frames))]
            per_label.setdefault(name, []).extend(d)
            scores.extend(d)
    return {
        "propagated_dice": round(float(np.mean(scores)), 4),
        "per_label": {k: round(float(np.mean(v)), 4) for k, v in per_label.items()},
        "min_frame_dice": round(float(np.min(scores)), 4),
        "path": path,
        "ms_per_frame": round(1000 * elapsed / max(1, count), 1),
    }


def cardiac_cines(frames_n: int, seeds: int, size: int) -> Iterator[tuple[str, Any]]:
    """The simulated beating LVs every path is scored on."""
    for seed in range(seeds):
        sim = simulate("cardiac", seed=seed, cfg=SimConfig(height=size, width=size))
        yield f"cardiac-{seed}", replace(sim, frames=sim.frames[: frames_n + 1])


def lesion_cines(seeds: int) -> Iterator[tuple[str, Any]]:
    """Simulated breast lesion cines like the bundled sample, malignant and benign, each frame
    through JPEG at quality 85."""
    cfg = SimConfig(height=400, width=480, frames=LESION_FRAMES + 1, fps=20.0)
    for seed in range(seeds):
        for malignant in (True, False):
            sim = simulate("lesion", seed=seed, cfg=cfg, malignant=malignant)
            frames = np.stack([jpeg(f) for f in sim.frames])
            yield f"lesion-{seed}-{'malignant' if malignant else 'benign'}", replace(sim, frames=frames)


def jpeg(frame: np.ndarray, quality: int = 85) -> np.ndarray:
    _, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def score_prompt(cines: Iterable[tuple[str, Any]], **rule: float) -> dict:
    """Propagation with the demo model's prompt head from one prompted frame, per label; ``rule``
    goes to ``PromptSession.propagate`` (``widen``, ``box_margin``)."""
    from engine.factory import load_model
    from engine.heads.kinds.prompt import Prompt, iou
    from engine.inference import Predictor
    from engine.io.memory import ArrayCine
    from engine.tasks.prompting import PromptSession
    from training.recipes.prompt import next_click

    loaded = load_model(DEMO, device="cpu")
    if "prompt" not in loaded.cfg.heads_by_name:
        return {}
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    scores, per_label, first_iou, clicks, elapsed, count, end_area = [], {}, [], [], 0.0, 0, []
    for key, sim in cines:
        frames, truth = np.asarray(sim.frames), sim.truth.masks
        with ArrayCine(frames, path=key) as cine:
            session = PromptSession(cine, predictor)
            for value, name in sim.truth.labels.items():
                target = truth[0] == value
                prompt, mask = Prompt(), np.zeros_like(target)
                for _ in range(5):
                    click = next_click(mask, target)
                    if click is None:
                        break
                    prompt = prompt.with_point(*click)
                    shown = mask.astype(np.float32) if len(prompt.points) > 1 else None
                    mask = session.segment(0, replace(prompt, mask=shown)).result.mask
                    if iou(mask, target) >= 0.9:
                        break
                first_iou.append(iou(mask, target))
                clicks.append(len(prompt.points))
                t0 = time.perf_counter()
                last = len(frames) - 1
                out = {t.result.frame: t.result.mask for t in session.propagate(0, mask, 0, last, **rule)}
                elapsed += time.perf_counter() - t0
                count += len(out)
                d = [
                    dice(out.get(f, np.zeros_like(target)), truth[f] == value) for f in range(1, len(frames))
                ]
                per_label.setdefault(name, []).extend(d)
                scores.extend(d)
                end_area.append(
                    out.get(last, np.zeros_like(target)).sum() / max(1, (truth[last] == value).sum())
                )
        predictor.cache.clear()
    return {
        "propagated_dice": round(float(np.mean(scores)), 4),
        "per_label": {k: round(float(np.mean(v)), 4) for k, v in per_label.items()},
        "min_frame_dice": round(float(np.min(scores)), 4),
        "end_area_ratio": round(float(np.mean(end_area)), 3),
        "prompted_frame_iou": round(float(np.mean(first_iou)), 4),
        "clicks_on_prompted_frame": round(float(np.mean(clicks)), 2),
        "path": f"{DEMO} prompt head, from one prompted frame (clicks only)",
        "ms_per_frame": round(1000 * elapsed / max(1, count), 1),
    }


def score_lesions(seeds: int) -> dict:
    """The prompt head on the lesion cines, with today's rule and the unwidened one, beside flow."""
    prompted = score_prompt(lesion_cines(seeds))
    if not prompted:
        return {}
    unwidened = score_prompt(lesion_cines(seeds), widen=0.0, box_margin=0.0)
    keep = ("propagated_dice", "min_frame_dice", "end_area_ratio")
    return prompted | {
        "cines": 2 * seeds,
        "frames": LESION_FRAMES,
        "unwidened": {k: unwidened[k] for k in keep},
        "optical_flow": score("flow", lesion_cines(seeds))["propagated_dice"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=("flow", "demo", "untrained"), default="flow")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--lesion-seeds", type=int, default=3, help="lesion cines: one malignant, one benign per seed"
    )
    args = parser.parse_args()
    result = score(args.features, cardiac_cines(args.frames, args.seeds, args.size), args.size)
    result |= {"target": TARGET, "frames": args.frames, "seeds": args.seeds, "size": args.size}
    if args.features == "flow" and demo_installed():
        demo = score("demo", cardiac_cines(args.frames, args.seeds, args.size), args.size)
        result["with_demo_features"] = {k: demo[k] for k in ("propagated_dice", "per_label", "path")}
        prompted = score_prompt(cardiac_cines(args.frames, args.seeds, args.size))
        if prompted:
            result["with_prompt_head"] = prompted
            result["lesion_prompt_head"] = score_lesions(args.lesion_seeds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
