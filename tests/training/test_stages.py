"""A model trained in stages records them in its card, and only a chain whose every stage starts
from the one before is recorded."""

import json

import pytest
import torch
from safetensors.torch import save_file

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard
from engine.model_store import sha256_file
from training.recipes.stages import main, record


def stage(folder, tensors, notes):
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    card = json.loads(ModelCard.from_cfg(ModelCfg("m", "echocare_test", "3", (64, 64))).to_json())
    card["notes"] = json.dumps(notes)
    (folder / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    return folder


@pytest.fixture
def chain(tmp_path):
    enc = {"encoder.w": torch.arange(4.0), "heads.seg.w": torch.ones(2)}
    first = stage(
        tmp_path / "long",
        enc,
        {
            "reproduce": "python -m training.recipes.demo --config a.yaml --out DIR",
            "config_file": "a.yaml",
            "config_sha256": "a" * 64,
            "ran": {"machine": "CPU X, 2 cores", "train_minutes": 99.0, "threads": 2},
        },
    )
    polished = {**enc, "heads.seg.w": torch.full((2,), 2.0)}
    second = stage(
        tmp_path / "polish",
        polished,
        {
            "reproduce": "python -m training.recipes.demo --config b.yaml --out DIR",
            "config_file": "b.yaml",
            "ran": {
                "machine": "CPU X, 2 cores",
                "train_minutes": 12.0,
                "start_from": {"name": "m", "weights_sha256": sha256_file(first / WEIGHTS_FILE)},
            },
        },
    )
    second_notes = json.loads(json.loads((second / CARD_FILE).read_text())["notes"])
    third = stage(
        tmp_path / "exam",
        {**polished, "heads.exam.w": torch.zeros(3)},
        {
            **second_notes,
            "exam_head": {
                "reproduce": "python -m training.recipes.exam --model x --out DIR",
                "machine": "CPU Y, 2 cores",
                "total_minutes": 6.8,
            },
        },
    )
    return [first, second, third]


def test_the_stages_are_checked_and_written_into_the_models_card(chain, tmp_path, capsys):
    model = tmp_path / "installed"
    model.mkdir()
    for name in (WEIGHTS_FILE, CARD_FILE):
        (model / name).write_bytes((chain[-1] / name).read_bytes())
    assert main([str(model), *map(str, chain)]) == 0
    notes = json.loads(ModelCard.from_json((model / CARD_FILE).read_text()).notes)
    stages = notes["stages"]
    assert [s["folder"] for s in stages] == [str(f) for f in chain]
    assert [s["minutes"] for s in stages] == [99.0, 12.0, 6.8]
    assert stages[0]["config_sha256"] == "a" * 64 and stages[2]["machine"] == "CPU Y, 2 cores"
    assert stages[2]["kind"].startswith("exam head") and stages[2]["tensors_unchanged"] == 2
    assert [s["weights_sha256"] for s in stages] == [sha256_file(f / WEIGHTS_FILE) for f in chain]
    assert "exam_head" in notes, "the card keeps what it had"
    assert "99.0 min on CPU X, 2 cores" in capsys.readouterr().out


def test_a_stage_that_does_not_start_from_the_one_before_is_refused(chain, capsys):
    with pytest.raises(ConfigError, match="does not start from"):
        record(chain[-1], [chain[1], chain[0]])  # out of order: the polish stage came second
    other = chain[0].parent / "other"
    tensors = {"encoder.w": torch.zeros(4), "heads.seg.w": torch.ones(2), "heads.exam.w": torch.zeros(3)}
    stage(other, tensors, json.loads(json.loads((chain[2] / CARD_FILE).read_text())["notes"]))
    with pytest.raises(ConfigError, match=r"encoder\.w changed"):
        record(other, [chain[0], chain[1], other])
    assert main([str(chain[1]), *map(str, chain)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not those of the last stage" in err[0]
