"""Fine-tuning reads a project's human-final labels and never its AI drafts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.project.records import LabelRecord, MaskRecord
from engine.project.store import ProjectStore
from engine.provenance import ModelRef, Origin
from training.api import finetune, load_samples
from training.config import DataCfg, FinetuneCfg, OptimCfg, RunCfg, SplitCfg
from training.sim import SimConfig, simulate


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    store = ProjectStore(folder)
    store.set_labels([LabelRecord(7, "lesion", (255, 0, 0))])
    for i in range(14):
        result = simulate("lesion", seed=i, cfg=SimConfig(height=64, width=64))
        path = folder / "studies" / f"case{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), result.frames[0])
        study = store.add_study(path, 1, 64, 64)
        plane = (result.truth.masks[0] > 0).astype(np.uint8) * 7
        if i < 12:
            mask = MaskRecord(0, plane, Origin.HUMAN_FINAL)
        else:  # an unreviewed model draft: never a training label
            mask = MaskRecord(0, plane, Origin.AI_DRAFT, ModelRef("echocare-demo", "1"), "pending")
        store.save_study(study.id, [], {0: mask})
    store.close()
    return folder


def _cfg(project, tmp_path) -> FinetuneCfg:
    return FinetuneCfg(
        model="echocare_test",
        name="project-seg",
        heads=("segmentation",),
        input_size=(64, 64),
        data=DataCfg(source="project", paths=(str(project),)),
        split=SplitCfg(test=0.25, val=0.0),
        head_params={"segmentation": {"width": 8}},
        optim=OptimCfg(lr=3e-3, batch_size=4),
        run=RunCfg(out_dir=str(tmp_path / "run"), epochs=1, device="cpu"),
    )


def test_human_final_masks_only(project, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    samples, labels = load_samples(_cfg(project, tmp_path))
    assert labels == {"segmentation": ("lesion",)}
    assert len(samples) == 12
    assert {s.patient for s in samples} == {f"studies/case{i:02d}.png" for i in range(12)}
    for s in samples:  # project label id 7 becomes head class 1
        assert set(np.unique(s.targets["segmentation"])) <= {0, 1}
    result = finetune(_cfg(project, tmp_path))
    assert result.card is not None and result.card.model.heads[0].labels == ("lesion",)
    assert "segmentation.dice" in result.test


def test_a_head_the_project_cannot_label_is_refused(project, tmp_path):
    from dataclasses import replace

    from engine.errors import ConfigError

    cfg = replace(_cfg(project, tmp_path), heads=("segmentation", "landmarks"))
    with pytest.raises(ConfigError, match="no labels for head 'landmarks'"):
        load_samples(cfg)


def test_a_samples_spacing_is_x_then_y_at_the_scale_its_labels_share():
    from engine.io.calibration import Calibration, Region
    from training.finetune.sources import frame_spacing

    tissue = Region(0, 0, 39, 29, 0.02, 0.05, "mm", "mm", "tissue")  # mm per pixel across, down
    regions = Calibration(regions=(tissue,), source="regions")
    plane = np.zeros((30, 60), np.uint8)
    plane[5:10, 5:10] = 7
    assert frame_spacing(regions, plane.shape, plane) == (0.02, 0.05)
    plane[5:10, 45:50] = 7  # labelled pixels outside the region: no one scale
    assert frame_spacing(regions, plane.shape, plane) is None
    assert frame_spacing(regions, plane.shape, None) is None  # the whole frame spans no one region
    spacing = Calibration(pixel_spacing=(0.5, 0.2), source="pixel_spacing")  # (row, column)
    assert frame_spacing(spacing, (30, 60), None) == (0.2, 0.5)
    assert frame_spacing(Calibration(), (30, 60), None) is None


def test_accepted_masks_teach_the_prompt_head_with_the_others(project, tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    cfg = replace(
        _cfg(project, tmp_path),
        heads=("segmentation", "prompt"),
        head_params={"segmentation": {"width": 8}, "prompt": {"width": 8}},
    )
    samples, labels = load_samples(cfg)
    assert labels["prompt"] == () and len(samples) == 12  # the human-final masks only
    assert all(np.array_equal(s.targets["prompt"] > 0, s.targets["segmentation"] > 0) for s in samples)
    result = finetune(cfg)
    assert result.card is not None and "prompt" in result.card.model.heads_by_name
    assert "prompt.miou" in result.test and 0.0 <= result.test["prompt.miou"] <= 1.0
    losses = [h["train_loss"] for h in result.loop.history]
    assert all(np.isfinite(losses))
