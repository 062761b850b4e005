"""The distillation loop: the student learns the teacher's features and outputs on simulated frames.

The student starts from the teacher's weights wherever names and shapes match
(``training.distill.student.init_from_teacher``) unless ``DistillCfg.teacher_init`` is off.
Per step, on a batch of frames (randomly mirrored), the frozen teacher gives its five feature
maps and every head's raw outputs; the student is trained on

* feature matching: MSE between each student level, mapped by a 1x1 convolution to the
  teacher's channels, and the teacher's level;
* output matching, per head kind (``training.distill.losses.output_loss``): KL on class,
  mask and token distributions, MSE on heatmaps, values and enhanced images, soft targets and
  object-weighted box matching for detection;
* the simulator's labels where frames carry them (segmentation masks, scene classes).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor

from engine.factory import LoadedModel, create_model, load_model
from engine.heads.report import PAD
from engine.heads.spec import head_spec
from engine.models.foundation import FoundationModel
from engine.progress import NEVER, CancelToken, Progress, ProgressFn, no_progress
from training.distill.config import DistillCfg
from training.distill.data import DistillFrame, simulated_frames
from training.distill.losses import FeatureProjector, output_loss
from training.distill.student import init_from_teacher, student_cfg

WARMUP_SHARE = 0.05


@dataclass(frozen=True)
class DistillResult:
    """A finished (or cancelled) distillation.

    Attributes:
        student: the student model, in eval mode on the CPU.
        teacher: the loaded teacher.
        steps: optimiser steps run.
        final_loss: mean total loss over the last tenth of the steps.
        losses: mean of each loss term over the last tenth of the steps.
        seconds: wall-clock training time.
        frames: keys of the training frames.
        initialised: student tensors copied from the teacher before training.
    """

    student: FoundationModel
    teacher: LoadedModel
    steps: int
    final_loss: float
    losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    frames: tuple[str, ...] = ()
    initialised: int = 0


def _outputs(model: FoundationModel, feats: list[Tensor], x: Tensor, tokens: Tensor | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, head in model.heads.items():
        forced = head_spec(model.cfg.heads_by_name[name].kind).teacher_forced
        out[name] = head(feats, x, tokens=tokens) if forced else head(feats, x)
    return out


def _teacher_tokens(teacher: FoundationModel, feats: list[Tensor], x: Tensor) -> Tensor | None:
    for name, head in teacher.heads.items():
        if head_spec(teacher.cfg.heads_by_name[name].kind).teacher_forced:
            return head(feats, x)["tokens"]
    return None


def _stack(frames: list[DistillFrame]) -> tuple[Tensor, Tensor, Tensor]:
    images = torch.from_numpy(np.stack([f.image for f in frames]))
    h, w = images.shape[-2:]
    masks = torch.full((len(frames), h, w), -1, dtype=torch.long)
    for i, f in enumerate(frames):
        if f.mask is not None:
            masks[i] = torch.from_numpy(f.mask)
    labels = torch.tensor([f.label for f in frames], dtype=torch.long)
    return images, masks, labels


def _supervised(out: dict[str, Any], cfg: Any, masks: Tensor, labels: Tensor) -> Tensor:
    total = masks.new_zeros((), dtype=torch.float32)
    for name, head in cfg.heads_by_name.items():
        if head.kind == "segmentation" and (masks >= 0).any():
            total = total + nnf.cross_entropy(out[name]["logits"], masks, ignore_index=-1)
        elif head.kind == "classification" and (labels >= 0).any():
            total = total + nnf.cross_entropy(out[name]["logits"], labels, ignore_index=-1)
    return total


def _schedule(steps: int) -> Any:
    warmup = max(1, int(steps * WARMUP_SHARE))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor


def distill(
    cfg: DistillCfg, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER
) -> DistillResult:
    """Distil a student from ``cfg.teacher``; the student is not stored (see ``register``).

    Raises:
        ModelError: the teacher cannot be loaded or the student variant is unknown.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    teacher = load_model(cfg.teacher, device="cpu")
    t_model = teacher.module.eval().requires_grad_(False)
    torch.manual_seed(cfg.seed)
    student = create_model(student_cfg(teacher.cfg, cfg.student, cfg.head_scale, cfg.name)).train()
    initialised = init_from_teacher(student, t_model)[0] if cfg.teacher_init else 0
    proj = FeatureProjector(student.spec.channels, t_model.spec.channels)
    frames = simulated_frames(teacher.cfg, cfg.frames, cfg.scenes, cfg.sizes, cfg.seed)
    images, masks, labels = _stack(frames)
    params = [*student.parameters(), *proj.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg.steps))
    rng = np.random.default_rng(cfg.seed)
    kinds = {h.name: h.kind for h in teacher.cfg.heads}
    history: list[dict[str, float]] = []
    start = time.monotonic()
    step = 0
    for step in range(1, cfg.steps + 1):
        if cancel.cancelled:
            step -= 1
            break
        idx = torch.from_numpy(rng.choice(len(frames), size=min(cfg.batch_size, len(frames)), replace=False))
        x, m, y = images[idx], masks[idx], labels[idx]
        if rng.random() < 0.5:
            x, m = x.flip(-1), m.flip(-1)
        with torch.no_grad():
            t_feats = t_model.encoder(x)
            tokens = _teacher_tokens(t_model, t_feats, x)
            t_out = _outputs(t_model, t_feats, x, tokens)
        s_feats = student.encoder(x)
        s_out = _outputs(student, s_feats, x, tokens)
        terms = {"features": cfg.feature_weight * proj(s_feats, t_feats)}
        for name, kind in kinds.items():
            if head_spec(kind).teacher_forced and tokens is not None:
                keep = (tokens != PAD).float().unsqueeze(-1)
                s_out[name] = {"logits": s_out[name]["logits"] * keep}
                t_out[name] = {"logits": t_out[name]["logits"] * keep}
            terms[name] = output_loss(kind)(s_out[name], t_out[name], cfg.temperature)
        if cfg.label_weight:
            terms["labels"] = cfg.label_weight * _supervised(s_out, student.cfg, m, y)
        loss = torch.stack(list(terms.values())).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        history.append({"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}})
        progress(Progress(step, cfg.steps, f"loss {history[-1]['loss']:.4f}"))
    tail = history[-max(1, len(history) // 10) :] if history else [{"loss": math.nan}]
    means = {k: float(np.mean([h[k] for h in tail])) for k in tail[0]}
    return DistillResult(
        student.eval().requires_grad_(False),
        teacher,
        step,
        means.pop("loss"),
        means,
        time.monotonic() - start,
        tuple(f.key for f in frames),
        initialised,
    )
