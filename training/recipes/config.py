"""Typed configuration of the demo-model recipe (``configs/demo.yaml``), parsed once at the edge.

The recipe pretrains an encoder with masked image modelling on simulated frames, then trains
all seven heads on simulated scenes with exact labels: first with the encoder frozen, then the
whole model, then (``polish``) the heads again on the final, frozen encoder. Every random
choice derives from ``seed``; the held-out test set uses ``test_seed``, whose simulator seeds
never meet the training ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import TASK_NAMES
from engine.config_files import from_dict, read_mapping
from engine.errors import ConfigError

SCENES = ("lesion", "vessels", "organs", "fetal_head", "cardiac", "enhance")


@dataclass(frozen=True)
class DataRecipe:
    """The simulated training set, rendered once and kept in memory at the model input size.

    Attributes:
        per_scene: training frames per scene (cardiac frames come ``cardiac_frames`` per cine).
        sizes: render sizes (H, W) used in turn; frames are letterboxed to the model input
            exactly as ``echocare infer`` does, so non-square renders teach the wide samples.
        cardiac_frames: frames taken from each simulated cardiac cine.
        pretrain_frames: frames (all scenes in turn) for masked image modelling.
        randomised: share of the simulations rendered under domain randomisation
            (``training.sim.domain``, ranges in docs/simulator.md); 0 keeps every scene on
            its natural probe at ``sizes``.
        domain: ranges of the randomisation that differ from the defaults, by field of
            ``training.sim.domain.DomainRanges`` (e.g. ``lesion_echo: {iso: 1, hypo: 1}``);
            checked by ``training.sim.domain.ranges_with``.
    """

    per_scene: Mapping[str, int] = field(default_factory=dict)
    sizes: tuple[tuple[int, int], ...] = ((256, 256),)
    cardiac_frames: int = 8
    pretrain_frames: int = 256
    randomised: float = 0.0
    domain: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseRecipe:
    """One training phase.

    Attributes:
        steps: optimiser steps (fixed, so a rerun with the same seed does the same work).
        batch_size: frames per micro-batch; one scene per micro-batch.
        grad_accum: micro-batches per optimiser step, so one step mixes that many scene
            batches (every head's gradient in one update instead of one scene's at a time).
        lr: peak AdamW learning rate (linear warm-up, cosine decay).
        warmup_steps: warm-up steps.
        weight_decay: AdamW weight decay.
        scene_weights: how often each scene's batch comes up in this phase; empty: the
            recipe's ``scene_weights``.
        heads: the heads this phase trains (the others keep their weights); empty: all.
        stop_after: end the phase after this many of its ``steps`` (its learning-rate schedule
            still spans ``steps``); 0: train them all. It repeats a run that a deadline
            (``max_minutes``) stopped: the card records the step it stopped at.
    """

    steps: int = 0
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-3
    warmup_steps: int = 0
    weight_decay: float = 0.01
    scene_weights: Mapping[str, float] = field(default_factory=dict)
    heads: tuple[str, ...] = ()
    stop_after: int = 0


@dataclass(frozen=True)
class MimRecipe(PhaseRecipe):
    """Masked-image-modelling pretraining (``training.ssl``) with its mask settings."""

    mask_unit: int = 16
    mask_ratio: tuple[float, float] = (0.4, 0.6)
    hard_share: tuple[float, float] = (0.0, 0.5)


@dataclass(frozen=True)
class EvalRecipe:
    """The held-out simulated test set, rendered at ``size`` with seeds from ``test_seed``.

    Attributes:
        per_scene: test frames per scene (lesion, vessels, organs, fetal_head, enhance).
        cardiac_cines: whole cardiac cines for the ejection fraction.
        cardiac_cine_frames: frames per test cine; 72 holds a full ED-to-ED cycle (the EF rule)
            wherever the cine starts, at the simulator's slowest heart (36 frames a beat).
        size: render size (H, W); landmark errors are reported in these pixels.
    """

    per_scene: int = 64
    cardiac_cines: int = 8
    cardiac_cine_frames: int = 72
    size: tuple[int, int] = (256, 256)


@dataclass(frozen=True)
class HeadStage:
    """A head added after the demo recipe on its frozen encoder (``training.recipes.exam`` or
    ``training.recipes.prompt``), with the settings that differ from that recipe's defaults.

    Attributes:
        randomised: share of its simulations under domain randomisation.
        steps: training steps of the prompt head (0: the prompt recipe's own).
        quick: start from that recipe's smoke settings (tiny counts; tests and try-outs).
    """

    randomised: float = 0.0
    steps: int = 0
    quick: bool = False


@dataclass(frozen=True)
class DemoRecipe:
    """The whole recipe.

    Attributes:
        name: store name of the produced model.
        version: its version in the store (a new release of the recipe gets a new one).
        arch: encoder variant (``engine.models.echocare.ENCODERS``).
        input_size: (H, W) every head runs at.
        seed: seed of data order, initialisation and masks; training scenes use simulator
            seeds ``seed * 1_000_003 + i``.
        test_seed: seed of the held-out test scenes (``test_seed * 1_000_003 + i``).
        max_minutes: wall-clock safety stop for the training phases; 0 disables it. A stop
            is recorded in the model card (the step counts then differ from the config).
        threads: torch CPU threads (0: torch's default). Results can depend on it.
        head_width: width of the dense heads (segmentation decoder; detection and landmark
            towers are twice as wide).
        scene_weights: how often each scene's batch comes up in the fine-tuning phases.
        loss_weights: weight of each head's loss.
        report_len: longest report sentence in words.
        data, pretrain, heads, full, eval: the parts above.
        polish: a last heads-only phase (encoder frozen again) after ``full``: the heads that
            get few batches in the shared phases (detection) converge on the final features.
        device: where the training phases run: ``"cpu"``, ``"cuda"`` (mixed precision) or
            ``"auto"`` (a GPU when there is one). Data rendering and the test stay on the CPU.
        exam, prompt: when given, the exam head (with its out-of-distribution statistics and
            calibration) and then the prompt head are added to the tested model in the same
            run, so one command gives the whole model; the last stage's folder is the result.
        classification_head: settings of the classification head beside v1's and v2's
            (``engine.heads.classification.ClassificationHead``): ``levels``, the encoder
            levels it pools (default the deepest, 4), and ``standardise``, batch-normalised
            pooled features. A level whose pooled vector hardly varies between images (a
            collapsed level) leaves a plain head nothing to separate the classes by.
        start_from: a model folder or store name whose weights the model starts from instead
            of a fresh initialisation (its encoder and every head of the same shape; its report
            vocabulary is kept, so the report head carries over); MIM pretraining is then
            skipped. Empty: a fresh model.
    """

    name: str = "echocare-demo"
    version: str = "1"
    arch: str = "echocare_small"
    input_size: tuple[int, int] = (128, 128)
    seed: int = 0
    test_seed: int = 9001
    max_minutes: float = 0.0
    threads: int = 0
    head_width: int = 16
    scene_weights: Mapping[str, float] = field(default_factory=dict)
    loss_weights: Mapping[str, float] = field(default_factory=dict)
    report_len: int = 32
    data: DataRecipe = DataRecipe()
    pretrain: MimRecipe = MimRecipe()
    heads: PhaseRecipe = PhaseRecipe()
    full: PhaseRecipe = PhaseRecipe()
    polish: PhaseRecipe = PhaseRecipe()
    eval: EvalRecipe = EvalRecipe()
    device: str = "cpu"
    exam: HeadStage | None = None
    prompt: HeadStage | None = None
    classification_head: Mapping[str, Any] = field(default_factory=dict)
    start_from: str = ""


def _check_classification_head(head: Mapping[str, Any], src: str) -> None:
    if set(head) - {"levels", "standardise"}:
        raise ConfigError(src, f"classification_head takes levels and standardise, not {sorted(set(head))}")
    levels = head.get("levels", [4])
    if not isinstance(levels, list | tuple) or not levels or any(lv not in range(5) for lv in levels):
        raise ConfigError(src, f"classification_head.levels {levels} must be encoder levels 0-4")
    if not isinstance(head.get("standardise", False), bool):
        raise ConfigError(src, "classification_head.standardise must be true or false")


def _check_phases(cfg: DemoRecipe, src: str) -> None:
    phases = {"heads": cfg.heads, "full": cfg.full, "polish": cfg.polish}
    named = (*cfg.data.per_scene, *cfg.scene_weights, *(k for p in phases.values() for k in p.scene_weights))
    for key in named:
        if key not in SCENES:
            raise ConfigError(src, f"unknown scene {key!r} (known: {', '.join(SCENES)})")
    unknown = [h for p in phases.values() for h in p.heads if h not in TASK_NAMES]
    if unknown:
        raise ConfigError(src, f"unknown head {unknown[0]!r} (known: {', '.join(TASK_NAMES)})")
    if cfg.pretrain.stop_after:
        raise ConfigError(src, "pretrain.stop_after is not supported (heads, full and polish take it)")
    for key, p in phases.items():
        if not 0 <= p.stop_after <= p.steps:
            msg = f"{key}.stop_after {p.stop_after} must be between 0 and {key}.steps ({p.steps})"
            raise ConfigError(src, msg)


def _check(cfg: DemoRecipe, src: str) -> DemoRecipe:
    _check_phases(cfg, src)
    if any(s % 32 or s < 32 for s in cfg.input_size):
        raise ConfigError(src, f"input_size {list(cfg.input_size)} must be multiples of 32")
    if any(s % cfg.pretrain.mask_unit for s in cfg.input_size):
        raise ConfigError(src, "input_size must be a multiple of pretrain.mask_unit")
    if any(cfg.data.per_scene.get(s, 0) < 2 for s in SCENES):
        raise ConfigError(src, "data.per_scene needs at least 2 frames of every scene")
    shares = {"data": cfg.data, "exam": cfg.exam, "prompt": cfg.prompt}
    for key, part in shares.items():
        if part is not None and not 0.0 <= part.randomised <= 1.0:
            raise ConfigError(src, f"{key}.randomised {part.randomised} must be a share between 0 and 1")
    if cfg.eval.cardiac_cines < 1 or cfg.eval.per_scene < 2:
        raise ConfigError(src, "eval needs at least 2 frames per scene and 1 cardiac cine")
    _check_classification_head(cfg.classification_head, src)
    from training.sim.domain import ranges_with

    try:
        ranges_with(cfg.data.domain)
    except ValueError as err:
        raise ConfigError(
            src, f"data.{err}" if str(err).startswith("domain") else f"data.domain: {err}"
        ) from None
    if cfg.seed == cfg.test_seed:
        raise ConfigError(src, "test_seed must differ from seed (the test scenes are held out)")
    return cfg


def load_recipe(path: str | Path, overrides: Mapping[str, Any] | None = None) -> DemoRecipe:
    """Read and check a recipe file (YAML or JSON); unknown keys end in ConfigError."""
    data = read_mapping(path)
    for key, value in (overrides or {}).items():
        data[key] = value
    return _check(from_dict(DemoRecipe, data, str(path)), str(path))
