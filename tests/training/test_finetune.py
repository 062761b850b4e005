"""Fine-tuning on simulated scenes: cached features, versions with lineage, the parent gate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine import model_store
from engine.models.echocare import EchoCareEncoder
from training import loop as loop_module
from training.api import finetune
from training.config import DataCfg, FinetuneCfg, OptimCfg, RunCfg, SplitCfg
from training.versions import compare_text

NAME = "tiny-lesion"


def _cfg(tmp_path, run, **over) -> FinetuneCfg:
    base = dict(
        model="echocare_test",
        name=NAME,
        heads=("segmentation",),
        mode="heads",
        input_size=(64, 64),
        data=DataCfg(source="sim", scene="lesion", count=32),
        split=SplitCfg(test=0.25, val=0.15),
        head_params={"segmentation": {"width": 8}},
        optim=OptimCfg(lr=3e-3, batch_size=8, weight_decay=0.0),
        run=RunCfg(out_dir=str(tmp_path / run), epochs=4, device="cpu"),
    )
    base.update(over)
    return FinetuneCfg(**base)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_heads_only_uses_cached_features_and_versions_are_gated(tmp_path, capsys, store, monkeypatch):
    calls = {"fit": 0}
    real_forward, real_fit = EchoCareEncoder.forward, loop_module.TrainLoop.fit

    def counting_forward(self, *a, **k):
        calls["fit"] += calls.get("in_fit", 0)
        return real_forward(self, *a, **k)

    def counting_fit(self, *a, **k):
        calls["in_fit"] = 1
        try:
            return real_fit(self, *a, **k)
        finally:
            calls["in_fit"] = 0

    monkeypatch.setattr(EchoCareEncoder, "forward", counting_forward)
    monkeypatch.setattr(loop_module.TrainLoop, "fit", counting_fit)

    first = finetune(_cfg(tmp_path, "v1"))
    assert calls["fit"] == 0  # every epoch and every validation ran on cached features
    assert first.status == "finished"
    losses = [h["train_loss"] for h in first.loop.history]
    assert losses[-1] < losses[0]
    card = first.card
    assert (card.name, card.version, card.lineage.parent) == (NAME, "1", None)
    assert model_store.active_version(NAME) == "1"
    assert card.metrics["test.segmentation.dice"] == pytest.approx(first.test["segmentation.dice"])
    lineage = card.lineage
    assert len(lineage.data_sha256) == 64 and len(lineage.labels_sha256) == 64
    assert lineage.label_counts["segmentation"] == 32 and lineage.mode == "heads"
    assert lineage.method == "fine-tune" and lineage.activated and lineage.config["mode"] == "heads"
    assert model_store.locate(f"{NAME}@1")[1].lineage == lineage  # typed in card.json, read back the same
    assert [h.labels for h in card.model.heads] == [("lesion",)]

    # a child trained badly (huge learning rate, full mode) is scored against its parent on the
    # same frozen test split, flagged, stored, and not activated
    bad = finetune(
        _cfg(tmp_path, "v2", model=f"{NAME}@1", mode="full", optim=OptimCfg(lr=5.0, clip_grad=0.0))
    )
    assert bad.parent_test["segmentation.dice"] == pytest.approx(first.test["segmentation.dice"], abs=1e-5)
    assert bad.test["segmentation.dice"] < bad.parent_test["segmentation.dice"]
    assert bad.verdict.worse == ("segmentation",) and not bad.verdict.activate
    assert bad.card.version == "2" and bad.card.lineage.parent == "1"
    assert bad.card.lineage.worse == ("segmentation",) and bad.card.lineage.activated is False
    assert model_store.active_version(NAME) == "1"
    assert bad.card.lineage.test_split_sha256 == lineage.test_split_sha256

    table = compare_text(f"{NAME}@1", f"{NAME}@2")
    assert "test.segmentation.dice" in table and "worse than its parent" in table
    row = next(ln for ln in table.splitlines() if ln.startswith("parent "))
    assert row.split()[1:] == ["-", "1"]

    from app.cli.main import main

    assert main(["models", "compare", f"{NAME}@1", f"{NAME}@2"]) == 0
    assert capsys.readouterr().out.strip() == table.strip()


def test_lora_run_stores_plain_qkv_weights(tmp_path, store):
    cfg = _cfg(tmp_path, "lora", mode="lora", lora_rank=2)
    result = finetune(replace(cfg, run=replace(cfg.run, epochs=1)))
    folder, card = model_store.locate(f"{NAME}@{result.card.version}")
    keys = set(model_store.read_weights(folder, card))
    assert not any("linear_a_" in k or ".qkv.qkv." in k for k in keys)
    assert any(k.endswith("attn.qkv.weight") for k in keys)


@pytest.mark.parametrize("cache", ["float16", "off"])
def test_heads_only_with_half_or_no_feature_cache(tmp_path, store, cache):
    cfg = _cfg(tmp_path, cache, feature_cache=cache, data=DataCfg(source="sim", scene="lesion", count=16))
    result = finetune(replace(cfg, run=replace(cfg.run, epochs=2)))
    assert result.status == "finished" and result.card is not None
    assert result.loop.history[-1]["train_loss"] < result.loop.history[0]["train_loss"] + 1e-6


def test_heads_only_keeps_the_initial_encoder_bit_identical(tmp_path, store):
    import torch
    from safetensors.torch import save_file

    from engine.factory import create_encoder

    torch.manual_seed(5)
    encoder = create_encoder("echocare_test")
    init = tmp_path / "encoder.safetensors"
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(init))
    cfg = _cfg(tmp_path, "init", init_encoder=str(init), data=DataCfg(source="sim", scene="lesion", count=16))
    result = finetune(replace(cfg, run=replace(cfg.run, epochs=1)))
    folder, card = model_store.locate(f"{NAME}@{result.card.version}")
    stored = model_store.read_weights(folder, card)
    for key, value in encoder.state_dict().items():
        assert torch.equal(stored[f"encoder.{key}"], value), key
