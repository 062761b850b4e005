"""Pretraining on a tiny config: reconstruction falls and the label tree is learnt at every level."""

from __future__ import annotations

import json

import pytest
import torch

from engine.checkpoint import load_encoder_checkpoint
from engine.factory import create_encoder
from training.checkpointing import load_weights
from training.config import DataCfg, MimCfg, OptimCfg, PretrainCfg, RunCfg, TreeCfg
from training.data.augment import NO_AUGMENT
from training.data.frames import FRAME_SOURCES, PretrainFrames
from training.ssl.mim import MimPretrainer, ramp
from training.ssl.pretrain import build_pretrainer, evaluate_pretrainer, run_pretrain

LEVELS = ("region", "organ", "probe")
LEVELS_SIM = ("region", "scene", "probe")


def tiny_cfg(root, out, epochs=6, **mim) -> PretrainCfg:
    return PretrainCfg(
        arch="echocare_test",
        input_size=(64, 64),
        data=DataCfg(source="folders", paths=(str(root),), frames_per_cine=1),
        tree=TreeCfg(source="folders", levels=LEVELS),
        mim=MimCfg(mask_unit=16, **mim),
        optim=OptimCfg(lr=2e-3, batch_size=8, weight_decay=0.0),
        run=RunCfg(out_dir=str(out), epochs=epochs, device="cpu"),
    )


def test_schedule_ramps_from_start_to_end():
    assert ramp((0.2, 0.6), 0, 10) == pytest.approx(0.2)
    assert ramp((0.2, 0.6), 5, 10) == pytest.approx(0.4)
    assert ramp((0.2, 0.6), 50, 10) == pytest.approx(0.6)


def test_hard_patches_are_masked_first(image_tree, tmp_path):
    cfg = tiny_cfg(image_tree, tmp_path, mask_ratio=(0.25, 0.25), hard_share=(1.0, 1.0))
    module: MimPretrainer = build_pretrainer(cfg, tree=_tree(cfg), total_steps=1)
    images = torch.rand(2, 3, 64, 64)
    difficulty = torch.arange(16.0).repeat(2, 1)  # square 15 hardest, then 14, 13, 12
    units = module.plan_mask(images, ratio=0.25, hard_share=1.0, difficulty=difficulty)
    assert units.sum(1).tolist() == [4, 4]
    assert units[:, 12:].all() and not units[:, :12].any()
    tokens = module.token_mask(units)
    assert tokens.shape == (2, 32, 32) and tokens.float().mean() == pytest.approx(0.25)


def _tree(cfg):
    from training.data.tree import LabelTree

    refs, _ = FRAME_SOURCES.get("folders")(cfg)
    return LabelTree.from_paths(cfg.tree.levels, [r.labels for r in refs])


def test_pretraining_learns_pixels_and_the_label_tree(image_tree, image_tree_heldout, tmp_path):
    cfg = tiny_cfg(image_tree, tmp_path / "run")
    result = run_pretrain(cfg)
    assert result.loop.status == "finished"
    recon = [h["val_loss"] for h in result.loop.history]
    assert recon[-1] < 0.75 * recon[0], recon

    # the written encoder imports through the engine's checkpoint loader (official layout + mask_token)
    encoder = create_encoder("echocare_test")
    report = load_encoder_checkpoint(encoder, result.encoder)
    assert report.ok and not report.missing and not report.unexpected
    summary = json.loads((tmp_path / "run" / "pretrain.json").read_text())
    assert summary["tree"]["region"] == ["abdomen", "neck"]

    # held-out images: every level of the tree beats chance clearly
    module = build_pretrainer(cfg, result.tree, total_steps=1)
    module.encoder.load_state_dict(encoder.state_dict())
    load_weights(tmp_path / "run" / "best.safetensors", module)
    held_cfg = tiny_cfg(image_tree_heldout, tmp_path / "unused")
    refs, read = FRAME_SOURCES.get("folders")(held_cfg)
    held = PretrainFrames(refs, read, result.tree, (64, 64), aug=NO_AUGMENT)
    module.eval()
    with torch.no_grad():
        metrics = evaluate_pretrainer(module, held, ratio=0.5)
    for level, names in zip(LEVELS, result.tree.classes):
        chance = 1.0 / len(names)
        assert metrics[f"acc_{level}"] >= chance + 0.25, (level, metrics)


def test_pretraining_on_simulated_scenes_learns_region_scene_and_probe(tmp_path):
    cfg = PretrainCfg(
        arch="echocare_test",
        input_size=(64, 64),
        data=DataCfg(source="sim", count=120),
        tree=TreeCfg(source="sim", levels=LEVELS_SIM),
        mim=MimCfg(mask_unit=16),
        optim=OptimCfg(lr=2e-3, batch_size=8, weight_decay=0.0),
        run=RunCfg(out_dir=str(tmp_path / "sim"), epochs=6, device="cpu"),
    )
    result = run_pretrain(cfg)
    first, last = result.loop.history[0], result.loop.history[-1]
    assert last["val_loss"] < 0.8 * first["val_loss"]
    # validation frames come from simulator seeds (patients) never trained on
    for level, names in zip(LEVELS_SIM, result.tree.classes):
        assert last[f"val_acc_{level}"] >= 1.0 / len(names) + 0.15, (level, last)
