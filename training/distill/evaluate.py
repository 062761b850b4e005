"""Teacher against student on held-out simulated frames, through the engine's inference path.

Both models see the same frames (simulator seeds the training frames never use), are run by
``engine.inference.Predictor`` and post-processed by the engine's tasks in original-frame
pixels, then scored against the simulator's exact truth:

* ``<model>.dice``: mean Dice over every (frame, structure) the segmentation head knows;
* ``<model>.auc``: mean over scenes of the binary AUC of the scene's second class (e.g.
  ``malignant`` for lesions), over scenes whose classes the classification head knows;
* ``dice_ratio`` = student / teacher Dice, ``auc_gap`` = teacher - student AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.distill.data import SEED_STRIDE

HELD_OUT_SEED = 7919


def _simulate(scenes: Sequence[str], per_scene: int, seed: int, size: tuple[int, int]) -> list[Any]:
    from training.sim import SimConfig, simulate

    cfg = SimConfig(height=size[0], width=size[1])
    return [
        simulate(scene, seed=(seed * 10 + k) * SEED_STRIDE + i, cfg=cfg)
        for k, scene in enumerate(scenes)
        for i in range(per_scene)
    ]


def _outputs(predictor: Any, results: Sequence[Any], batch: int = 8) -> list[dict[str, Any]]:
    """Per simulation (first frame): the post-processed segmentation and classification."""
    from engine.tasks import TASKS
    from engine.tasks.base import FrameContext, postprocess_frame
    from engine.transforms.preprocess import preprocess

    loaded = predictor.loaded
    heads = [h for h in ("segmentation", "classification") if h in loaded.cfg.heads_by_name]
    tasks = {h: TASKS.get(h)(loaded.cfg, loaded.ref) for h in heads}
    out: list[dict[str, Any]] = []
    for start in range(0, len(results), batch):
        chunk = results[start : start + batch]
        preps = [preprocess(r.frames[0], loaded.cfg) for r in chunk]
        keys = [("held-out", r.truth.scene, r.truth.seed) for r in chunk]
        got = predictor.run_heads(keys, np.stack([p.image for p in preps]), heads)
        for b, (r, p) in enumerate(zip(chunk, preps, strict=True)):
            ctx = FrameContext(0, r.frames[0], p.geometry, r.calibration())
            one = {h: {k: v[b] for k, v in got[h].items()} for h in heads}
            out.append(postprocess_frame(list(tasks.values()), one, ctx))
    predictor.cache.clear()
    return out


def scores(predictor: Any, results: Sequence[Any]) -> dict[str, float]:
    """Dice and AUC of one model (``engine.inference.Predictor``) on simulations ``results``."""
    from training.metrics import binary_auc

    cfg = predictor.loaded.cfg
    outs = _outputs(predictor, results)
    seg = cfg.heads_by_name["segmentation"].labels if "segmentation" in cfg.heads_by_name else ()
    dices: list[float] = []
    by_scene: dict[str, tuple[list[float], list[bool]]] = {}
    cls = cfg.heads_by_name["classification"].labels if "classification" in cfg.heads_by_name else ()
    for r, o in zip(results, outs, strict=True):
        truth = r.truth
        for k, name in truth.labels.items():
            if name in seg and "segmentation" in o:
                pred = o["segmentation"].mask == seg.index(name) + 1
                want = truth.masks[0] == k
                total = int(pred.sum()) + int(want.sum())
                dices.append(1.0 if total == 0 else 2.0 * int((pred & want).sum()) / total)
        names = truth.class_names
        if (
            truth.class_index is not None
            and len(names) == 2
            and set(names) <= set(cls)
            and "classification" in o
        ):
            s, p = by_scene.setdefault(truth.scene, ([], []))
            s.append(float(o["classification"].probs[cls.index(names[1])]))
            p.append(truth.class_index == 1)
    aucs = [binary_auc(np.array(s), np.array(p)) for s, p in by_scene.values()]
    aucs = [a for a in aucs if np.isfinite(a)]
    return {
        "dice": float(np.mean(dices)) if dices else float("nan"),
        "auc": float(np.mean(aucs)) if aucs else float("nan"),
        "dice_items": float(len(dices)),
    }


def compare(
    teacher: Any,
    student: Any,
    scenes: Sequence[str] = ("lesion", "vessels", "cardiac", "fetal_head", "organs"),
    per_scene: int = 16,
    size: tuple[int, int] = (256, 256),
    seed: int = HELD_OUT_SEED,
) -> dict[str, float]:
    """Held-out figures of a teacher and its student (both ``engine.inference.Predictor``)."""
    results = _simulate(scenes, per_scene, seed, size)
    t, s = scores(teacher, results), scores(student, results)
    out = {f"teacher.{k}": v for k, v in t.items()} | {f"student.{k}": v for k, v in s.items()}
    out["dice_ratio"] = s["dice"] / t["dice"] if t["dice"] > 0 else float("nan")
    out["auc_gap"] = t["auc"] - s["auc"]
    out["frames"] = float(len(results))
    return out
