"""Bad configs end with one line `error: PATH: reason` (exit 2) before any work starts."""

from __future__ import annotations

import pytest
import yaml

from app.cli.main import main
from engine.config_files import from_dict
from engine.errors import ConfigError
from training.config import FinetuneCfg, PretrainCfg, load_finetune_cfg


def _run(capsys, tmp_path, action: str, data: dict) -> tuple[int, str]:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(data))
    code = main(["train", action, "--config", str(cfg), "--quiet"])
    err = capsys.readouterr().err
    return code, err


def _finetune(tmp_path, **over) -> dict:
    data = {
        "model": "echocare_test",
        "heads": ["segmentation"],
        "input_size": [64, 64],
        "data": {"source": "sim", "count": 8},
        "run": {"out_dir": str(tmp_path / "out"), "device": "cpu"},
    }
    data.update(over)
    return data


def _assert_one_line(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_key_is_rejected(capsys, tmp_path):
    code, err = _run(
        capsys, tmp_path, "finetune", _finetune(tmp_path, optim={"lr": 0.01, "learning_rate": 1})
    )
    _assert_one_line(code, err, "run.yaml", "unknown key 'learning_rate' in optim")
    assert not (tmp_path / "out").exists()


def test_unknown_top_level_key_in_pretraining_is_rejected(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "pretrain", {"arch": "echocare_test", "epochz": 3})
    _assert_one_line(code, err, "unknown key 'epochz'")


def test_missing_data_folder(capsys, tmp_path):
    missing = tmp_path / "no_such_folder"
    data = {
        "arch": "echocare_test",
        "input_size": [64, 64],
        "data": {"source": "folders", "paths": [str(missing)]},
        "run": {"out_dir": str(tmp_path / "out")},
    }
    code, err = _run(capsys, tmp_path, "pretrain", data)
    _assert_one_line(code, err, str(missing), "data folder does not exist")
    assert not (tmp_path / "out").exists()


def test_data_folder_without_ultrasound_files(capsys, tmp_path):
    empty = tmp_path / "notes"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    data = {"arch": "echocare_test", "input_size": [64, 64], "data": {"paths": [str(empty)]}}
    data["run"] = {"out_dir": str(tmp_path / "out")}
    code, err = _run(capsys, tmp_path, "pretrain", data)
    _assert_one_line(code, err, str(empty), "no readable")
    assert not (tmp_path / "out").exists()


def test_no_labels_for_a_chosen_head(capsys, tmp_path):
    # simulated vessels carry masks and boxes but no class: the classification head has no labels
    data = _finetune(tmp_path, heads=["segmentation", "classification"], data={"source": "sim", "count": 4})
    data["data"]["scene"] = "vessels"
    code, err = _run(capsys, tmp_path, "finetune", data)
    _assert_one_line(code, err, "no labels for head 'classification'")
    assert not (tmp_path / "out").exists()


def test_unknown_head_and_wrong_types(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_finetune(tmp_path, heads=["segmentation", "doppler"])))
    with pytest.raises(ConfigError, match="unknown head 'doppler'"):
        load_finetune_cfg(cfg)
    with pytest.raises(ConfigError, match=r"optim\.batch_size must be int"):
        from_dict(FinetuneCfg, {"optim": {"batch_size": "eight"}})
    with pytest.raises(ConfigError, match="input_size must have 2 items"):
        from_dict(PretrainCfg, {"input_size": [64, 64, 64]})


def test_a_good_config_round_trips_with_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_finetune(tmp_path, mode="lora", lora_rank=2)))
    parsed = load_finetune_cfg(cfg, {"optim": {"lr": 0.5}, "run": {"epochs": 3}})
    assert parsed.mode == "lora" and parsed.lora_rank == 2
    assert parsed.optim.lr == 0.5 and parsed.run.epochs == 3
    assert parsed.input_size == (64, 64) and parsed.data.count == 8


def test_example_configs_parse():
    from pathlib import Path

    from engine.config_files import read_mapping

    root = Path(__file__).resolve().parents[2] / "configs"
    pretrain, finetune = sorted(root.glob("pretrain-*.yaml")), sorted(root.glob("finetune-*.yaml"))
    assert pretrain and finetune
    for f in pretrain:
        from_dict(PretrainCfg, read_mapping(f), str(f))
    for f in finetune:
        from_dict(FinetuneCfg, read_mapping(f), str(f))
