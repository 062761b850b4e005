"""The recipe's training data: a configured share of each scene under domain randomisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError
from training.recipes.config import load_recipe
from training.recipes.data import render_scene

SIZES = ((128, 128), (120, 160))


def _sizes(samples: list) -> set[str]:
    return {s.key.rsplit(":", 1)[1] for s in samples}


def test_randomised_share_renders_other_sizes_and_keeps_targets_in_model_pixels() -> None:
    plain = render_scene("lesion", 6, 3, SIZES, (64, 64))
    assert _sizes(plain) == {"128x128", "120x160"}
    mixed = render_scene("lesion", 12, 3, SIZES, (64, 64), randomised=0.5)
    others = _sizes(mixed) - {"128x128", "120x160"}
    assert others and len(others) < len(mixed)
    every = render_scene("lesion", 6, 3, SIZES, (64, 64), randomised=1.0)
    assert not _sizes(every) & {"128x128", "120x160"}
    for s in every:
        assert s.image.shape == (64, 64) and s.targets["segmentation"].shape == (64, 64)
        assert s.targets["segmentation"].max() <= 1  # lesion label only, letterboxed like the frame
    # the same call gives the same samples
    again = render_scene("lesion", 6, 3, SIZES, (64, 64), randomised=1.0)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(every, again, strict=True))


def test_a_share_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    smoke = Path(__file__).resolve().parents[2] / "configs" / "demo-smoke.yaml"
    text = smoke.read_text().replace("randomised: 0.5", "randomised: 1.5")
    cfg.write_text(text)
    with pytest.raises(ConfigError, match="randomised"):
        load_recipe(cfg)


def test_exam_and_prompt_recipes_take_the_same_randomised_share() -> None:
    from training.recipes.exam import sim_frames

    plain = list(sim_frames("organs", 4, 5, SIZES, 2))
    every = list(sim_frames("organs", 4, 5, SIZES, 2, randomised=1.0))
    assert {f.key.rsplit(":", 1)[1] for f in plain} <= {"128x128", "120x160"}
    assert all(f.frame.shape == f.result.frames.shape[1:] for f in every)
    assert all(f.result.truth.domain for f in every) and not any(f.result.truth.domain for f in plain)


def test_the_head_recipes_refuse_a_share_outside_zero_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    from training.recipes import prompt

    with pytest.raises(SystemExit) as stop:
        prompt.main(["--model", "echocare-demo", "--out", "unused", "--randomised", "1.5"])
    assert stop.value.code == 2
    assert "--randomised 1.5: a share between 0 and 1" in capsys.readouterr().err


def test_randomised_lesions_carry_no_class_and_the_loss_ignores_them() -> None:
    import torch

    from engine.heads.classification import IGNORE, ClassificationLoss
    from training.recipes.data import CLASS_IGNORE

    assert CLASS_IGNORE == IGNORE
    plain = render_scene("lesion", 4, 3, SIZES, (64, 64))
    every = render_scene("lesion", 4, 3, SIZES, (64, 64), randomised=1.0)
    assert all(s.targets["classification"] in (0, 1) for s in plain)
    assert all(s.targets["classification"] == IGNORE for s in every)
    assert all(s.targets["segmentation"].any() for s in every)  # they still teach the outline
    loss = ClassificationLoss()
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]], requires_grad=True)
    mixed = loss({"logits": logits}, torch.tensor([0, IGNORE]))
    assert torch.isclose(mixed, loss({"logits": logits[:1]}, torch.tensor([0])))
    none = loss({"logits": logits}, torch.tensor([IGNORE, IGNORE]))
    none.backward()
    assert none.item() == 0.0 and logits.grad is not None and torch.all(logits.grad == 0)


def test_a_recipe_can_change_the_randomisation_ranges(tmp_path: Path) -> None:
    smoke = Path(__file__).resolve().parents[2] / "configs" / "demo-smoke.yaml"
    data = load_recipe(smoke).data
    domain = {"lesion_echo": {"iso": 1}, "lesion_count": {"2": 1}, "lesion_radius_mm": [4, 6], "jpeg_p": 0}
    recipe = load_recipe(smoke, {"data": {**_as_dict(data), "domain": domain}})
    from training.sim.domain import DEFAULT_RANGES, ranges_with

    ranges = ranges_with(recipe.data.domain)
    assert ranges.lesion_echo == {"anechoic": 0.0, "hypo": 0.0, "iso": 1.0, "hyper": 0.0}
    assert ranges.lesion_count == {1: 0.0, 2: 1.0, 3: 0.0} and ranges.lesion_radius_mm == (4.0, 6.0)
    assert ranges.size_px == DEFAULT_RANGES.size_px  # what is not named keeps its default
    samples = render_scene("lesion", 3, 3, SIZES, (64, 64), randomised=1.0, ranges=ranges)
    plain = render_scene("lesion", 3, 3, SIZES, (64, 64), randomised=1.0)
    assert not all(np.array_equal(a.image, b.image) for a, b in zip(samples, plain, strict=True))
    from training.recipes.data import simulation

    for i in range(3):
        truth = simulation("lesion", 40 + i, (128, 128), 1.0, ranges).truth
        options = truth.domain["options"]
        assert options["echo"] == "iso" and options.get("count") in (1, 2)  # a zoomed field holds 1
        assert truth.domain["jpeg_quality"] is None
    for bad, message in (
        ({"lesion_colour": 1}, "unknown domain range 'lesion_colour'"),
        ({"lesion_echo": {"iso": -1}}, "not a weight >= 0"),
        ({"lesion_echo": {"iso": 0}}, "the weights are all 0"),
        ({"gain_db": [8, -10]}, "must be a range"),
        ({"jpeg_p": 2}, "a probability between 0 and 1"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_recipe(smoke, {"data": {**_as_dict(data), "domain": bad}})


def _as_dict(data) -> dict:
    from engine.config_files import to_dict

    return to_dict(data)
