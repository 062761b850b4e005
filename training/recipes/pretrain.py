"""The recipe's self-supervised stage: ``training.ssl.run_pretrain`` on the recipe's own frames.

The frames are the already rendered training scenes (no labels are used except the scene
metadata tree, region -> scene, that the hierarchical classifier learns). They reach the
pretraining run through the frame source "recipe", registered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.progress import ProgressFn, no_progress
from training.config import DataCfg, MimCfg, OptimCfg, PretrainCfg, RunCfg, TreeCfg
from training.data.frames import FRAME_SOURCES, FrameRef, SourceResult
from training.recipes.config import DemoRecipe
from training.recipes.data import SceneSample

REGION = {
    "lesion": "breast",
    "vessels": "neck",
    "organs": "abdomen",
    "fetal_head": "obstetric",
    "cardiac": "chest",
    "enhance": "abdomen",
}
_FRAMES: dict[str, np.ndarray] = {}
_REFS: list[FrameRef] = []


@FRAME_SOURCES.register("recipe")
def _recipe_frames(cfg: PretrainCfg) -> SourceResult:
    del cfg
    return list(_REFS), lambda ref: _FRAMES[ref.source]


def pretrain_frames(samples: Sequence[SceneSample], count: int) -> list[SceneSample]:
    """``count`` samples taken in turn from each scene (the MIM set)."""
    by_scene: dict[str, list[SceneSample]] = {}
    for s in samples:
        by_scene.setdefault(s.scene, []).append(s)
    names = sorted(by_scene)
    out: list[SceneSample] = []
    k = 0
    while len(out) < min(count, len(samples)):
        pool = by_scene[names[k % len(names)]]
        if k // len(names) < len(pool):
            out.append(pool[k // len(names)])
        k += 1
    return out


def run_mim(
    recipe: DemoRecipe,
    samples: Sequence[SceneSample],
    out_dir: Path,
    progress: ProgressFn = no_progress,
    resume: bool = False,
    checkpoint_every: int = 0,
) -> Path | None:
    """Pretrain the encoder on ``samples``; returns its ``encoder.safetensors`` (None if 0 steps).

    ``resume`` continues from the newest checkpoint in ``out_dir`` (written every
    ``checkpoint_every`` steps and at each epoch's end)."""
    from training.ssl.pretrain import run_pretrain

    p = recipe.pretrain
    if p.steps <= 0:
        return None
    _FRAMES.clear()
    _REFS.clear()
    for s in samples:
        _FRAMES[s.key] = s.image
        _REFS.append(FrameRef(s.key, 0, (REGION[s.scene], s.scene), s.key.rsplit(":", 2)[0]))
    cfg = PretrainCfg(
        arch=recipe.arch,
        input_size=recipe.input_size,
        data=DataCfg(source="recipe"),
        tree=TreeCfg(source="sim", levels=("region", "scene"), weight=0.5),
        mim=MimCfg(
            mask_unit=p.mask_unit,
            mask_ratio=p.mask_ratio,
            hard_share=p.hard_share,
            ramp_steps=0,
            hpm_weight=0.1,
        ),
        optim=OptimCfg(
            lr=p.lr,
            weight_decay=p.weight_decay,
            warmup_steps=p.warmup_steps,
            batch_size=p.batch_size,
            amp="off" if recipe.device == "cpu" else "auto",
        ),
        run=RunCfg(
            out_dir=str(out_dir),
            seed=recipe.seed,
            epochs=10_000,
            max_steps=p.steps,
            device=recipe.device,
            keep_checkpoints=1,
            checkpoint_every=checkpoint_every,
        ),
    )
    result = run_pretrain(cfg, resume=resume, progress=progress)
    return result.encoder
