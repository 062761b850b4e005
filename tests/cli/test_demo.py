"""``python -m app.cli.demo`` (``make demo``): runs infer with a model on a sample and prints where
its outputs are; a missing model or sample ends in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.demo import main
from engine.config import ModelCfg

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "samples" / "cardiac_lv_cine.dcm"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random-weight model folder with every head (the demo path, not the demo weights)."""
    from safetensors.torch import save_file

    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.model_store import sha256_file
    from engine.tasks.presets import all_heads_cfg

    cfg: ModelCfg = all_heads_cfg(name="tiny-demo", input_size=(64, 64))
    model = create_model(cfg)
    folder = tmp_path_factory.mktemp("models") / "tiny-demo"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    card = ModelCard.from_cfg(cfg, weights_sha256=sha256_file(folder / "model.safetensors"))
    (folder / "card.json").write_text(card.to_json())
    return folder


def test_demo_writes_outputs_and_prints_where(tiny_model, tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["--sample", str(SAMPLE), "--out", str(out), "--model", str(tiny_model), "--frames", "0:4"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"Outputs in {out}:" in printed
    assert str(out / "results.json") in printed and (out / "results.json").is_file()
    assert str(out / "report.txt") in printed and (out / "report.txt").is_file()
    assert len(list((out / "overlays").glob("*.png"))) == 4
    assert "not for clinical use" in printed  # the card's statement of its training data


def test_missing_model_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.demo", "--sample", str(SAMPLE), "--out", str(tmp_path / "o"),
         "--model", "no-such-demo-model"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing" in lines[0] and "training.recipes.demo" in lines[0]
    assert not (tmp_path / "o").exists()


def test_missing_sample_is_one_line(tmp_path, capsys):
    assert main(["--sample", str(tmp_path / "none.dcm"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such sample" in err[0]
