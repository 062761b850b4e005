"""``finetune(cfg)``: the one entry the app and the CLI call to adapt a model to labelled data.

Order of work: everything that can fail on bad input (config, data, labels per head, splits)
is checked before the model is built or a step is taken. Then the parent is scored on the
frozen test split, the chosen heads are trained (heads only on cached features, LoRA or full),
the new version is scored on the same split and stored with its lineage; the gate decides
whether it becomes active.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine.config_files import to_dict
from engine.errors import ConfigError
from engine.heads.spec import head_spec
from engine.progress import NEVER, CancelToken, ProgressFn, no_progress
from training.config import FinetuneCfg, validate_finetune
from training.data.splits import split_items
from training.distributed import DistInfo, init_distributed, unwrap, wrap
from training.finetune.remap import align_to_model
from training.finetune.samples import InputSpec, LabelledSample, PreparedSet, collate
from training.finetune.sources import LABELLED_SOURCES
from training.loop import LoopResult, TrainLoop
from training.seed import set_determinism
from training.versions import Verdict, gate, register_version, sha256_of


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning run produced.

    Attributes:
        status: the loop's status ("finished", "early_stopped", "interrupted", "cancelled").
        loop: the loop's result (history).
        test: the new model's metrics on the frozen test split, ``{"<head>.<metric>": value}``.
        parent_test: the parent's metrics on the same split (None without a parent).
        verdict: the gate's decision.
        card: the stored version's model card (rank 0, finished runs), else None.
        model: the trained FoundationModel (LoRA folded), on the CPU.
    """

    status: str
    loop: LoopResult
    test: dict[str, float]
    parent_test: dict[str, float] | None
    verdict: Verdict | None
    card: Any | None
    model: Any

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (the CLI prints it)."""
        return {
            "status": self.status,
            "steps": self.loop.steps,
            "version": f"{self.card.name}@{self.card.version}" if self.card else None,
            "test": self.test,
            "parent_test": self.parent_test,
            "flagged_worse": list(self.verdict.worse) if self.verdict else [],
            "activated": bool(self.verdict and self.verdict.activate and self.card),
            "gate": self.verdict.reason if self.verdict else None,
        }


def load_samples(cfg: FinetuneCfg) -> tuple[list[LabelledSample], dict[str, tuple[str, ...]]]:
    """Samples and head labels from the configured source, checked for every chosen head.

    Raises:
        ConfigError: a chosen head has no labelled sample or no label names.
    """
    samples, labels = LABELLED_SOURCES.get(cfg.data.source)(cfg)
    for head in cfg.heads:
        if not any(head in s.targets for s in samples) or head not in labels:
            where = cfg.data.paths[0] if cfg.data.paths else None
            raise ConfigError(where, f"no labels for head {head!r} in the data ({cfg.data.source})")
    return [s for s in samples if all(h in s.targets for h in cfg.heads)], labels


def lineage_of(
    cfg: FinetuneCfg, samples: Sequence[LabelledSample], test: Sequence[LabelledSample]
) -> dict[str, Any]:
    """Data and label hashes, label counts and the run config, stored on the version."""
    import numpy as np

    def label_bytes(s: LabelledSample) -> bytes:
        parts = []
        for h in cfg.heads:
            t = s.targets[h]
            items = t if isinstance(t, tuple) else (t,)
            parts += [np.asarray(x).tobytes() if not isinstance(x, str) else x.encode() for x in items]
        return b"".join(parts)

    counts: dict[str, Any] = {h: len(samples) for h in cfg.heads}
    if "classification" in cfg.heads:
        counts["classification_per_class"] = dict(Counter(str(s.targets["classification"]) for s in samples))
    return {
        "mode": cfg.mode,
        "data_sha256": sha256_of([s.key.encode() + np.ascontiguousarray(s.image).tobytes() for s in samples]),
        "labels_sha256": sha256_of([label_bytes(s) for s in samples]),
        "test_split_sha256": sha256_of(sorted(s.key.encode() for s in test)),
        "label_counts": counts,
        "patients": len({s.patient for s in samples}),
        "config": to_dict(cfg),
    }


def evaluate_model(
    model: Any, data: PreparedSet, heads: Sequence[str], labels: Mapping[str, Sequence[str]], batch: int = 16
) -> dict[str, float]:
    """Metrics ``{"<head>.<metric>"}`` and the summed head ``loss`` of ``model`` on ``data``."""
    import torch

    from training.finetune.module import build_losses, run_heads

    device = next(model.parameters()).device
    params = {h: dict(model.cfg.heads_by_name[h].params) for h in heads}
    losses = build_losses(model.spec, params).to(device)
    metrics = {h: _metric(h, model, labels) for h in heads}
    total, n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(data), batch):
            b = collate([data[i] for i in range(start, min(len(data), start + batch))])
            image = b["image"].to(device)
            feats = [f.to(device).float() for f in b["feats"]] if "feats" in b else model.encoder(image)
            targets = {h: _to(b["targets"][h], device) for h in heads}
            outs = run_heads(model, feats, image, targets)
            for h in heads:
                total += float(losses[h](outs[h], targets[h])) * image.shape[0]
                plain = model.heads[h](feats, image) if head_spec(h).teacher_forced else outs[h]
                metrics[h].update(_cpu(plain), _cpu(targets[h]), b["spacing"])
            n += image.shape[0]
    out = {"loss": total / max(1, n)}
    for h, m in metrics.items():
        out.update({f"{h}.{k}": v for k, v in m.compute().items()})
    return out


def _metric(head: str, model: Any, labels: Mapping[str, Sequence[str]]) -> Any:
    from engine.heads.spec import MetricContext
    from training.metrics import build_metric

    params = model.cfg.heads_by_name[head].params
    context = MetricContext(model.spec, params, tuple(labels.get(head, ())), model.cfg.mean, model.cfg.std)
    return build_metric(head, context)


def _to(x: Any, device: Any) -> Any:
    from training.loop import to_device

    return to_device(x, device)


def _cpu(x: Any) -> Any:
    import torch

    return _to(x, torch.device("cpu"))


def balanced_order(samples: Sequence[LabelledSample], seed: int) -> Any:
    """Epoch orders drawing classes in inverse proportion to their frequency (with replacement)."""
    import torch

    classes = [int(s.targets["classification"]) for s in samples]
    counts = Counter(classes)
    weights = torch.tensor([1.0 / counts[c] for c in classes], dtype=torch.float64)

    def order(epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(seed * 7919 + epoch)
        return torch.multinomial(weights, len(samples), replacement=True, generator=g).tolist()

    return order


def finetune(
    cfg: FinetuneCfg,
    *,
    resume: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER,
    dist: DistInfo | None = None,
) -> FinetuneResult:
    """Fine-tune the heads ``cfg`` names and register the result as a new model version.

    Raises:
        ConfigError: bad config, missing data or labels, or too few patients for the splits;
            raised before any model is built.
    """
    from training.finetune.setup import build_start, locate_start

    validate_finetune(cfg)
    base, _, _ = locate_start(cfg)
    if base.input_size != cfg.input_size:
        cfg = replace(cfg, input_size=base.input_size)
    samples, labels = load_samples(cfg)
    samples, labels = align_to_model(samples, labels, base, cfg.heads)
    parts = split_items(samples, lambda s: s.patient, cfg.split)
    if not parts["train"] or not parts["test"]:
        raise ConfigError(
            None, f"{len({s.patient for s in samples})} patients are too few for train and test splits"
        )
    dist = dist or init_distributed(cfg.run.device)
    set_determinism(cfg.run.seed)
    start = build_start(cfg, labels)
    return _train(cfg, start, labels, parts, samples, dist, resume, progress, cancel)


def _train(
    cfg: FinetuneCfg,
    start: Any,
    labels: Mapping[str, tuple[str, ...]],
    parts: Mapping[str, list[LabelledSample]],
    samples: Sequence[LabelledSample],
    dist: DistInfo,
    resume: bool,
    progress: ProgressFn,
    cancel: CancelToken,
) -> FinetuneResult:
    from engine.checkpoint import load_encoder_checkpoint
    from engine.factory import create_model
    from training.finetune.lora import add_lora, merge_lora
    from training.finetune.module import FinetuneModule, cache_features
    from training.finetune.setup import load_matching

    model = create_model(start.cfg)
    if start.state is not None:
        load_matching(model, start.state)
    elif cfg.init_encoder:  # e.g. a pretraining run's encoder.safetensors, or the official .pth
        load_encoder_checkpoint(model, cfg.init_encoder)
    model = model.to(dist.device)
    spec = InputSpec.of_model(start.cfg, labels)
    sets = {k: PreparedSet(v or parts["train"][:1], spec, cfg.heads) for k, v in parts.items()}
    parent_test = None
    if start.parent is not None and all(
        h in start.parent.model.heads_by_name and start.parent.model.heads_by_name[h].labels == labels[h]
        for h in cfg.heads
    ):
        parent_test = _without_loss(evaluate_model(model, sets["test"], cfg.heads, labels))
    model.requires_grad_(False)  # heads not named in the config stay as they are
    model.encoder.requires_grad_(cfg.mode == "full")
    if cfg.mode == "heads" and cfg.feature_cache != "off":
        for data in sets.values():
            cache_features(data, model.encoder, dist.device, half=cfg.feature_cache == "float16")
    elif cfg.mode == "lora":
        add_lora(model.encoder, cfg.lora_rank)
    for name in cfg.heads:
        model.heads[name].requires_grad_(True)
    module = FinetuneModule(model, {h: dict(start.cfg.heads_by_name[h].params) for h in cfg.heads}).to(
        dist.device
    )
    has_val = bool(parts["val"])
    loop = TrainLoop(
        wrap(module, dist),
        sets["train"],
        optim=cfg.optim,
        run=cfg.run,
        dist=dist,
        collate=collate,
        evaluate=(lambda m: evaluate_model(m.model, sets["val"], cfg.heads, labels)) if has_val else None,
        order=balanced_order(parts["train"], cfg.run.seed)
        if cfg.balance and "classification" in cfg.heads
        else None,
        progress=progress,
        cancel=cancel,
    )
    result = loop.fit(resume=resume)
    merge_lora(unwrap(module).model.encoder)
    model = unwrap(module).model
    if result.status not in ("finished", "early_stopped"):
        return FinetuneResult(result.status, result, {}, parent_test, None, None, model.cpu())
    test = _without_loss(evaluate_model(model, sets["test"], cfg.heads, labels))
    verdict = gate(test, parent_test, cfg.heads, cfg.activate)
    card = None
    if dist.is_main:
        card = register_version(
            model,
            parent=start.parent,
            test=test,
            parent_test=parent_test,
            verdict=verdict,
            lineage=lineage_of(cfg, samples, parts["test"]),
            trained_on=f"fine-tuned on {len(parts['train'])} frames from {cfg.data.source}",
        )
    return FinetuneResult(result.status, result, test, parent_test, verdict, card, model.cpu())


def _without_loss(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k != "loss" and not math.isnan(v)}


# -- what the app uses of training: the app imports no other training module (pyproject.toml's
# import-linter contract holds it to that). Each import is made on first use, so the app starts
# without torch.

if TYPE_CHECKING:
    import argparse
    from collections.abc import Hashable
    from pathlib import Path

    import numpy as np

    from training.active import QueueItem
    from training.run_process import TrainingRun


def evaluate_versions(refs: Sequence[str], config: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Score stored versions on the frozen test split of ``config``'s data, each in its own label space.

    Args:
        refs: ``NAME@VERSION`` of each version.
        config: a fine-tuning config mapping (the heads and data to score on).

    Returns:
        ``{ref: {"<head>.<metric>": value}}``.
    """
    from engine import model_store
    from engine.config_files import from_dict
    from engine.factory import load_model

    out: dict[str, dict[str, float]] = {}
    for ref in refs:
        model_cfg = model_store.locate(ref)[1].model
        heads = tuple(h for h in from_dict(FinetuneCfg, dict(config)).heads if h in model_cfg.heads_by_name)
        cfg = from_dict(
            FinetuneCfg, {**dict(config), "heads": list(heads), "input_size": list(model_cfg.input_size)}
        )
        samples, labels = load_samples(cfg)
        samples, labels = align_to_model(samples, labels, model_cfg, heads)
        test = split_items(samples, lambda s: s.patient, cfg.split)["test"]
        model = load_model(ref, device="cpu").module
        data = PreparedSet(test, InputSpec.of_model(model.cfg), heads)
        out[ref] = _without_loss(evaluate_model(model, data, heads, labels))
    return out


def compare_versions(ref_a: str, ref_b: str) -> list[tuple[str, str, str]]:
    """(field, A, B) rows of two stored versions: lineage, gate and every metric.

    Raises:
        ModelError: a version does not exist.
    """
    from engine import model_store
    from training.versions import compare_rows

    return compare_rows(model_store.locate(ref_a)[1], model_store.locate(ref_b)[1])


def compare_text(ref_a: str, ref_b: str) -> str:
    """``echocare models compare A B``: two stored versions side by side as a text table."""
    from training.versions import compare_text as text

    return text(ref_a, ref_b)


def correct_next(
    keys: Sequence[Hashable],
    probs: Sequence[np.ndarray],
    features: np.ndarray,
    budget: int,
    labelled: Sequence[int] = (),
) -> list[QueueItem]:
    """The "correct these next" frames: most uncertain and least like the labelled ones, best first.

    Args:
        keys: one key per frame (returned in the items).
        probs: per frame, a segmentation softmax ``[K, H, W]``.
        features: ``[N, D]`` frame descriptors (pooled encoder features).
        budget: how many frames to return.
        labelled: indices of frames already corrected (never returned).
    """
    import numpy as np

    from training.active import queue, softmax_entropy

    uncertainty = np.concatenate([softmax_entropy(p[None]) for p in probs]) if len(probs) else np.zeros(0)
    return queue(keys, uncertainty, features, budget, labelled=labelled)


def start_training(config: Mapping[str, Any], run_dir: Path) -> TrainingRun:
    """Start fine-tuning ``config`` in its own process writing to ``run_dir``; poll the run it returns."""
    from training.run_process import start_run

    return start_run(config, run_dir)


def add_train_arguments(actions: Any) -> None:
    """Register ``pretrain``, ``finetune`` and ``compare`` on an argparse sub-parsers object."""
    from training.runner import add_arguments

    add_arguments(actions)


def run_train(args: argparse.Namespace) -> int:
    """Run the ``echocare train`` action ``args`` names; returns the exit status."""
    from training.runner import run

    return run(args)


def add_distill_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the distillation trainer's options to ``parser``."""
    from training.distill.cli import add_arguments

    add_arguments(parser)


def run_distill(args: argparse.Namespace) -> int:
    """Distil a student as ``args`` says; returns the exit status."""
    from training.distill.cli import run

    return run(args)
