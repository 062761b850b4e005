"""The prompt head: prompts drawn where the user clicked, masks back in the frame, an encoder
run once per frame however many clicks, a head that learns a structure from a click, and an
interactive kind that no automatic run includes."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.config import HeadCfg
from engine.errors import TaskError
from engine.factory import LoadedModel, create_model
from engine.heads import head_spec
from engine.heads.base import FeatureSpec
from engine.heads.kinds.prompt import Prompt, PromptTask, prompt_maps, prompted_parts, segment
from engine.heads.prompt import PromptHead, PromptLoss, mask_iou
from engine.inference import Predictor
from engine.io.calibration import Calibration, Region
from engine.model_card import ModelCard
from engine.provenance import ModelRef
from engine.tasks.base import TASKS
from engine.tasks.presets import all_heads_cfg
from engine.tasks.runner import resolve_tasks
from engine.transforms.geometry import Geometry
from engine.transforms.preprocess import preprocess
from training.metrics import build_metric

SPEC = FeatureSpec(channels=(4, 8, 16, 32, 64), input_size=(64, 64))
REF = ModelRef("m", "1", "")


def pyramid(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, c, 64 // s, 64 // s, generator=g) for c, s in zip(SPEC.channels, SPEC.strides)]


def prompt_cfg():
    cfg = all_heads_cfg(input_size=(64, 64), width=4)
    return replace(cfg, heads=(*cfg.heads, HeadCfg("prompt", "prompt", (), {"width": 8})))


def loaded_model(cfg):
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    return LoadedModel(
        ModelCard.from_cfg(cfg), model, ModelRef(cfg.name, "1", "p"), torch.device("cpu"), Path()
    )


@pytest.mark.parametrize("stride", [1, 2])
def test_outputs_two_masks_with_a_quality_each_and_runs_without_a_prompt(stride):
    head = PromptHead(SPEC, width=8, stride=stride).eval()
    image = torch.zeros(2, 3, 64, 64)
    out = head(pyramid(2), image, torch.zeros(2, 4, 64, 64))
    assert out["masks"].shape == (2, 2, 64, 64) and out["quality"].shape == (2, 2)
    assert ((out["quality"] >= 0) & (out["quality"] <= 1)).all()
    assert head(pyramid(2), image)["masks"].shape == (2, 2, 64, 64)  # export's plain call
    assert head_spec("prompt").network_class() is PromptHead and head_spec("prompt").interactive


def test_prompt_maps_put_clicks_box_and_mask_where_they_are_in_the_model_input():
    g = Geometry.letterbox((100, 200), (64, 64))  # wide frame: padded top and bottom
    p = Prompt(((50.0, 40.0, True), (150.0, 60.0, False)), box=(20.0, 10.0, 80.0, 90.0))
    maps = prompt_maps(p, g)
    assert maps.shape == (4, 64, 64) and maps.dtype == np.float32
    (px, py), (nx, ny) = g.points_to_model(np.array([[50.0, 40.0], [150.0, 60.0]]))
    assert np.unravel_index(maps[0].argmax(), maps[0].shape) == (round(py), round(px))
    assert np.unravel_index(maps[1].argmax(), maps[1].shape) == (round(ny), round(nx))
    assert maps[0].max() > 0.9 and maps[0][round(ny), round(nx)] < 1e-3  # each click on its own map
    x0, y0, x1, y1 = g.boxes_to_model(np.array([20.0, 10.0, 80.0, 90.0]))[0]
    inside = maps[2] > 0
    assert inside[round((y0 + y1) / 2), round((x0 + x1) / 2)] and not inside[0, 0] and not inside[32, 60]
    mask = np.zeros((100, 200), bool)
    mask[30:70, 100:160] = True
    assert prompt_maps(Prompt(mask=mask), g)[3].sum() == pytest.approx(mask.sum() * g.scale**2, rel=0.15)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (Prompt(((200.0, 10.0, True),)), r"point \(200, 10\) is outside the 200x100 image"),
        (Prompt(((-1.0, 10.0, True),)), "outside"),
        (Prompt(box=(50.0, 50.0, 50.0, 80.0)), r"box \(50, 50, 50, 80\) is empty"),
        (Prompt(box=(300.0, 10.0, 400.0, 80.0)), "is outside the 200x100 image"),
        (Prompt(), "no prompt"),
    ],
)
def test_a_bad_prompt_is_one_line_naming_the_problem(prompt, message):
    with pytest.raises(TaskError, match=message) as err:
        prompt.check((100, 200), "frame.png")
    assert "\n" not in str(err.value)


def test_the_mask_comes_back_at_the_frames_size_with_its_area_in_mm2():
    cfg = prompt_cfg()
    task = PromptTask(cfg, REF)
    g = Geometry.letterbox((100, 200), (64, 64))
    logits = np.full((2, 64, 64), -5.0, np.float32)
    logits[0, 24:40, 14:26] = 5.0  # the structure asked for
    logits[1, 20:44, 10:30] = 5.0  # the structure around it
    cal = Calibration((Region(0, 0, 199, 99, 0.5, 0.5, "mm", "mm", "tissue", 1),), source="regions")
    from engine.tasks.base import FrameContext

    r = task.postprocess(
        {"masks": logits, "quality": np.array([0.7, 0.9])}, FrameContext(3, np.zeros((100, 200)), g, cal)
    )
    assert r.mask.shape == r.alternative.shape == (100, 200) and r.frame == 3
    assert r.mask.any() and (r.alternative & r.mask).sum() == r.mask.sum()
    assert r.alternative.sum() > r.mask.sum(), "the alternative is the larger structure around it"
    assert r.quality == pytest.approx(0.7) and r.alternative_quality == pytest.approx(0.9)
    assert r.area.unit == "mm2" and r.area.value == pytest.approx(r.mask.sum() * 0.25)
    assert r.offers_alternative(), "a larger structure around the answer, rated well: worth showing"
    assert not replace(r, alternative_quality=0.3).offers_alternative(), "rated poorly: not shown"
    assert not replace(r, alternative=r.mask.copy()).offers_alternative(), "the same mask: nothing to show"


def _two_parts():
    mask = np.zeros((60, 100), bool)
    mask[10:30, 10:30] = True  # part A
    mask[35:55, 60:95] = True  # part B
    return mask


def test_a_click_keeps_the_part_under_it_and_a_box_the_parts_inside_it():
    mask = _two_parts()
    a, b = mask.copy(), mask.copy()
    a[:, 50:] = False
    b[:, :50] = False
    assert (prompted_parts(mask, Prompt(((20, 20, True),))) == a).all()
    assert (prompted_parts(mask, Prompt(((20, 20, True), (70, 40, True)))) == mask).all()  # a click on each
    assert (prompted_parts(mask, Prompt(((55, 40, True),))) == b).all()  # on neither: the nearer part
    assert (
        prompted_parts(mask, Prompt(((20, 20, False), (70, 40, True)))) == b
    ).all()  # negatives choose none
    assert (prompted_parts(mask, Prompt(box=(55, 30, 99, 59))) == b).all()
    assert (
        prompted_parts(mask, Prompt(mask=mask.astype(np.float32))) == mask
    ).all()  # a mask alone: every part
    assert (prompted_parts(mask, None) == mask).all()
    assert not prompted_parts(np.zeros((4, 4), bool), Prompt(((1, 1, True),))).any()


def test_the_answer_to_a_click_drops_a_detached_part_and_its_area():
    cfg = prompt_cfg()
    task = PromptTask(cfg, REF)
    g = Geometry.letterbox((60, 100), (64, 64))
    logits = np.where(g.image_to_model(_two_parts().astype(np.float32)) > 0.5, 5.0, -5.0).astype(np.float32)
    from engine.tasks.base import FrameContext

    ctx = FrameContext(0, np.zeros((60, 100)), g, Calibration())
    outputs = {"masks": np.stack([logits, logits]), "quality": np.array([0.9, 0.1])}
    whole = task.postprocess(outputs, ctx)
    clicked = task.postprocess(outputs, ctx, Prompt(((70, 45, True),)))
    assert clicked.mask.sum() < whole.mask.sum() and not clicked.mask[:, :50].any() and clicked.mask[45, 70]
    assert clicked.area.value == clicked.mask.sum() and clicked.alternative.sum() == clicked.mask.sum()


def test_a_prompt_head_is_no_task_of_an_automatic_run():
    cfg = prompt_cfg()
    assert "prompt" not in TASKS
    names = [t.info.name for t in resolve_tasks(cfg, "all", REF)]
    assert "prompt" not in names and "segmentation" in names
    with pytest.raises(TaskError, match="unknown task prompt"):
        resolve_tasks(cfg, ["prompt"], REF)


def test_each_click_reuses_the_frames_features_and_runs_the_head_alone(monkeypatch):
    cfg = prompt_cfg()
    loaded = loaded_model(cfg)
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    encoded = []
    run = predictor.encoder.run_device
    monkeypatch.setattr(predictor.encoder, "run_device", lambda inputs: encoded.append(1) or run(inputs))
    frame = np.zeros((80, 120), np.uint8)
    cv2.circle(frame, (60, 40), 15, 200, -1)
    prep = preprocess(frame, cfg)
    task = PromptTask(cfg, loaded.ref)
    prompt = Prompt(((60.0, 40.0, True),))
    first = segment(predictor, task, "f0", prep.image, prep.geometry, frame, 0, prompt)
    second = segment(
        predictor, task, "f0", prep.image, prep.geometry, frame, 0, prompt.with_point(5, 5, False)
    )
    assert len(encoded) == 1 and first.mask.shape == frame.shape and second.mask.shape == frame.shape
    with torch.no_grad():  # the same numbers as the module itself
        x = torch.from_numpy(prep.image[None])
        feats = loaded.module.forward_features(x)
        direct = loaded.module.heads["prompt"](
            feats, x, torch.from_numpy(prompt_maps(prompt, prep.geometry)[None])
        )
    assert first.quality == pytest.approx(float(direct["quality"][0].max()), abs=1e-5)
    with pytest.raises(TaskError, match="outside"):
        segment(predictor, task, "f0", prep.image, prep.geometry, frame, 0, Prompt(((500.0, 5.0, True),)))
    plain = loaded_model(all_heads_cfg(input_size=(64, 64), width=4))
    with pytest.raises(TaskError, match="has no prompt head"):
        Predictor(plain, backend="torch", device="cpu").run_prompted("prompt", ["k"], prep.image[None], {})


def test_an_output_stride_other_than_1_or_2_is_refused():
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        PromptHead(SPEC, width=8, stride=4)


@pytest.mark.parametrize("stride", [1, 2])
def test_the_head_learns_a_structure_and_the_one_around_it_from_one_click_and_the_metric_scores_both(stride):
    torch.manual_seed(0)
    head = PromptHead(SPEC, width=8, stride=stride)
    loss_fn = PromptLoss()
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    r2 = (xx - 36) ** 2 + (yy - 28) ** 2
    inner, outer = (r2 < 64).float(), (r2 < 256).float()  # a cavity, and the ventricle around it
    target = torch.stack([inner, outer])[None].repeat(4, 1, 1, 1)
    wall = outer - inner
    image = torch.stack([wall * 2 - 1, inner * 2 - 1, wall])[None].repeat(4, 1, 1, 1)
    feats = [
        torch.nn.functional.avg_pool2d(image[:, :1].repeat(1, c, 1, 1), s)
        for c, s in zip(SPEC.channels, SPEC.strides)
    ]
    prompt = torch.zeros(4, 4, 64, 64)
    prompt[:, 0] = torch.exp(-r2 / 8)  # one click in the cavity
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(80):
        loss = loss_fn(head(feats, image, prompt), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    with torch.no_grad():
        out = head(feats, image, prompt)
    assert float(loss.detach()) < 0.5 * first
    iou = mask_iou(out["masks"], target)
    assert float(iou[:, 0].mean()) > 0.8, "output 0: the structure under the click"
    assert float(iou[:, 1].mean()) > 0.8, "output 1: the structure around it"
    assert float(mask_iou(out["masks"], target[:, :1])[:, 1].mean()) < 0.5, "the two readings differ"
    metric = build_metric("prompt", None)
    metric.update(out, target, None)
    got = metric.compute()
    assert got["miou"] > 0.8 and got["miou_whole"] > 0.8


def test_the_larger_reading_of_a_click_is_the_structure_around_it_filled():
    from engine.heads.kinds.prompt import whole

    yy, xx = np.mgrid[:80, :80]
    r2 = (xx - 40) ** 2 + (yy - 40) ** 2
    labels = np.zeros((80, 80), np.uint8)
    labels[r2 < 15**2] = 2  # the myocardium ring ...
    labels[r2 < 9**2] = 1  # ... around the cavity
    labels[(xx > 70) & (yy > 70)] = 3  # a compact structure elsewhere
    ventricle = r2 < 15**2
    np.testing.assert_array_equal(whole(labels == 1, labels), ventricle)  # cavity -> the ventricle
    np.testing.assert_array_equal(whole(labels == 2, labels), ventricle)  # the wall -> filled
    np.testing.assert_array_equal(whole(labels == 3, labels), labels == 3)  # nothing around it
    np.testing.assert_array_equal(whole(labels == 1), labels == 1)  # no label map: itself, filled


def test_the_head_zooms_in_on_a_box_or_a_previous_mask_and_not_on_a_first_click():
    from engine.heads.kinds.prompt import zoom_crop

    assert zoom_crop(Prompt(((50.0, 40.0, True),)), (400, 600)) is None  # a first click: whole frame
    x0, y0, x1, y1 = zoom_crop(Prompt(box=(100.0, 100.0, 139.0, 139.0)), (400, 600))
    assert x0 < 100 and x1 > 139 and y0 < 100 and y1 > 139  # the box with a margin
    assert x1 - x0 >= 0.25 * 400 - 1 and (x1 - x0) * (y1 - y0) < 0.6 * 400 * 600
    mask = np.zeros((400, 600), np.float32)
    mask[200:220, 300:330] = 1.0
    crop = zoom_crop(Prompt(((500.0, 210.0, False),), mask=mask), (400, 600))
    assert crop[0] <= 300 and crop[2] > 500  # the mask and every click are inside
    assert zoom_crop(Prompt(box=(0.0, 0.0, 590.0, 390.0)), (400, 600)) is None  # nearly all: no zoom
