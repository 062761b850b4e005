"""Multi-scene fine-tuning of all heads: one scene per batch, each scene teaching its own heads.

Built on the training module's shared pieces: the engine's registered losses
(``training.finetune.module.build_losses`` / ``run_heads``), ``collate`` and the epoch loop
(``training.loop.TrainLoop``: warm-up and cosine schedule, clipping, checkpoints, log).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.progress import CancelToken, Progress, ProgressFn, no_progress
from training.config import OptimCfg, RunCfg
from training.distributed import DistInfo
from training.finetune.module import build_losses, head_losses, run_heads
from training.finetune.samples import collate
from training.loop import LoopResult, TrainLoop
from training.recipes.config import PhaseRecipe
from training.recipes.data import RecipeSet


class WeightedHeads(nn.Module):
    """``forward(batch) -> {"loss", "loss_<head>"}``: weighted sum of the batch's heads' losses.

    Args:
        model: the FoundationModel.
        params: every head's constructor params (for the losses).
        weights: loss weight per head (1 when absent).
        frozen_encoder: run the encoder without gradients (heads-only phase); a batch that
            carries ``feats`` (cached maps of the frozen encoder) runs no encoder at all.
        only: the heads trained (their losses only; the other heads' weights stay as they are);
            empty: every head.
    """

    def __init__(
        self,
        model: nn.Module,
        params: Mapping[str, Mapping[str, Any]],
        weights: Mapping[str, float],
        frozen_encoder: bool = False,
        only: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.model = model
        self.losses = build_losses(model.spec, params)
        self.weights = {h: float(weights.get(h, 1.0)) for h in params}
        self.frozen_encoder = frozen_encoder
        self.only = frozenset(only)
        for name, head in model.heads.items():
            head.requires_grad_(not self.only or name in self.only)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        image, targets = batch["image"], batch["targets"]
        if self.only:
            targets = {name: t for name, t in targets.items() if name in self.only}
        if self.frozen_encoder and "feats" in batch:
            feats = [f.to(image.dtype) for f in batch["feats"]]
        elif self.frozen_encoder:
            with torch.no_grad():
                feats = self.model.encoder(image)
        else:
            feats = self.model.encoder(image)
        outputs = run_heads(self.model, feats, image, targets)
        return head_losses(self.losses, outputs, targets, image.new_zeros(()), self.weights)


def scene_order(
    scenes: Sequence[str], weights: Mapping[str, float], steps: int, batch: int, seed: int
) -> list[int]:
    """Sample indices for ``steps`` batches; each block of ``batch`` indices holds one scene.

    Scenes come up in proportion to ``weights`` (1 when absent), in a seeded shuffled order;
    within a scene, samples are drawn without replacement, reshuffled each pass.
    """
    rng = np.random.default_rng(seed)
    names = sorted(set(scenes))
    pools = {n: np.flatnonzero(np.asarray(scenes) == n) for n in names}
    w = np.array([float(weights.get(n, 1.0)) for n in names])
    picks = rng.choice(len(names), size=steps, p=w / w.sum())
    queues: dict[str, list[int]] = {n: [] for n in names}
    order: list[int] = []
    for k in picks:
        name = names[k]
        while len(queues[name]) < batch:
            queues[name].extend(rng.permutation(pools[name]).tolist())
        order.extend(queues[name][:batch])
        del queues[name][:batch]
    return order


def learnable_weights(
    samples: Sequence[Any], weights: Mapping[str, float], only: frozenset[str]
) -> dict[str, float]:
    """``weights`` (1 where absent) for each scene of ``samples``, with 0 for every scene none of
    whose samples carries a target of a head in ``only``: a batch of it would teach those heads
    nothing. Every scene keeps its weight when ``only`` is empty (all heads train).

    Raises:
        ConfigError: no scene with a weight above 0 carries a target of those heads.
    """
    scenes = sorted({s.scene for s in samples})
    if not only:
        return {n: float(weights.get(n, 1.0)) for n in scenes}
    carries = {s.scene for s in samples if only & set(s.targets)}
    out = {n: float(weights.get(n, 1.0)) if n in carries else 0.0 for n in scenes}
    if not any(out.values()):
        heads = ", ".join(sorted(only))
        raise ConfigError(None, f"no scene of this phase has targets for its heads ({heads})")
    return out


def run_phase(
    module: WeightedHeads,
    data: RecipeSet,
    phase: PhaseRecipe,
    *,
    out_dir: str,
    seed: int,
    scene_weights: Mapping[str, float],
    deadline: float | None = None,
    progress: ProgressFn = no_progress,
    device: str = "cpu",
    resume: bool = False,
    checkpoint_every: int = 0,
) -> LoopResult:
    """Train ``module`` for ``phase.steps`` optimiser steps of ``phase.grad_accum`` scene batches each.

    ``deadline`` (a ``time.monotonic()`` value) stops the phase early, and so does
    ``phase.stop_after`` at that step; the loop then reports ``cancelled`` and the weights trained
    so far stay in ``module``. Both stop at the same point of a step, so a run that its deadline
    stopped at step N is repeated by ``stop_after: N``. On a GPU ``device`` the
    module moves there for the phase (mixed precision, ``amp="auto"``) and back to the CPU after.
    A checkpoint is written every ``checkpoint_every`` steps (0: at the phase's end only);
    ``resume`` continues from the newest one in ``out_dir`` (a finished phase loads its final
    weights and trains no further), else the phase starts over. A phase that trains some heads
    only draws batches from the scenes that carry their targets (``learnable_weights``).
    """
    import time

    cancel = CancelToken()
    timer = None
    if deadline is not None:
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), cancel.cancel)
        timer.daemon = True
        timer.start()
    report = progress
    if phase.stop_after:

        def report(p: Progress) -> None:
            progress(p)
            if p.done >= phase.stop_after:
                cancel.cancel()

    batches = phase.steps * phase.grad_accum
    weights = learnable_weights(data.samples, scene_weights, module.only)
    order = scene_order([s.scene for s in data.samples], weights, batches, phase.batch_size, seed)
    loop = TrainLoop(
        module,
        data,
        optim=OptimCfg(
            lr=phase.lr,
            weight_decay=phase.weight_decay,
            warmup_steps=phase.warmup_steps,
            batch_size=phase.batch_size,
            grad_accum=phase.grad_accum,
            clip_grad=1.0,
            amp="off" if device == "cpu" else "auto",
        ),
        run=RunCfg(
            out_dir=out_dir,
            seed=seed,
            epochs=1,
            max_steps=phase.steps,
            device=device,
            keep_checkpoints=1,
            checkpoint_every=checkpoint_every,
        ),
        dist=DistInfo(device=device),
        collate=collate,
        order=lambda epoch: order,
        progress=report,
        cancel=cancel,
    )
    module.to(device)
    try:
        return loop.fit(resume=resume)
    finally:
        module.to("cpu")
        if timer is not None:
            timer.cancel()
