"""An imported encoder-only model gains every head with one command, then runs `infer --tasks auto`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from app.cli.main import main
from engine import model_store
from engine.factory import create_encoder

ROOT = Path(__file__).resolve().parents[2]
FETAL = ROOT / "resources" / "samples" / "fetal_head.dcm"
ALL_HEADS = {"exam", "classification", "segmentation", "detection", "landmarks", "regression", "enhancement",
             "report", "prompt"}  # fmt: skip


@pytest.fixture
def imported(tmp_path, monkeypatch, capsys):
    """A tiny encoder of the official layout (flat keys, mask token), imported as `echocare`."""
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    path = tmp_path / "echocare_encoder.pth"
    torch.save(create_encoder("echocare_test").state_dict(), path)
    assert main(["models", "import", str(path), "--name", "echocare"]) == 0
    capsys.readouterr()
    return tmp_path


def test_an_imported_encoder_gains_every_head_with_one_command_and_then_runs_auto(imported, capsys):
    tmp_path = imported
    assert (
        main(["infer", str(FETAL), "--model", "echocare", "--out", str(tmp_path / "before"), "--quiet"]) == 2
    )
    err = capsys.readouterr().err
    assert (
        "is an encoder only, with no task heads" in err and "echocare train heads --encoder echocare" in err
    )
    assert err.count("\n") == 1

    work = tmp_path / "work"
    argv = ["train", "heads", "--encoder", "echocare", "--recipe", str(ROOT / "configs" / "demo-smoke.yaml")]
    assert main([*argv, "--quick", "--out", str(work)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == "echocare@2" and set(summary["heads"]) == ALL_HEADS

    folder, card = model_store.locate("echocare")  # the new version is the active one
    assert card.version == "2" and card.lineage.parent == "1" and card.lineage.mode == "heads"
    assert "heads trained on simulated ultrasound only" in card.model.trained_on
    assert card.model.trained_on.startswith("encoder echocare v1 (imported from")
    assert card.model.calibration and card.model.exams  # the exam head's statistics and routing
    assert any(k.startswith("test.") for k in card.metrics)
    source, _card = model_store.locate("echocare@1")
    before = load_file(str(source / "model.safetensors"))
    after = load_file(str(folder / "model.safetensors"))
    assert before.keys() <= after.keys()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)

    out = tmp_path / "after"
    assert (
        main(["infer", str(FETAL), "--model", "echocare", "--tasks", "auto", "--out", str(out), "--quiet"])
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["name"] == "echocare" and results["model"]["version"] == "2"
    assert "exam" in results and set(results["tasks"]) <= ALL_HEADS


def test_a_model_name_that_is_not_stored_is_one_line(imported, capsys):
    argv = [
        "train",
        "heads",
        "--encoder",
        "nothing-here",
        "--recipe",
        str(ROOT / "configs" / "demo-smoke.yaml"),
    ]
    assert main([*argv, "--quick", "--out", str(imported / "w")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing-here" in err and err.count("\n") == 1
