"""``run_pretrain(cfg)``: build data, encoder and MIM module, train, and write the encoder.

Outputs in ``cfg.run.out_dir``: ``encoder.safetensors`` (the official EchoCare key layout with
``mask_token``, loadable by the engine's checkpoint import), ``pretrain.json`` (config, label
tree, final metrics) plus the loop's checkpoints and ``log.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.config_files import to_dict
from engine.progress import NEVER, CancelToken, ProgressFn, no_progress
from training.checkpointing import save_weights_atomic, weights_of
from training.config import PretrainCfg, SplitCfg
from training.data import sim_frames  # noqa: F401  (registers the "sim" frame source)
from training.data.augment import NO_AUGMENT
from training.data.frames import FRAME_SOURCES, PretrainFrames
from training.data.splits import split_items
from training.data.tree import LabelTree
from training.distributed import DistInfo, init_distributed, unwrap, wrap
from training.loop import LoopResult, TrainLoop
from training.seed import set_determinism
from training.ssl.mim import MimPretrainer

ENCODER_FILE = "encoder.safetensors"
VAL_SPLIT = SplitCfg(test=0.0, val=0.15, salt="echocare-pretrain-val")


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining run produced.

    Attributes:
        loop: how the loop ended (status, steps, history).
        encoder: the written encoder weights (rank 0), or None when the run did not finish.
        tree: the label tree the classifier learnt.
        metrics: final validation metrics (``loss`` = reconstruction L1, ``acc_<level>``).
    """

    loop: LoopResult
    encoder: Path | None
    tree: LabelTree
    metrics: dict[str, float]


def evaluate_pretrainer(
    module: MimPretrainer, data: PretrainFrames, ratio: float, batch: int = 16
) -> dict[str, float]:
    """Reconstruction L1 on fixed random masks and per-level accuracy on unmasked images."""
    gen = torch.Generator().manual_seed(1234)
    device = next(module.parameters()).device
    n = module.grid[0] * module.grid[1]
    recon, count = 0.0, 0
    correct = [0] * len(data.tree.levels)
    known = [0] * len(data.tree.levels)
    for start in range(0, len(data), batch):
        items = [data[i] for i in range(start, min(len(data), start + batch))]
        images = torch.stack([it["image"] for it in items]).to(device)
        labels = torch.stack([it["labels"] for it in items]).to(device)
        k = max(1, round(ratio * n))
        order = torch.rand(len(items), n, generator=gen).argsort(dim=1)[:, :k]
        units = torch.zeros(len(items), n, dtype=torch.bool).scatter(1, order, True).to(device)
        out = module({"image": images, "labels": labels}, units=units)
        recon += float(out["recon"]) * len(items)
        count += len(items)
        if module.classifier is not None:
            logits = module.classifier(module.encoder(images)[-1])
            for i, lg in enumerate(logits):
                ok = labels[:, i] >= 0
                correct[i] += int((lg.argmax(1) == labels[:, i])[ok].sum())
                known[i] += int(ok.sum())
    metrics = {"loss": recon / max(1, count)}
    for i, lvl in enumerate(data.tree.levels):
        if known[i]:
            metrics[f"acc_{lvl}"] = correct[i] / known[i]
    return metrics


def build_pretrainer(cfg: PretrainCfg, tree: LabelTree, total_steps: int) -> MimPretrainer:
    """The encoder of ``cfg.arch`` (optionally initialised from ``cfg.init``) inside the MIM module."""
    from engine.checkpoint import load_encoder_checkpoint
    from engine.factory import create_encoder

    encoder = create_encoder(cfg.arch)
    if cfg.init:  # any layout the engine imports: the official .pth, wrapped, LoRA, safetensors
        load_encoder_checkpoint(encoder, cfg.init)
    return MimPretrainer(
        encoder,
        cfg.input_size,
        cfg.mim,
        tree_sizes=tree.sizes if tree.levels else (),
        tree_weight=cfg.tree.weight,
        ramp_steps=cfg.mim.ramp_steps or total_steps,
        grad_accum=cfg.optim.grad_accum,
    )


def run_pretrain(
    cfg: PretrainCfg,
    *,
    resume: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER,
    dist: DistInfo | None = None,
) -> PretrainResult:
    """Pretrain an encoder as ``cfg`` says (one process, or one rank of a torchrun job).

    Raises:
        ConfigError: the data sources hold nothing usable (before any training step).
    """
    dist = dist or init_distributed(cfg.run.device)
    set_determinism(cfg.run.seed)
    refs, read = FRAME_SOURCES.get(cfg.data.source)(cfg)
    tree = LabelTree.from_paths(cfg.tree.levels, [r.labels for r in refs])
    parts = split_items(refs, lambda r: r.patient, VAL_SPLIT)
    train_refs, val_refs = parts["train"] or refs, parts["val"]
    train = PretrainFrames(train_refs, read, tree, cfg.input_size, cfg.run.seed)
    val = PretrainFrames(
        val_refs or train_refs[:16], read, tree, cfg.input_size, cfg.run.seed, aug=NO_AUGMENT
    )
    steps_per_epoch = max(1, len(train) // dist.world // (cfg.optim.batch_size * cfg.optim.grad_accum))
    total = cfg.run.epochs * steps_per_epoch
    total = min(total, cfg.run.max_steps) if cfg.run.max_steps else total
    module = build_pretrainer(cfg, tree, total).to(dist.device)
    mid_ratio = sum(cfg.mim.mask_ratio) / 2

    def evaluate(m: Any) -> dict[str, float]:
        return evaluate_pretrainer(m, val, mid_ratio)

    loop = TrainLoop(
        wrap(module, dist),
        train,
        optim=cfg.optim,
        run=cfg.run,
        dist=dist,
        evaluate=evaluate,
        progress=progress,
        cancel=cancel,
    )
    result = loop.fit(resume=resume)
    metrics = dict(result.history[-1]) if result.history else {}
    out = Path(cfg.run.out_dir)
    encoder_path = None
    if dist.is_main and result.status in ("finished", "early_stopped"):
        encoder_path = out / ENCODER_FILE
        save_weights_atomic(weights_of(unwrap(module).encoder), encoder_path, {"arch": cfg.arch})
        summary = {
            "config": to_dict(cfg),
            "tree": tree.as_dict(),
            "metrics": metrics,
            "status": result.status,
        }
        (out / "pretrain.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return PretrainResult(result, encoder_path, tree, metrics)
