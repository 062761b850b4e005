"""What a fine-tuning run reads and how it starts.

:class:`TrainChoice` is what the training panel sets; :func:`snapshot_data` copies the chosen
studies' human-final masks of the chosen labels into ``<project>/runs/data`` (a project of its
own, so the run reads exactly that choice and the project can be edited meanwhile);
:func:`build_config` turns both into a fine-tuning config, and :func:`start_run` starts it in its
own process (``training.api.start_training``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.project.records import MaskRecord
from engine.project.store import ProjectStore
from engine.provenance import Origin

if TYPE_CHECKING:
    from training.api import TrainingRun

HEADS = ("segmentation", "classification", "prompt")  # what a project's human-final labels can train
MODES = {"heads": "heads only", "lora": "LoRA", "full": "full"}
RUNS = "runs"
CHECKPOINT_EVERY = 25  # optimiser steps a killed run can lose at most
DATA = "data"


@dataclass(frozen=True)
class TrainChoice:
    """One fine-tuning run as the training panel sets it up.

    Attributes:
        model: the starting point: a stored model (its active version, or ``NAME@VERSION``) or
            an encoder variant such as "echocare_test" (random weights).
        name: the store name of the new version (empty: the starting model's name).
        heads: heads to train.
        mode: "heads", "lora" or "full".
        study_ids: studies whose human-final labels are used.
        label_ids: mask labels used (others are treated as background).
        epochs: passes over the training split.
        max_steps: stop after this many optimiser steps (0: the epochs decide).
        batch_size: frames per optimiser step.
        lr: peak learning rate.
        input_size: model input size when starting from an encoder variant.
        test_share: share of studies in the frozen test split.
        val_share: share of studies in the validation split (per-epoch metrics).
        activate: "if_better", "always" or "never".
        head_params: per-head constructor overrides for new heads.
    """

    model: str
    name: str = ""
    heads: tuple[str, ...] = ("segmentation",)
    mode: str = "heads"
    study_ids: tuple[int, ...] = ()
    label_ids: tuple[int, ...] = ()
    epochs: int = 3
    max_steps: int = 0
    batch_size: int = 4
    lr: float = 1e-3
    input_size: tuple[int, int] = (256, 256)
    test_share: float = 0.3
    val_share: float = 0.0
    activate: str = "if_better"
    head_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def human_final_frames(store: ProjectStore) -> dict[int, int]:
    """Number of human-final mask frames per study id."""
    return {
        s.id: sum(1 for m in store.masks(s.id).values() if m.origin == Origin.HUMAN_FINAL)
        for s in store.studies()
    }


def runs_root(store: ProjectStore) -> Path:
    """The project's folder of training runs and their data snapshots."""
    return Path(store.folder) / RUNS


def new_run_dir(store: ProjectStore) -> Path:
    """A fresh, time-stamped run folder under :func:`runs_root` (not created)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = runs_root(store) / f"run-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def snapshot_data(store: ProjectStore, choice: TrainChoice) -> Path:
    """Copy the chosen studies' human-final masks (chosen labels only) into a data project.

    The snapshot lives at a fixed depth under the project, so every study's path relative to
    it (its patient id, which fixes its split) is the same for every run.

    Returns:
        the snapshot project folder.
    """
    dest = runs_root(store) / DATA
    shutil.rmtree(dest, ignore_errors=True)
    snap = ProjectStore(dest)
    try:
        keep = set(choice.label_ids) or {lab.id for lab in store.labels()}
        snap.set_labels([lab for lab in store.labels() if lab.id in keep])
        lut = np.zeros(256, np.uint8)
        for i in keep:
            lut[i] = i
        for study in store.studies():
            if choice.study_ids and study.id not in choice.study_ids:
                continue
            masks = {
                f: MaskRecord(f, lut[m.plane], Origin.HUMAN_FINAL)
                for f, m in store.masks(study.id).items()
                if m.origin == Origin.HUMAN_FINAL
            }
            if masks:
                copy = snap.add_study(store.resolve(study), study.frames, study.rows, study.columns)
                snap.save_study(copy.id, [], masks)
    finally:
        snap.close()
    return dest


def build_config(choice: TrainChoice, data: Path) -> dict[str, Any]:
    """The fine-tuning config (``training.config`` keys) of ``choice`` over the snapshot ``data``."""
    return {
        "model": choice.model,
        "name": choice.name,
        "heads": list(choice.heads),
        "mode": choice.mode,
        "input_size": list(choice.input_size),
        "data": {"source": "project", "paths": [str(data)]},
        "split": {"test": choice.test_share, "val": choice.val_share},
        "head_params": {k: dict(v) for k, v in choice.head_params.items()},
        "optim": {"batch_size": choice.batch_size, "lr": choice.lr},
        "run": {
            "epochs": choice.epochs,
            "max_steps": choice.max_steps,
            "checkpoint_every": CHECKPOINT_EVERY,
            "device": "auto",
            "seed": 0,
        },
        "activate": choice.activate,
    }


def start_run(store: ProjectStore, choice: TrainChoice) -> tuple[dict[str, Any], TrainingRun]:
    """Snapshot the chosen data and start fine-tuning it in its own process.

    Returns:
        the run's config (for scoring versions on its frozen test split later) and the run.
    """
    from training.api import start_training

    config = build_config(choice, snapshot_data(store, choice))
    return config, start_training(config, new_run_dir(store))
