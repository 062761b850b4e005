"""A small project of simulated lesion studies with human-final masks, and a fine-tuning config."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engine.config_files import to_dict
from engine.project.records import LabelRecord, MaskRecord
from engine.project.store import ProjectStore
from engine.provenance import Origin
from training.config import DataCfg, FinetuneCfg, OptimCfg, RunCfg, SplitCfg
from training.sim import SimConfig, simulate

LESION = 1
SIZE = 64


def make_project(folder: Path, studies: int = 10, labelled: int = 0) -> Path:
    """``studies`` single-frame lesion studies; the first ``labelled`` carry human-final masks."""
    store = ProjectStore(folder)
    store.set_labels([LabelRecord(LESION, "lesion", (255, 0, 0))])
    for i in range(studies):
        result = simulate("lesion", seed=i, cfg=SimConfig(height=SIZE, width=SIZE))
        path = folder / "studies" / f"case{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), result.frames[0])
        study = store.add_study(path, 1, SIZE, SIZE)
        if i < labelled:
            plane = (result.truth.masks[0] > 0).astype(np.uint8) * LESION
            store.save_study(study.id, [], {0: MaskRecord(0, plane, Origin.HUMAN_FINAL)})
    store.close()
    return folder


def truth_mask(i: int) -> np.ndarray:
    """The exact lesion mask of study ``i`` (label value ``LESION``)."""
    result = simulate("lesion", seed=i, cfg=SimConfig(height=SIZE, width=SIZE))
    return (result.truth.masks[0] > 0).astype(np.uint8) * LESION


def finetune_config(
    project: Path, epochs: int = 1, name: str = "loop-seg", model: str = "echocare_test"
) -> dict:
    """A tiny heads-only segmentation run on the project's human-final masks."""
    cfg = FinetuneCfg(
        model=model,
        name=name,
        heads=("segmentation",),
        input_size=(SIZE, SIZE),
        data=DataCfg(source="project", paths=(str(project),)),
        split=SplitCfg(test=0.3, val=0.0),
        head_params={"segmentation": {"width": 8}},
        optim=OptimCfg(lr=3e-3, batch_size=2),
        run=RunCfg(epochs=epochs, device="cpu", seed=0),
        activate="always",
    )
    return to_dict(cfg)


def store_tiny_model(name: str = "loop-seg") -> str:
    """Store an untrained tiny segmentation model for "lesion" as version 1; returns its ref."""
    from dataclasses import replace

    import torch

    from engine.config import HeadCfg
    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.model_store import save_version
    from engine.tasks.presets import all_heads_cfg

    head = HeadCfg("segmentation", "segmentation", ("lesion",), {"num_classes": 1, "width": 8})
    cfg = replace(all_heads_cfg(name=name, input_size=(SIZE, SIZE)), heads=(head,), measurements=())
    torch.manual_seed(0)
    card = save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    return f"{card.name}@{card.version}"


def npy_opener(path):
    """Read a ``.npy`` clip as a cine."""
    from engine.io.memory import ArrayCine

    return ArrayCine(np.load(path, allow_pickle=False), fps=25.0, path=str(path))
