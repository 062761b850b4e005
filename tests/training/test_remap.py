"""Fine-tuning a stored model keeps its label space when the data's labels are a subset of it."""

from __future__ import annotations

import numpy as np
import torch

from engine import model_store
from engine.config import HeadCfg, ModelCfg
from engine.factory import create_model
from engine.model_card import ModelCard
from training.api import finetune
from training.config import DataCfg, FinetuneCfg, OptimCfg, RunCfg
from training.finetune.remap import align_to_model
from training.finetune.samples import LabelledSample

MODEL = ModelCfg(
    name="multi",
    arch="echocare_test",
    input_size=(64, 64),
    heads=(
        HeadCfg("segmentation", "segmentation", ("vessel", "lesion"), {"num_classes": 2, "width": 8}),
        HeadCfg("classification", "classification", ("malignant", "benign"), {"num_classes": 2}),
        HeadCfg("landmarks", "landmarks", ("a", "b", "c"), {"num_landmarks": 3}),
    ),
)


def test_targets_are_reindexed_into_the_model_labels():
    mask = np.array([[0, 1], [1, 0]], np.uint8)
    sample = LabelledSample(
        np.zeros((2, 2), np.uint8),
        {"segmentation": mask, "classification": 0, "landmarks": np.array([[1.0, 2.0]])},
        "p",
    )
    labels = {"segmentation": ("lesion",), "classification": ("benign", "malignant"), "landmarks": ("b",)}
    (out,), new = align_to_model([sample], labels, MODEL, ("segmentation", "classification", "landmarks"))
    assert new["segmentation"] == ("vessel", "lesion") and new["landmarks"] == ("a", "b", "c")
    assert out.targets["segmentation"].tolist() == [[0, 2], [2, 0]]
    assert out.targets["classification"] == 1  # "benign" is the model's class 1
    lm = out.targets["landmarks"]
    assert np.isnan(lm[0]).all() and lm[1].tolist() == [1.0, 2.0] and np.isnan(lm[2]).all()
    # labels the model does not know: the head will be rebuilt for the data instead
    _, kept = align_to_model([sample], {"segmentation": ("kidney",)}, MODEL, ("segmentation",))
    assert kept["segmentation"] == ("kidney",)


def test_finetuning_a_stored_multi_label_head_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    model = create_model(MODEL)
    model_store.save_version(ModelCard.from_cfg(MODEL), model.state_dict())
    cfg = FinetuneCfg(
        model="multi",
        heads=("segmentation",),
        mode="full",
        data=DataCfg(source="sim", scene="lesion", count=16),
        optim=OptimCfg(lr=1e-3, batch_size=8),
        run=RunCfg(out_dir=str(tmp_path / "run"), epochs=1, device="cpu"),
    )
    result = finetune(cfg)
    heads = {h.name: h for h in result.card.model.heads}
    assert heads["segmentation"].labels == ("vessel", "lesion")
    assert set(heads) == {"segmentation", "classification", "landmarks"}  # untouched heads are kept
    assert result.parent_test is not None and "segmentation.dice" in result.parent_test
    assert result.card.lineage.parent == "1"
    # full mode trains the encoder and the named head only; the other heads are left as they were
    before = model.state_dict()
    after = result.model.state_dict()
    for key in before:
        if key.startswith(("heads.classification.", "heads.landmarks.")):
            assert torch.equal(before[key], after[key]), key
    assert not torch.equal(
        before["encoder.patch_embed.proj.weight"], after["encoder.patch_embed.proj.weight"]
    )
