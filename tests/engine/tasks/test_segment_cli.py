"""``echocare segment``: masks at the source's size and segment.json for a prompt and its
propagation; every bad prompt, frame or model ends with exit 2 and one line naming it. And the
prompt session behind it: frames encoded once, propagation outward from the prompted frame, each
frame prompted by a click (with a negative click inside a ring) and by a box."""

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from app.cli.main import main
from engine.config import HeadCfg
from engine.factory import create_model, load_model
from engine.heads.kinds.prompt import Prompt, PromptResult, hole, tight_box, widened
from engine.inference import Predictor
from engine.io import open_cine
from engine.model_card import ModelCard
from engine.model_store import save_version
from engine.tasks.presets import all_heads_cfg
from engine.tasks.prompting import BOX_MARGIN, WIDEN, PromptSession, Timed, centre


@pytest.fixture
def prompt_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    base = all_heads_cfg(name="echocare-prompt", input_size=(64, 64), width=4)
    cfg = replace(base, heads=(*base.heads, HeadCfg("prompt", "prompt", (), {"width": 8})))
    torch.manual_seed(0)
    return save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())


@pytest.fixture
def cine_file(tmp_path, beating, us_dicom):
    return us_dicom(tmp_path / "lv.dcm", beating(n=8, period=4), [(0, 0, 127, 95, 0.03, 0.03)])


def test_a_click_and_a_propagation_write_masks_and_segment_json(tmp_path, prompt_model, cine_file, capsys):
    out = tmp_path / "seg"
    argv = ["segment", str(cine_file), "--model", prompt_model.name, "--frame", "3", "--point", "64,48"]
    code = main([*argv, "--point", "5,5,bg", "--propagate", "1-6", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "segment.json").read_text())
    assert doc["schema"] == "echocare-segment/1" and doc["prompt"]["points"] == [
        [64, 48, True],
        [5, 5, False],
    ]
    assert [f["frame"] for f in doc["frames"]] == [1, 2, 3, 4, 5, 6]
    for f in doc["frames"]:
        mask = cv2.imread(str(out / f["mask_png"]), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (96, 128) and set(np.unique(mask)) <= {0, 255}
        assert f["area"]["unit"] == "mm2"
        assert f["area"]["value"] == pytest.approx((mask == 255).sum() * 0.09, abs=0.01)
        assert 0 <= f["quality"] <= 1 and f["ms"] > 0
        assert "alternative_png" not in f or f["frame"] == 3, "only the prompted frame's other reading"
    assert "frame 3:" in capsys.readouterr().out


def test_the_other_reading_is_written_beside_the_mask(tmp_path, prompt_model, cine_file, capsys):
    loaded = load_model(prompt_model.name, device="cpu")
    cfg, state = loaded.cfg, {k: v.clone() for k, v in loaded.module.state_dict().items()}
    state["heads.prompt.out.weight"][1] = 0.0  # the second output: the whole frame, rated high
    state["heads.prompt.out.bias"][1] = 5.0
    state["heads.prompt.quality.2.bias"][:] = 8.0
    two = save_version(ModelCard.from_cfg(replace(cfg, version="2")), state)
    out = tmp_path / "seg"
    argv = ["segment", str(cine_file), "--model", f"{two.name}@{two.version}", "--point", "64,48"]
    assert main([*argv, "--out", str(out)]) == 0
    (f,) = json.loads((out / "segment.json").read_text())["frames"]
    other = cv2.imread(str(out / f["alternative_png"]), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(out / f["mask_png"]), cv2.IMREAD_UNCHANGED)
    assert other.shape == mask.shape == (96, 128) and (other == 255).all()
    assert (mask == 255).sum() < other.size, "the answer itself is the first output's"
    assert f["alternative_area"]["value"] == pytest.approx(96 * 128 * 0.09, abs=0.01)
    assert f["alternative_quality"] > 0.9
    printed = capsys.readouterr().out
    assert "other reading 1105.9 mm2" in printed
    assert f["unsure"] is False and "unsure" not in printed, "quality near 1"


def test_a_mask_the_head_is_unsure_of_is_marked_so(tmp_path, prompt_model, cine_file, capsys):
    loaded = load_model(prompt_model.name, device="cpu")
    cfg, state = loaded.cfg, {k: v.clone() for k, v in loaded.module.state_dict().items()}
    state["heads.prompt.quality.2.bias"][:] = -8.0  # predicted IoU near 0
    doubtful = save_version(ModelCard.from_cfg(replace(cfg, version="3")), state)
    out = tmp_path / "seg"
    argv = ["segment", str(cine_file), "--model", f"{doubtful.name}@{doubtful.version}", "--point", "64,48"]
    assert main([*argv, "--out", str(out)]) == 0
    (f,) = json.loads((out / "segment.json").read_text())["frames"]
    assert f["quality"] < 0.5 and f["unsure"] is True
    assert "unsure: add a point or a box" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--point", "500,5"], "point (500, 5) is outside the 128x96 image"),
        (["--box", "10,10,10,40"], "box (10, 10, 10, 40) is empty"),
        (["--point", "5,5", "--frame", "8"], "frame 8 is out of range (the cine has 8 frames)"),
        (["--point", "5,5", "--propagate", "0-9"], "frame 9 is out of range"),
        (["--point", "5;5"], "--point '5;5' is not X,Y or X,Y,bg"),
        ([], "no prompt"),
    ],
)
def test_bad_input_ends_with_exit_2_and_one_line(tmp_path, prompt_model, cine_file, capsys, extra, message):
    code = main(
        ["segment", str(cine_file), "--model", prompt_model.name, "--out", str(tmp_path / "o"), *extra]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "segment.json").exists()


def test_a_model_without_a_prompt_head_says_so(tmp_path, monkeypatch, cine_file, capsys):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    cfg = all_heads_cfg(input_size=(64, 64), width=4)
    card = save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    code = main(
        ["segment", str(cine_file), "--model", card.name, "--point", "5,5", "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "has no prompt head" in capsys.readouterr().err


def test_the_session_encodes_each_frame_once_and_propagates_outward(prompt_model, cine_file, monkeypatch):
    loaded = load_model(prompt_model.name, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    encoded = []
    run = predictor.encoder.run_device
    monkeypatch.setattr(predictor.encoder, "run_device", lambda inputs: encoded.append(1) or run(inputs))
    with open_cine(cine_file) as cine:
        session = PromptSession(cine, predictor)
        assert session.warm([2, 3, 4]) == 3 and session.is_ready(3) and not session.is_ready(5)
        first = session.segment(3, Prompt(((64.0, 48.0, True),)))
        again = session.segment(3, Prompt(((64.0, 48.0, True), (5.0, 5.0, False))))
        assert len(encoded) == 3 and not first.encoded and not again.encoded
        mask = np.zeros((96, 128), bool)
        mask[30:60, 40:90] = True  # a mask to carry, whatever the untrained head answered
        encoded.clear()
        frames = [t.result.frame for t in session.propagate(3, mask, 1, 6)]
    assert frames[:3] == [4, 5, 6] and frames[3:] == [2, 1][: len(frames) - 3]
    assert len(encoded) == len(frames), "one zoomed crop encoded per carried frame, shared by both prompts"


def test_centre_is_the_point_farthest_from_the_outline():
    mask = np.zeros((40, 60), bool)
    mask[10:30, 5:55] = True
    x, y = centre(mask)
    assert 19 <= y <= 20 and 14 <= x <= 45 and centre(np.zeros((4, 4), bool)) is None


def test_hole_is_the_middle_of_what_a_ring_encloses_and_none_for_a_compact_mask():
    yy, xx = np.mgrid[:80, :80]
    r = np.hypot(xx - 40, yy - 36)
    x, y = hole((r >= 15) & (r < 22))
    assert abs(x - 40) <= 1 and abs(y - 36) <= 1
    assert hole(r < 22) is None and hole(np.zeros((8, 8), bool)) is None


def test_propagation_keeps_the_answer_with_the_higher_predicted_iou(prompt_model, cine_file, monkeypatch):
    loaded = load_model(prompt_model.name, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    yy, xx = np.mgrid[:96, :128]
    ring = (np.hypot(xx - 64, yy - 48) >= 12) & (np.hypot(xx - 64, yy - 48) < 20)
    asked, crops = [], []

    def answer(index, prompt, around=None):  # the box wins on frame 4, the click on frame 5
        asked.append((index, prompt))
        crops.append(around)
        by_box = prompt.box is not None
        quality = 0.9 if by_box == (index == 4) else 0.5
        mask = ring if by_box else ~ring
        return Timed(PromptResult(index, mask, quality, mask, 0.0, None, None), 1.0, False)

    with open_cine(cine_file) as cine:
        session = PromptSession(cine, predictor)
        monkeypatch.setattr(session, "segment", answer)
        kept = {t.result.frame: t.result.mask for t in session.propagate(3, ring, 3, 5)}
    click, box = asked[0][1], asked[1][1]
    assert [p[2] for p in click.points] == [True, False] and click.mask is not None and click.box is None
    negative = click.points[1]
    assert abs(negative[0] - 64) <= 1 and abs(negative[1] - 48) <= 1  # in the ring's middle
    ys, xs = np.nonzero(ring)
    w, h = xs.max() - xs.min(), ys.max() - ys.min()
    grown = (
        xs.min() - BOX_MARGIN * w,
        ys.min() - BOX_MARGIN * h,
        xs.max() + BOX_MARGIN * w,
        ys.max() + BOX_MARGIN * h,
    )
    assert box.box == pytest.approx(grown) and not box.points
    shown = click.mask > 0.5  # the ring, widened: it still encloses its hole
    assert shown[ring].all() and shown.sum() > ring.sum() and not shown[48, 64]
    assert (kept[4] == ring).all() and (kept[5] == ~ring).all()
    assert crops[0] is crops[1] and crops[0].box == box.box and crops[0].mask is click.mask, (
        "one crop holds both"
    )


def test_widened_grows_a_mask_by_a_share_of_its_inscribed_radius():
    yy, xx = np.mgrid[:200, :200]
    disc = np.hypot(xx - 100, yy - 100) < 50
    wall = np.zeros((200, 200), bool)
    wall[40:160, 98:103] = True  # 5 px thick: inscribed radius about 3
    grown = widened(disc, 0.12)  # inscribed radius 49: six pixels on each side
    assert grown[disc].all() and grown.sum(axis=1)[100] == disc.sum(axis=1)[100] + 12
    thin = widened(wall, 0.12)  # at least one pixel, never the blob's six
    assert thin.sum(axis=1)[100] == 7


def test_a_grown_box_stays_inside_the_frame():
    mask = np.zeros((50, 80), bool)
    mask[2:20, 60:79] = True
    assert tight_box(mask) == (60.0, 2.0, 78.0, 19.0)
    x0, y0, x1, y1 = tight_box(mask, 0.25)
    assert (x0, y0) == pytest.approx((55.5, 0.0)) and (x1, y1) == pytest.approx((79.0, 23.25))


def test_propagation_passes_the_previous_mask_on_as_it_is_when_asked(prompt_model, cine_file, monkeypatch):
    loaded = load_model(prompt_model.name, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    mask = np.zeros((96, 128), bool)
    mask[30:60, 40:90] = True
    asked = []

    def answer(index, prompt, around=None):
        asked.append(prompt)
        return Timed(PromptResult(index, mask, 0.9, mask, 0.0, None, None), 1.0, False)

    with open_cine(cine_file) as cine:
        session = PromptSession(cine, predictor)
        monkeypatch.setattr(session, "segment", answer)
        list(session.propagate(3, mask, 3, 4, widen=0.0, box_margin=0.0))
        list(session.propagate(3, mask, 3, 4))
    assert ((asked[0].mask > 0.5) == mask).all() and asked[1].box == tight_box(mask)
    assert ((asked[2].mask > 0.5) == widened(mask, WIDEN)).all() and asked[3].box == tight_box(
        mask, BOX_MARGIN
    )
