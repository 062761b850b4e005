"""The prompt recipe: a prompt head added to a model with every other tensor unchanged, scored by
the standard click protocol, usable by ``echocare segment``; and the protocol's click rule."""

import json

import cv2
import numpy as np
import pytest

from training.recipes.prompt import SMOKE, head_stride, next_click, run_recipe, summary, tight_box


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    import torch
    from safetensors.torch import save_file

    from engine.factory import create_model
    from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard
    from engine.tasks.presets import all_heads_cfg

    src = tmp_path_factory.mktemp("src") / "base"
    src.mkdir()
    cfg = all_heads_cfg(name="base", input_size=(64, 64), width=4)
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in create_model(cfg).state_dict().items()}, str(src / WEIGHTS_FILE))
    (src / CARD_FILE).write_text(ModelCard.from_cfg(cfg).to_json(), encoding="utf-8")
    out = tmp_path_factory.mktemp("run")
    return src, run_recipe(src, out, SMOKE), out


def test_the_head_is_added_and_nothing_else_changes(smoke_run):
    import torch
    from safetensors.torch import load_file

    from engine.factory import load_model

    src, folder, out = smoke_run
    old, new = load_file(str(src / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    assert all(torch.equal(old[k], new[k]) for k in old)
    assert any(k.startswith("heads.prompt.") for k in new) and not any(
        k.startswith("heads.prompt.") for k in old
    )
    loaded = load_model(folder, device="cpu")
    assert "prompt" in loaded.cfg.heads_by_name and loaded.cfg.heads[-1].name == "prompt"
    assert loaded.cfg.heads_by_name["prompt"].params["stride"] == 1, "a 64 px input keeps full resolution"
    metrics = loaded.card.metrics
    for key in ("miou_1click", "noc_85", "miou_box", "structures"):
        assert f"test.prompt.{key}" in metrics
    assert 1 <= metrics["test.prompt.noc_85"] <= SMOKE.max_clicks
    notes = json.loads(loaded.card.notes)["prompt_head"]
    assert notes["recipe"]["steps"] == SMOKE.steps and "reproduce" in notes
    rows = json.loads((out / "prompt_metrics.json").read_text())["rows"]
    assert len(rows) == metrics["test.prompt.structures"] and {r["scene"] for r in rows} >= {
        "lesion",
        "cardiac",
    }
    nested = [r for r in rows if "iou_alt_1click" in r]
    names = {r["name"] for r in nested}
    assert names == {"lv_cavity", "lv_myocardium"}, "each has the whole LV as its larger reading"
    assert metrics["test.prompt.nested"] == len(nested) and 0 <= metrics["test.prompt.miou_alt_1click"] <= 1


def test_the_written_model_answers_echocare_segment(smoke_run, tmp_path, capsys):
    from app.cli.main import main

    _, folder, _ = smoke_run
    image = np.zeros((90, 120), np.uint8)
    cv2.circle(image, (60, 45), 20, 220, -1)
    cv2.imwrite(str(tmp_path / "frame.png"), image)
    out = tmp_path / "seg"
    assert (
        main(
            [
                "segment",
                str(tmp_path / "frame.png"),
                "--model",
                str(folder),
                "--point",
                "60,45",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    mask = cv2.imread(str(out / "mask_00000.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (90, 120)
    assert json.loads((out / "segment.json").read_text())["frames"][0]["area"]["unit"] == "px2"


def test_the_head_answers_at_half_resolution_from_a_256_px_input_up():
    assert [head_stride(s) for s in ((128, 128), (240, 320), (256, 256), (512, 384))] == [1, 1, 2, 2]


def test_the_correction_click_goes_to_the_centre_of_the_larger_error():
    truth = np.zeros((50, 50), bool)
    truth[10:40, 10:40] = True
    assert next_click(np.zeros_like(truth), truth)[2] is True  # first click: inside, positive
    x, y, positive = next_click(np.zeros_like(truth), truth)
    assert 23 <= x <= 26 and 23 <= y <= 26
    over = truth.copy()
    over[10:40, 40:50] = True  # a false alarm strip wider than any miss
    over[10:12, 10:40] = False
    x, y, positive = next_click(over, truth)
    assert positive is False and x >= 40
    assert next_click(truth, truth) is None
    assert tight_box(truth) == (10.0, 10.0, 39.0, 39.0)


def test_summary_gives_overall_and_per_structure_figures():
    rows = [
        {"name": "a", "iou_1click": 0.8, "clicks_to_85": 2, "reached_85": True, "iou_box": 0.9},
        {"name": "b", "iou_1click": 0.4, "clicks_to_85": 20, "reached_85": False, "iou_box": 0.7},
    ]
    s = summary(rows)
    assert s["miou_1click"] == pytest.approx(0.6) and s["noc_85"] == 11 and s["reached_85"] == 0.5
    assert s["a.miou_box"] == 0.9 and s["b.noc_85"] == 20 and s["structures"] == 2
    assert "miou_alt_1click" not in s, "no structure lies inside another"
    rows[0].update(iou_alt_1click=0.7, alt_offered=True)
    s = summary(rows)
    assert s["nested"] == 1 and s["miou_alt_1click"] == 0.7 and s["alt_offered"] == 1.0
    assert "unsure_1click" not in s, "no first answer was called unsure"
    rows[1]["unsure_1click"] = True
    s = summary(rows)
    assert s["unsure_1click"] == 1 and s["miou_1click_unsure"] == 0.4


def test_the_command_line_sets_the_training_steps_and_records_them(smoke_run, tmp_path, capsys):
    from training.recipes.prompt import main

    src, _, _ = smoke_run
    assert main(["--model", str(src), "--out", str(tmp_path / "a"), "--smoke", "--steps", "3"]) == 0
    notes = json.loads((tmp_path / "a" / "base" / "card.json").read_text())["notes"]
    head = json.loads(notes)["prompt_head"]
    assert head["recipe"]["steps"] == 3 and "--steps 3" in head["reproduce"]
    with pytest.raises(SystemExit) as stop:
        main(["--model", str(src), "--out", str(tmp_path / "b"), "--steps", "0"])
    assert stop.value.code == 2 and "--steps 0" in capsys.readouterr().err


def test_a_stopped_training_resumes_to_the_same_head(tmp_path):
    """A run killed between checkpoints and resumed ends with the head of a run never stopped."""
    from dataclasses import replace

    import torch

    from engine.config import HeadCfg
    from engine.errors import ConfigError
    from engine.factory import create_model
    from engine.inference import Predictor
    from engine.tasks.presets import all_heads_cfg
    from tests.engine.heads.test_prompt_head import loaded_model
    from training.recipes.demo import claim
    from training.recipes.prompt import encode_split, train_head

    cfg = all_heads_cfg(input_size=(64, 64), width=4)
    loaded = loaded_model(cfg)
    predictor = Predictor(loaded, backend="torch", device="cpu", batch_size=8)
    data, _ = encode_split(predictor, cfg, SMOKE, "train", True, lambda _: None)
    head_cfg = HeadCfg("prompt", "prompt", (), {"width": 8, "levels": [3, 2, 1, 0]})
    with_head = replace(cfg, heads=(*cfg.heads, head_cfg))

    def fresh():
        torch.manual_seed(1)
        return create_model(with_head).heads["prompt"]

    whole = fresh()
    train_head(whole, data, SMOKE, lambda _: None)

    def killed_at_step_6(msg):
        if msg.startswith("step 6/"):
            raise KeyboardInterrupt

    stopped = fresh()
    with pytest.raises(KeyboardInterrupt):
        train_head(stopped, data, SMOKE, killed_at_step_6, tmp_path, every=4)
    said = []
    resumed = fresh()
    train_head(resumed, data, SMOKE, said.append, tmp_path, resume=True, every=4)
    assert said[0].startswith("resumed at step 4/8")
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a run started afresh in the same folder drops the old checkpoints instead of resuming them
    with pytest.raises(KeyboardInterrupt):
        train_head(fresh(), data, SMOKE, killed_at_step_6, tmp_path, every=100)
    assert not (tmp_path / "checkpoints").exists()
    # a folder started with another recipe or model is not resumed into
    claim(tmp_path / "run", {"recipe": {"steps": 8}, "model": "a"}, False)
    claim(tmp_path / "run", {"recipe": {"steps": 8}, "model": "a"}, True)
    with pytest.raises(ConfigError, match="was started with another recipe"):
        claim(tmp_path / "run", {"recipe": {"steps": 8}, "model": "b"}, True)


def test_the_command_line_takes_the_randomisation_ranges_of_the_encoders_recipe(smoke_run, tmp_path, capsys):
    from pathlib import Path

    import yaml

    from training.recipes.prompt import main

    src, _, _ = smoke_run
    config = Path(__file__).parents[2] / "configs" / "demo-v3-fine.yaml"
    domain = yaml.safe_load(config.read_text())["data"]["domain"]
    argv = ["--model", str(src), "--out", str(tmp_path / "a"), "--smoke", "--steps", "2", "--randomised", "1"]
    assert main([*argv, "--domain", str(config)]) == 0
    notes = json.loads((tmp_path / "a" / "base" / "card.json").read_text())["notes"]
    head = json.loads(notes)["prompt_head"]
    assert domain["fine_speckle_p"] > 0 and head["recipe"]["domain"] == domain
    assert f"--domain {config}" in head["reproduce"]
    assert main([*argv, "--domain", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.yaml" in err[0]


def test_refine_trains_the_models_own_prompt_head_further(smoke_run, tmp_path, capsys):
    """``--refine`` starts from the model's prompt head (at learning rate 0 it stays bit for bit),
    records itself in the card, and refuses a model without a prompt head in one line."""
    from dataclasses import replace

    import torch
    from safetensors.torch import load_file

    from training.recipes.prompt import main, refine

    src, folder, _ = smoke_run
    still = replace(refine(SMOKE), lr=0.0)
    assert still.warm_start and still.train_seed == SMOKE.train_seed + 1
    kept = load_file(str(run_recipe(folder, tmp_path / "still", still) / "model.safetensors"))
    fresh = load_file(
        str(run_recipe(folder, tmp_path / "fresh", replace(SMOKE, lr=0.0)) / "model.safetensors")
    )
    own = load_file(str(folder / "model.safetensors"))
    prompt = [k for k in own if k.startswith("heads.prompt.")]
    assert prompt and all(torch.equal(own[k], kept[k]) for k in own)
    assert not all(torch.equal(own[k], fresh[k]) for k in prompt), "a fresh head is drawn anew"

    assert main(["--model", str(folder), "--out", str(tmp_path / "r"), "--smoke", "--refine"]) == 0
    notes = json.loads(json.loads((tmp_path / "r" / "base" / "card.json").read_text())["notes"])
    head = notes["prompt_head"]
    assert "--refine" in head["reproduce"] and head["recipe"]["warm_start"] is True
    refined = load_file(str(tmp_path / "r" / "base" / "model.safetensors"))
    assert not all(torch.equal(own[k], refined[k]) for k in prompt), "the head was trained"
    assert all(torch.equal(own[k], refined[k]) for k in own if k not in prompt)

    assert main(["--model", str(src), "--out", str(tmp_path / "n"), "--smoke", "--refine"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--refine needs a prompt head" in err[-1] and str(src) in err[-1]


def test_carried_masks_prompt_as_propagation_prompts_the_next_frame():
    """A carry batch is a neighbouring frame's answer: the structure moved, scaled and grown or
    shrunk a little, widened as propagation widens it, with a click at its centre and, for a
    ring, a negative click in its hole; the default recipe draws no such batch."""
    from engine.heads.kinds.prompt import iou
    from training.recipes.prompt import PromptRecipe, _batch_prompts, carried, refine

    rng = np.random.default_rng(0)
    disc = np.zeros((64, 64), np.uint8)
    cv2.circle(disc, (30, 32), 12, 1, -1)
    ring = np.zeros((64, 64), np.uint8)
    cv2.circle(ring, (32, 30), 14, 1, 4)
    disc, ring = disc.astype(bool), ring.astype(bool)
    moved = [carried(disc, rng) for _ in range(20)]
    overlaps = [iou(m, disc) for m in moved]
    assert min(overlaps) > 0.5 and max(overlaps) < 1.0, "near the structure, never exactly on it"
    assert len({m.tobytes() for m in moved}) == 20
    assert carried(np.zeros((8, 8), bool), rng).sum() == 0

    maps = _batch_prompts(None, [], None, np.stack([disc, ring]), "carry", 1, rng).numpy()
    assert maps.shape == (2, 4, 64, 64) and not maps[:, 2].any(), "no box"
    for m, truth in zip(maps, (disc, ring)):
        prev = m[3] > 0.5
        assert iou(prev, truth) > 0.4 and prev.sum() >= truth.sum() * 0.8
        y, x = np.unravel_index(m[0].argmax(), m[0].shape)
        assert prev[y, x] and m[0].max() > 0.99, "a positive click on the carried mask"
    y, x = np.unravel_index(maps[1, 1].argmax(), (64, 64))
    assert maps[1, 1].max() > 0.99 and abs(x - 32) < 5 and abs(y - 30) < 5, "a negative click in the hole"
    assert not maps[0, 1].any(), "a disc has no hole"

    assert PromptRecipe().carry_share == 0.0, "the recorded recipe's batches stay as they were"
    assert refine(PromptRecipe()).carry_share > 0
