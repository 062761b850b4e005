"""Qt-free state and work of the correct -> fine-tune -> compare -> roll back loop.

* :class:`TrainChoice` is what the training panel sets; :func:`snapshot_data` copies the chosen
  studies' human-final masks of the chosen labels into ``<project>/runs/data`` (a project of its
  own, so the run reads exactly that choice and the project can be edited meanwhile), and
  :func:`build_config` turns both into a fine-tuning config for ``training.run_process``.
* :func:`version_rows`, :func:`activate` and :func:`rollback` wrap ``engine.model_store``.
* :func:`segment_frames` runs one version's segmentation on frames (for the split-view compare,
  the "correct these next" ranking and its uncertainty); :func:`evaluate_versions` scores
  versions on the frozen test split of the current data.

Torch and the training package are imported inside the functions that need them, so the GUI
starts without them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.project.records import MaskRecord
from engine.project.store import ProjectStore
from engine.provenance import Origin

if TYPE_CHECKING:
    from app.model.document import Document

HEADS = ("segmentation", "classification")
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


@dataclass(frozen=True)
class VersionRow:
    """One model version as the versions panel lists it."""

    ref: str
    name: str
    version: str
    parent: str
    active: bool
    bundled: bool
    created: str
    mode: str
    metrics: Mapping[str, float]
    gate: str
    heads: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """The test Dice (or the first test metric) as short text."""
        keys = sorted(k for k in self.metrics if k.startswith("test."))
        key = next((k for k in keys if k.endswith(".dice")), keys[0] if keys else None)
        return "-" if key is None else f"{key[5:]} {self.metrics[key]:.3f}"


def version_rows() -> list[VersionRow]:
    """Every stored version (bundled first), with lineage, metrics and which one is active."""
    from engine import model_store

    rows = []
    for card in model_store.list_cards():
        folder = model_store.user_root() / card.name / card.version
        bundled = not folder.is_dir()
        active = not bundled and model_store.active_version(card.name) == card.version
        rows.append(
            VersionRow(
                ref=f"{card.name}@{card.version}",
                name=card.name,
                version=card.version,
                parent=card.lineage.parent or "",
                active=active,
                bundled=bundled,
                created=card.created,
                mode=card.lineage.mode,
                metrics=dict(card.metrics),
                gate=card.lineage.gate,
                heads=tuple(h.name for h in card.heads),
            )
        )
    return rows


def activate(ref: str) -> None:
    """Make ``NAME@VERSION`` the active version of its model."""
    from engine import model_store

    name, _, version = ref.partition("@")
    model_store.activate_version(name, version)


def rollback(name: str) -> str:
    """One step back: activate the active version's parent; returns ``NAME@VERSION`` now active."""
    from engine import model_store

    return f"{name}@{model_store.rollback(name)}"


def compare_rows(ref_a: str, ref_b: str) -> list[tuple[str, str, str]]:
    """(field, A, B) rows: lineage, gate and every metric of two versions."""
    from engine import model_store
    from training.versions import compare_rows as rows

    return rows(model_store.locate(ref_a)[1], model_store.locate(ref_b)[1])


@dataclass(frozen=True)
class Segmentation:
    """One version's segmentation of some frames, in original frame pixels.

    Attributes:
        frames: the frame indices.
        probs: per frame, softmax ``[K, H, W]`` (0 = background, i + 1 = labels[i]).
        labels: the head's label names.
        features: per frame, pooled encoder features ``[C]`` (the 1/16 level).
    """

    frames: tuple[int, ...]
    probs: tuple[np.ndarray, ...]
    labels: tuple[str, ...]
    features: np.ndarray

    def planes(self, label_ids: Mapping[str, int]) -> dict[int, np.ndarray]:
        """Label planes ``{frame: [H, W] uint8}`` with project label ids (unknown names: 0)."""
        lut = np.zeros(len(self.labels) + 1, np.uint8)
        for i, name in enumerate(self.labels):
            lut[i + 1] = label_ids.get(name, 0)
        return {f: lut[p.argmax(0)] for f, p in zip(self.frames, self.probs, strict=True)}


def segment_frames(
    ref: str, images: Sequence[np.ndarray], frames: Sequence[int], cancel: Any = None
) -> Segmentation:
    """Run version ``ref``'s encoder and segmentation head on ``images`` (CPU or GPU).

    Raises:
        ModelError: the version is missing or has no segmentation head.
    """
    import torch

    from engine.errors import ModelError
    from engine.factory import load_model
    from engine.transforms.preprocess import preprocess

    loaded = load_model(ref)
    model, cfg = loaded.module, loaded.cfg
    if "segmentation" not in model.head_names:
        raise ModelError(ref, "this version has no segmentation head")
    probs, pooled = [], []
    with torch.no_grad():
        for image in images:
            if cancel is not None:
                cancel.raise_if_cancelled()
            prep = preprocess(image, cfg)
            x = torch.from_numpy(prep.image[None]).float().to(loaded.device)
            feats = model.encoder(x)
            logits = model.heads["segmentation"](feats, x)["logits"][0]
            probs.append(prep.geometry.scores_to_original(logits.softmax(0).float().cpu().numpy()))
            pooled.append(feats[3][0].float().mean((1, 2)).cpu().numpy())
    labels = tuple(cfg.heads_by_name["segmentation"].labels)
    return Segmentation(tuple(frames), tuple(probs), labels, np.stack(pooled))


def evaluate_versions(refs: Sequence[str], config: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Score versions on the frozen test split of ``config``'s data, each in its own label space.

    Returns:
        ``{ref: {"<head>.<metric>": value}}``.
    """
    import math

    from engine import model_store
    from engine.factory import load_model
    from training.api import evaluate_model, load_samples
    from training.config import FinetuneCfg, from_dict
    from training.data.splits import split_items
    from training.finetune.remap import align_to_model
    from training.finetune.samples import InputSpec, PreparedSet

    base = from_dict(FinetuneCfg, dict(config))
    out: dict[str, dict[str, float]] = {}
    for ref in refs:
        card = model_store.locate(ref)[1]
        heads = tuple(h for h in base.heads if h in card.cfg().heads_by_name)
        cfg = from_dict(
            FinetuneCfg, {**dict(config), "heads": list(heads), "input_size": list(card.cfg().input_size)}
        )
        samples, labels = load_samples(cfg)
        samples, labels = align_to_model(samples, labels, card.cfg(), heads)
        test = split_items(samples, lambda s: s.patient, cfg.split)["test"]
        model = load_model(ref, device="cpu").module
        data = PreparedSet(test, InputSpec.of_model(model.cfg), heads)
        scores = evaluate_model(model, data, heads, labels)
        out[ref] = {k: v for k, v in scores.items() if k != "loss" and not math.isnan(v)}
    return out


TRACKED = ("box", "landmark")
Track = tuple[str, int, str]


def track_keyframes(doc: Document, here: int) -> dict[Track, dict[int, np.ndarray]]:
    """Human-final boxes and landmarks, per track (kind, label, name) that has one on frame ``here``.

    Returns:
        ``{track: {frame: points [P, 2]}}`` over every frame where a person placed that track.
    """
    out: dict[Track, dict[int, np.ndarray]] = {}
    for a in doc.annotations.values():
        if a.kind in TRACKED and a.origin == Origin.HUMAN_FINAL and a.frame >= 0:
            out.setdefault((a.kind, a.label_id, a.name), {})[a.frame] = np.asarray(a.points, np.float32)
    return {k: v for k, v in out.items() if here in v}


def track_span(keys: Mapping[int, Any], here: int, n_frames: int) -> tuple[int, int]:
    """Frames ``[first, last]`` holding the span ``here`` affects, with its bounding keyframes."""
    before = [k for k in keys if k < here]
    after = [k for k in keys if k > here]
    return (max(before) if before else 0, min(after) if after else n_frames - 1)


def propagate_tracks(
    images: Sequence[np.ndarray], first: int, tracks: Mapping[Track, Mapping[int, np.ndarray]], here: int
) -> dict[Track, dict[int, np.ndarray]]:
    """Points of each track on the frames of the span ``here`` affects (``images`` start at ``first``)."""
    from engine.tasks.propagate import affected_span, propagate_points

    out = {}
    for track, keys in tracks.items():
        lo, hi = affected_span(here, sorted(keys), len(images) + first)
        a, b = track_span(keys, here, len(images) + first)
        local = {f - first: p for f, p in keys.items() if a <= f <= b}
        moved = propagate_points(
            images[a - first : b - first + 1], {f - (a - first): p for f, p in local.items()}
        )
        out[track] = {f + a: p for f, p in moved.items() if lo <= f + a < hi}
    return out


def track_commands(doc: Document, tracks: Mapping[Track, Mapping[int, np.ndarray]]) -> list[Any]:
    """Commands replacing each track's drafts on the propagated frames with new pending drafts."""
    from app.model.annotations import Annotation, Review
    from app.model.commands import PutAnnotation, RemoveAnnotation

    cmds: list[Any] = []
    for (kind, label, name), frames in tracks.items():
        for a in list(doc.annotations.values()):
            same = (a.kind, a.label_id, a.name) == (kind, label, name)
            if same and a.frame in frames and a.origin == Origin.AI_DRAFT:
                cmds.append(RemoveAnnotation(a, "propagate"))
        for f, pts in sorted(frames.items()):
            points = tuple((float(x), float(y)) for x, y in pts)
            new = Annotation(kind, f, label, points, None, name, Origin.AI_DRAFT, None, Review.PENDING)
            cmds.append(PutAnnotation(new, None, "propagate"))
    return cmds
