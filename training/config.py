"""Typed training configuration: PretrainCfg and FinetuneCfg, parsed once from YAML or JSON.

Files are read by :func:`load_pretrain_cfg` / :func:`load_finetune_cfg`; every unknown key, wrong
type or impossible value ends in one :class:`~engine.errors.ConfigError` ``PATH: reason`` before
any work starts. Inside the package only these frozen dataclasses travel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config_files import from_dict, read_mapping
from engine.errors import ConfigError
from engine.heads.spec import load_kinds

AMP_MODES = ("auto", "off", "bf16", "fp16")
FINETUNE_MODES = ("heads", "lora", "full")
ACTIVATION_POLICIES = ("if_better", "always", "never")
FEATURE_CACHES = ("float32", "float16", "off")


@dataclass(frozen=True)
class OptimCfg:
    """Optimiser and batch settings.

    Attributes:
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up optimiser steps before the cosine decay.
        batch_size: samples per process and micro-batch.
        grad_accum: micro-batches per optimiser step.
        clip_grad: gradient-norm clip; 0 disables it.
        amp: "auto" (bf16, else fp16, on GPU; off on CPU), "off", "bf16" or "fp16" (GPU only).
    """

    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 0
    batch_size: int = 8
    grad_accum: int = 1
    clip_grad: float = 1.0
    amp: str = "auto"


@dataclass(frozen=True)
class RunCfg:
    """Where and how long a run goes, and how it saves itself.

    Attributes:
        out_dir: run folder (checkpoints, log, final weights).
        seed: seed of every random choice (init, data order, augmentation, masks).
        epochs: passes over the training split.
        max_steps: stop after this many optimiser steps; 0 means ``epochs`` decide.
        checkpoint_every: optimiser steps between checkpoints; 0 means only at epoch ends.
        keep_checkpoints: how many recent checkpoints to keep.
        patience: epochs without improvement before early stopping; 0 disables it.
        device: "auto", "cpu", "cuda" or "cuda:N".
        num_workers: data loader worker processes.
    """

    out_dir: str = "runs/run"
    seed: int = 0
    epochs: int = 1
    max_steps: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    patience: int = 0
    device: str = "auto"
    num_workers: int = 0


@dataclass(frozen=True)
class DataCfg:
    """Where training frames come from.

    Attributes:
        source: a registered data source: "folders" (DICOM, video and images read through
            ``engine.io``), "sim" (the ultrasound simulator) or "project" (a project's human-final labels).
        paths: folders (or a project folder) for "folders" and "project".
        frames_per_cine: frames sampled from each cine.
        count: number of samples for generated sources ("sim").
        scene: simulator scene for "sim" (empty: one that labels every chosen head).
        site: simulator site shift (``training.sim.site_shift`` arguments, e.g.
            {"gain_db": -6, "psf_scale": 1.6, "probe": "convex"}); empty is the reference site.
        seed: seed of generated data (independent of the run seed).
    """

    source: str = "folders"
    paths: tuple[str, ...] = ()
    frames_per_cine: int = 4
    count: int = 64
    scene: str = ""
    site: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass(frozen=True)
class TreeCfg:
    """The metadata label tree of the hierarchical classifier.

    Attributes:
        source: "folders" (one level per parent-folder name below the data root), "csv"
            (columns ``path`` plus one per level), "dicom" (one DICOM attribute per level) or "sim".
        levels: level names, coarse to fine, e.g. ("region", "organ", "probe").
        csv: the CSV file for source "csv".
        weight: weight of the classifier loss against the reconstruction loss.
    """

    source: str = "folders"
    levels: tuple[str, ...] = ()
    csv: str = ""
    weight: float = 0.5


@dataclass(frozen=True)
class MimCfg:
    """Masked image modelling with adaptive hard-patch mining and a progressive schedule.

    Attributes:
        mask_unit: side of one mask square in input pixels (a multiple of the encoder patch).
        mask_ratio: (start, end) share of mask squares hidden, ramped over ``ramp_steps``.
        hard_share: (start, end) share of the hidden squares chosen as the predicted hardest.
        ramp_steps: optimiser steps of the ramp; 0 ramps over the whole run.
        hpm_weight: weight of the loss-predictor's own loss.
    """

    mask_unit: int = 32
    mask_ratio: tuple[float, float] = (0.4, 0.6)
    hard_share: tuple[float, float] = (0.0, 0.5)
    ramp_steps: int = 0
    hpm_weight: float = 0.1


@dataclass(frozen=True)
class PretrainCfg:
    """One pretraining run (``echocare train pretrain``)."""

    arch: str = "echocare_swin_b"
    input_size: tuple[int, int] = (256, 256)
    data: DataCfg = DataCfg()
    tree: TreeCfg = TreeCfg()
    mim: MimCfg = MimCfg()
    optim: OptimCfg = OptimCfg()
    run: RunCfg = RunCfg()
    init: str = ""


@dataclass(frozen=True)
class SplitCfg:
    """Patient-level split by a stable hash: the test share never moves between runs.

    Attributes:
        test: share of patients in the frozen test split.
        val: share of patients in the validation split (early stopping).
        salt: hashing salt; changing it makes a new, different test split.
    """

    test: float = 0.2
    val: float = 0.1
    salt: str = "echocare-split-v1"


@dataclass(frozen=True)
class FinetuneCfg:
    """One fine-tuning run (``echocare train finetune``).

    Attributes:
        model: the starting point: a model-store reference "NAME" (its active version) or
            "NAME@VERSION", or an encoder variant (e.g. "echocare_test") to start from random weights.
        heads: the heads to train, head kinds (``engine.heads.kinds``; the interactive prompt head too).
        mode: "heads" (frozen encoder, cached features), "lora" (low-rank adapters on the q and v
            parts of every attention qkv) or "full".
        lora_rank: LoRA rank r (delta = B A, folded into qkv when the version is stored).
        init_encoder: optional encoder weights (e.g. a pretraining run's encoder.safetensors)
            loaded before training when ``model`` is an encoder variant.
        balance: sample classes in inverse proportion to their frequency (classification).
        name: store name of the new version; empty means the starting model's name.
        activate: "if_better" (activate unless worse than the parent on the test split),
            "always" or "never".
        head_params: per-head constructor overrides, e.g. {"segmentation": {"num_classes": 2}}.
        feature_cache: heads-only mode keeps encoder features per frame as "float32", "float16"
            (half the memory) or "off" (the frozen encoder runs every step; for data too large to cache).
    """

    model: str = "echocare_test"
    heads: tuple[str, ...] = ("segmentation",)
    mode: str = "heads"
    lora_rank: int = 4
    init_encoder: str = ""
    input_size: tuple[int, int] = (256, 256)
    data: DataCfg = DataCfg(source="sim")
    split: SplitCfg = SplitCfg()
    balance: bool = True
    optim: OptimCfg = OptimCfg()
    run: RunCfg = RunCfg()
    name: str = ""
    activate: str = "if_better"
    head_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    feature_cache: str = "float32"


# --------------------------------------------------------------------------------------------
# validation (pure checks on values; data-dependent checks live with the data sources)


def _check_common(optim: OptimCfg, run: RunCfg, input_size: tuple[int, int], src: str) -> None:
    if optim.lr <= 0:
        raise ConfigError(src, "optim.lr must be positive")
    if optim.batch_size < 1 or optim.grad_accum < 1:
        raise ConfigError(src, "optim.batch_size and optim.grad_accum must be at least 1")
    if optim.amp not in AMP_MODES:
        raise ConfigError(src, f"optim.amp must be one of {', '.join(AMP_MODES)}")
    if run.epochs < 1 and run.max_steps < 1:
        raise ConfigError(src, "run.epochs or run.max_steps must be at least 1")
    if any(s % 32 or s < 32 for s in input_size):
        raise ConfigError(src, f"input_size {list(input_size)} must be multiples of 32")


def _check_data_paths(data: DataCfg, src: str) -> None:
    if data.source in ("folders", "project"):
        if not data.paths:
            raise ConfigError(src, f"data.paths is empty (data.source is {data.source!r})")
        for p in data.paths:
            if not Path(p).is_dir():
                raise ConfigError(p, "data folder does not exist")


def validate_pretrain(cfg: PretrainCfg, src: str = "<config>") -> PretrainCfg:
    """Check a PretrainCfg; returns it unchanged or raises ConfigError."""
    _check_common(cfg.optim, cfg.run, cfg.input_size, src)
    _check_data_paths(cfg.data, src)
    lo, hi = cfg.mim.mask_ratio
    if not (0 < lo <= 1 and 0 < hi <= 1):
        raise ConfigError(src, "mim.mask_ratio values must be in (0, 1]")
    if any(not 0 <= s <= 1 for s in cfg.mim.hard_share):
        raise ConfigError(src, "mim.hard_share values must be in [0, 1]")
    if any(s % cfg.mim.mask_unit for s in cfg.input_size):
        raise ConfigError(src, "input_size must be a multiple of mim.mask_unit")
    if cfg.tree.source == "csv" and not Path(cfg.tree.csv).is_file():
        raise ConfigError(cfg.tree.csv or src, "tree.csv file does not exist")
    return cfg


def _kinds() -> tuple[str, ...]:
    return tuple(spec.kind for spec in load_kinds())


def validate_finetune(cfg: FinetuneCfg, src: str = "<config>") -> FinetuneCfg:
    """Check a FinetuneCfg; returns it unchanged or raises ConfigError."""
    _check_common(cfg.optim, cfg.run, cfg.input_size, src)
    _check_data_paths(cfg.data, src)
    if not cfg.heads:
        raise ConfigError(src, "heads is empty: choose at least one of " + ", ".join(_kinds()))
    for h in cfg.heads:
        if h not in _kinds():
            raise ConfigError(src, f"unknown head {h!r} (known: {', '.join(_kinds())})")
    unknown = sorted(set(cfg.head_params) - set(cfg.heads))
    if unknown:
        raise ConfigError(src, f"head_params names {unknown[0]!r}, which is not in heads")
    if cfg.mode not in FINETUNE_MODES:
        raise ConfigError(src, f"mode must be one of {', '.join(FINETUNE_MODES)}")
    if cfg.mode == "lora" and cfg.lora_rank < 1:
        raise ConfigError(src, "lora_rank must be at least 1")
    if cfg.feature_cache not in FEATURE_CACHES:
        raise ConfigError(src, f"feature_cache must be one of {', '.join(FEATURE_CACHES)}")
    if cfg.activate not in ACTIVATION_POLICIES:
        raise ConfigError(src, f"activate must be one of {', '.join(ACTIVATION_POLICIES)}")
    if not (0 < cfg.split.test < 1 and 0 <= cfg.split.val < 1 and cfg.split.test + cfg.split.val < 1):
        raise ConfigError(src, "split.test and split.val must be shares that leave a training split")
    return cfg


def load_pretrain_cfg(path: str | Path, overrides: Mapping[str, Any] | None = None) -> PretrainCfg:
    """Read and validate a pretraining config file (YAML or JSON)."""
    data = _merge(read_mapping(path), overrides or {})
    return validate_pretrain(from_dict(PretrainCfg, data, str(path)), str(path))


def load_finetune_cfg(path: str | Path, overrides: Mapping[str, Any] | None = None) -> FinetuneCfg:
    """Read and validate a fine-tuning config file (YAML or JSON)."""
    data = _merge(read_mapping(path), overrides or {})
    return validate_finetune(from_dict(FinetuneCfg, data, str(path)), str(path))


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` (e.g. command-line ``run.out_dir=...``) into ``base``."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out
