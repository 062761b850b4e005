"""`echocare infer` end to end with a stored tiny all-heads model on a multi-frame DICOM."""

import json
import re

import cv2
import pytest

from app.cli.main import main
from engine.model_card import ModelCard
from engine.model_store import save_version
from engine.results_json import SCHEMA, read_results

TASKS = [
    "exam", "classification", "segmentation", "detection", "landmarks", "regression", "enhancement",
    "report",
]  # fmt: skip


@pytest.fixture
def stored_model(tmp_path, monkeypatch, tiny):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    cfg, module, _ = tiny
    card = save_version(ModelCard.from_cfg(cfg), module.state_dict())
    return card


def test_infer_writes_all_eight_tasks(tmp_path, stored_model, beating, us_dicom, capsys):
    path = us_dicom(tmp_path / "lv.dcm", beating(n=6, period=3), [(0, 0, 127, 95, 0.03, 0.03)])
    out = tmp_path / "out"
    code = main(["infer", str(path), "--model", stored_model.name, "--tasks", "all", "--out", str(out)])
    assert code == 0
    doc = read_results(out / "results.json")
    assert doc["schema"] == SCHEMA and list(doc["tasks"]) == TASKS
    assert doc["model"] == {"name": "echocare-all", "version": "1", "sha256": stored_model.weights_sha256}
    assert doc["source"]["frames"] == 6 and doc["source"]["calibrated"] and doc["frames"] == list(range(6))
    seg = doc["tasks"]["segmentation"]["frames"][2]
    mask = cv2.imread(str(out / seg["mask_png"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (96, 128) and seg["pixel_counts"]["lv"] == int((mask == 1).sum())
    assert seg["areas"][0]["unit"] == "mm2"
    assert seg["areas"][0]["value"] == pytest.approx((mask == 1).sum() * 0.3 * 0.3, abs=1e-3)
    enhanced = cv2.imread(str(out / doc["tasks"]["enhancement"]["frames"][0]["png"]), cv2.IMREAD_UNCHANGED)
    assert enhanced.shape == (96, 128)
    assert len(list((out / "overlays").glob("*.png"))) == 6
    assert (out / doc["files"]["overlay_video"]).stat().st_size > 0
    report = (out / "report.txt").read_text()
    assert report == doc["tasks"]["report"]["text"] and "Findings:" in report
    ef = doc["tasks"]["regression"]["cine"][-1]
    assert ef["kind"] == "ejection_fraction" and ef["volume_unit"] == "ml"
    assert "infer" in capsys.readouterr().err  # the progress bar


def test_model_folder_and_frames_and_quiet(tmp_path, stored_model, beating, us_dicom, capsys):
    from engine.model_store import locate

    folder, _ = locate(stored_model.name)
    path = us_dicom(tmp_path / "raw.dcm", beating(n=5))
    out = tmp_path / "o"
    argv = [
        "infer",
        str(path),
        "--model",
        str(folder),
        "--tasks",
        "segmentation,landmarks",
        "--backend",
        "torch",
    ]
    assert main([*argv, "--out", str(out), "--frames", "1:5:2", "--quiet", "--no-overlays"]) == 0
    assert capsys.readouterr().err == ""
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["tasks"]) == ["segmentation", "landmarks"] and doc["frames"] == [1, 3]
    area = doc["tasks"]["segmentation"]["frames"][0]["areas"][0]
    assert (area["unit"], area["calibrated"]) == ("px2", False)
    assert doc["tasks"]["landmarks"]["frames"][0]["measurements"][0]["unit"] == "px"


@pytest.mark.parametrize(
    ("spec", "frames"),
    [("0-3", [0, 1, 2, 3]), ("0,5,10-20", [0, 5, *range(10, 21)]), ("20, 3:6, 4", [3, 4, 5, 20])],
)
def test_frames_take_indices_inclusive_ranges_and_slices(
    tmp_path, stored_model, beating, us_dicom, spec, frames
):
    path = us_dicom(tmp_path / "long.dcm", beating(n=24, h=32, w=40))
    out = tmp_path / "o"
    argv = ["infer", str(path), "--model", stored_model.name, "--tasks", "classification", "--out", str(out)]
    assert main([*argv, "--frames", spec, "--quiet", "--no-overlays"]) == 0
    doc = read_results(out / "results.json")
    assert doc["frames"] == frames
    assert [f["frame"] for f in doc["tasks"]["classification"]["frames"]] == frames


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--tasks", "tumour"], r"unknown task tumour"),
        (["--model", "no-such-model"], r"no-such-model: no such model"),
        (["--frames", "99"], r"frames '99': out of range \(the cine has frames 0-2\)"),
        (["--frames", "2-1"], r"frames '2-1': range 2-1 runs backwards"),
    ],
)
def test_bad_task_model_or_frames_give_one_line_errors(
    tmp_path, stored_model, beating, us_dicom, capsys, args, pattern
):
    path = us_dicom(tmp_path / "x.dcm", beating(n=3))
    base = {"--model": stored_model.name, "--tasks": "all", "--frames": "all"}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    argv = ["infer", str(path), "--out", str(tmp_path / "o"), "--quiet"]
    for k, v in base.items():
        argv += [k, v]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and re.search(pattern, err)


def test_model_lacking_a_head(tmp_path, monkeypatch, tiny, beating, us_dicom, capsys):
    from dataclasses import replace

    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    cfg, module, _ = tiny
    small = replace(cfg, name="seg-only", heads=tuple(h for h in cfg.heads if h.name == "segmentation"))
    state = {
        k: v for k, v in module.state_dict().items() if not k.startswith("heads.") or ".segmentation." in k
    }
    save_version(ModelCard.from_cfg(replace(small, measurements=())), state)
    path = us_dicom(tmp_path / "x.dcm", beating(n=2))
    argv = ["infer", str(path), "--model", "seg-only", "--tasks", "report", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no report head" in err


def test_an_out_path_that_is_a_file_fails_before_the_model_runs(
    tmp_path, stored_model, beating, us_dicom, capsys, monkeypatch
):
    from engine.tasks import runner

    def never(*_args, **_kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr(runner, "run_tasks", never)
    path = us_dicom(tmp_path / "x.dcm", beating(n=2))
    taken = tmp_path / "taken"
    taken.write_text("the user's file")
    assert main(["infer", str(path), "--model", stored_model.name, "--out", str(taken), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{taken}: the output path is a file" in err
    assert taken.read_text() == "the user's file"


def test_an_output_file_that_cannot_be_written_is_one_line_and_keeps_older_results(
    tmp_path, stored_model, beating, us_dicom, capsys
):
    path = us_dicom(tmp_path / "x.dcm", beating(n=2))
    out = tmp_path / "o"
    argv = ["infer", str(path), "--model", stored_model.name, "--out", str(out), "--quiet"]
    assert main([*argv, "--tasks", "classification"]) == 0
    before = (out / "results.json").read_bytes()
    (out / "masks").write_text("a file where the masks folder goes")
    assert main([*argv, "--tasks", "segmentation"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out}: cannot write the run's files" in err
    assert (out / "results.json").read_bytes() == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
