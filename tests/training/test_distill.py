"""Distillation: a smaller student with the teacher's heads, stored with the teacher as parent."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.cli.main import main
from engine import model_store
from engine.config import HeadCfg
from engine.factory import create_model, load_model
from engine.inference import Predictor
from engine.model_card import ModelCard
from engine.tasks.presets import all_heads_cfg
from training.distill.config import DistillCfg
from training.distill.losses import OUTPUT_LOSSES, FeatureProjector, output_loss, soft_kl
from training.distill.register import register
from training.distill.student import init_from_teacher, student_cfg, teacher_key
from training.distill.trainer import distill

TINY = {"frames": 4, "steps": 2, "batch_size": 2, "sizes": ((64, 64),), "threads": 1}


@pytest.fixture()
def teacher(tmp_path, monkeypatch):
    """A random-weight seven-head teacher in a fresh store; segmentation knows the lesion."""
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    cfg = all_heads_cfg(name="teach", arch="echocare_test", input_size=(64, 64), width=8)
    heads = tuple(
        replace(h, labels=("lesion", "vessel"))
        if h.kind == "segmentation"
        else replace(h, labels=("benign", "malignant"))
        if h.kind == "classification"
        else h
        for h in cfg.heads
    )
    cfg = replace(cfg, heads=heads, version="")
    torch.manual_seed(0)
    model_store.save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    return "teach"


def test_student_keeps_heads_labels_and_input_but_narrows_dense_heads():
    t = all_heads_cfg(arch="echocare_small", input_size=(128, 128), width=16)
    s = student_cfg(t, "echocare_test", 0.25)
    assert s.name == f"{t.name}-lite" and s.arch == "echocare_test" and s.input_size == t.input_size
    assert [(h.name, h.kind, h.labels) for h in s.heads] == [(h.name, h.kind, h.labels) for h in t.heads]
    widths = {h.name: h.params.get("width") for h in s.heads}
    assert widths["segmentation"] == 4 and widths["detection"] == 16 and widths["classification"] is None


def test_output_losses_vanish_only_when_student_matches_teacher():
    cfg = all_heads_cfg(arch="echocare_test", input_size=(64, 64), width=4)
    torch.manual_seed(0)
    a, b = create_model(cfg).eval(), create_model(cfg).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for p in b.parameters():  # some heads start as exact identities (enhancement)
            p.add_(0.1 * torch.randn_like(p))
        fa, fb = a.encoder(x), b.encoder(x)
        tokens = a.heads["report"](fa, x)["tokens"]
        for h in cfg.heads:
            kw = {"tokens": tokens} if h.kind == "report" else {}
            oa, ob = a.heads[h.name](fa, x, **kw), b.heads[h.name](fb, x, **kw)
            same = float(output_loss(h.kind)(oa, oa, 2.0))
            other = float(output_loss(h.kind)(ob, oa, 2.0))
            # soft BCE (detection) keeps the targets' entropy; Dice against the teacher's
            # argmax (segmentation) keeps the distance of soft masks from hard ones
            if h.kind not in ("detection", "segmentation"):
                assert same == pytest.approx(0.0, abs=1e-5), h.kind
            assert other > same, h.kind
    assert float(soft_kl(torch.zeros(3, 4), torch.zeros(3, 4), 2.0)) == pytest.approx(0.0, abs=1e-7)
    channels = [f.shape[1] for f in fa]
    proj = FeatureProjector(channels, channels)  # matching channels start as the identity
    with torch.no_grad():
        assert float(proj(fa, fa)) == pytest.approx(0.0, abs=1e-10)
        assert float(proj(fb, fa)) > 0
        narrow = FeatureProjector([c // 2 for c in channels], channels)
        assert float(narrow([f[:, ::2] for f in fa], fa)) > 0


def test_stage_blocks_map_evenly_onto_the_teachers():
    key = "encoder.layers3.0.blocks.{}.attn.qkv.weight"
    depths = {"layers3": 2}
    assert [teacher_key(key.format(j), depths, {"layers3": 4}) for j in (0, 1)] == [
        key.format(0),
        key.format(2),
    ]
    assert teacher_key(key.format(0), {"layers3": 1}, {"layers3": 2}) == key.format(0)
    assert teacher_key("heads.segmentation.out.weight", depths, depths) == "heads.segmentation.out.weight"


def test_a_shallower_student_starts_from_the_teachers_weights():
    cfg = all_heads_cfg(arch="echocare_small", input_size=(64, 64), width=4)
    torch.manual_seed(0)
    t = create_model(cfg).eval()
    s = create_model(student_cfg(cfg, "echocare_mini", 1.0)).eval()
    copied, total = init_from_teacher(s, t)
    assert copied == total
    t_state, s_state = t.state_dict(), s.state_dict()
    assert all(torch.equal(v, t_state[k]) for k, v in s_state.items())  # block 0 <- block 0
    assert "encoder.layers2.0.blocks.1.mlp.linear1.weight" in set(t_state) - set(s_state)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():  # the same first block, the teacher's second block dropped
        assert not torch.allclose(s.encoder(x)[2], t.encoder(x)[2])
        assert torch.allclose(s.encoder(x)[0], t.encoder(x)[0])
    narrow = create_model(student_cfg(cfg, "echocare_test", 1.0))
    copied, total = init_from_teacher(narrow, t)
    assert 0 < copied < total  # only the heads' inner layers have the teacher's shapes


def test_distilled_student_is_stored_with_teacher_as_parent_and_runs_like_it(teacher):
    cfg = DistillCfg(teacher=teacher, student="echocare_test", head_scale=0.5, seed=3, **TINY)
    result = distill(cfg)
    assert result.steps == 2 and np.isfinite(result.final_loss)
    assert {"features", "segmentation", "report", "detection", "labels"} <= set(result.losses)
    card = register(result, cfg, {"distill.dice_ratio": 0.5})
    assert (card.name, card.version, card.lineage.parent) == ("teach-lite", "1", "teach@1")
    assert card.lineage.method == "distillation" and card.lineage.config["student"] == "echocare_test"
    details = card.lineage.details
    assert details["teacher_sha256"] == load_model(teacher).ref.sha256 and details["steps"] == 2
    assert details["initialised_from_teacher"] == result.initialised > 0
    stored = load_model("teach-lite").card.lineage  # as read back from card.json
    assert (stored.parent, stored.method, stored.details["steps"]) == ("teach@1", "distillation", 2)
    student, parent = load_model("teach-lite"), load_model(teacher)
    assert student.cfg.heads_by_name["segmentation"].params["width"] == 4
    images = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    got = Predictor(student, backend="torch", device="cpu").run_heads(["a", "b"], images)
    want = Predictor(parent, backend="torch", device="cpu").run_heads(["a", "b"], images)
    assert {k: {n: v.shape for n, v in o.items()} for k, o in got.items()} == {
        k: {n: v.shape for n, v in o.items()} for k, o in want.items()
    }


def test_frames_carry_simulator_labels_matched_by_name(teacher):
    from training.distill.data import NO_CLASS, simulated_frames

    cfg = load_model(teacher).cfg
    frames = simulated_frames(cfg, 3, ("lesion", "organs"), ((96, 96),), seed=1)
    lesion = [f for f in frames if f.key.startswith("lesion")]
    assert lesion and all(f.mask is not None and f.mask.max() == 1 for f in lesion)
    assert all(f.label != NO_CLASS for f in lesion)
    assert all(f.image.shape == (3, 64, 64) for f in frames)


def test_train_distill_command_stores_the_student(teacher, capsys):
    rc = main(
        ["train", "distill", "--teacher", teacher, "--steps", "1", "--frames", "2", "--batch-size", "2",
         "--eval-per-scene", "1", "--name", "teach-fast"]
    )  # fmt: skip
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["name"] == "teach-fast" and out["parent"] == "teach@1"
    assert "distill.dice_ratio" in load_model("teach-fast").card.metrics or "distill.teacher.dice" in out
    assert HeadCfg  # the card keeps every head
    assert [h.name for h in load_model("teach-fast").cfg.heads] == [
        h.name for h in load_model(teacher).cfg.heads
    ]


def test_segmentation_loss_does_not_reward_an_all_background_student():
    # teacher: a 4 % lesion on background; a student that says "background" everywhere scores
    # a small per-pixel KL, so the loss must still rank it below a student that finds the lesion
    teacher = torch.full((1, 3, 50, 50), -4.0)
    teacher[:, 0] = 4.0
    teacher[:, 0, 20:30, 20:30], teacher[:, 1, 20:30, 20:30] = -4.0, 4.0
    background = torch.full_like(teacher, -4.0)
    background[:, 0] = 4.0
    seg = OUTPUT_LOSSES.get("segmentation")
    lesion_loss = float(seg({"logits": teacher.clone()}, {"logits": teacher}, 2.0))
    background_loss = float(seg({"logits": background}, {"logits": teacher}, 2.0))
    kl_only = float(soft_kl(background, teacher, 2.0))
    assert background_loss > lesion_loss + 0.5
    assert background_loss - kl_only > 0.9  # the missed lesion costs a whole Dice term


def test_a_kind_without_its_own_loss_matches_its_float_outputs():
    loss = output_loss("a_kind_with_no_distillation_loss")
    teacher = {"level": torch.tensor([[1.0], [2.0]]), "ids": torch.tensor([[3], [4]])}
    assert float(loss({"level": teacher["level"].clone(), "ids": teacher["ids"]}, teacher, 2.0)) == 0.0
    assert float(loss({"level": torch.tensor([[1.0], [4.0]]), "ids": teacher["ids"]}, teacher, 2.0)) == 2.0
    assert output_loss("segmentation") is OUTPUT_LOSSES.get("segmentation")
