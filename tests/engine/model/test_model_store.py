"""The model store: immutable versions, sha256 on load, active pointer, rollback, removal."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from engine import model_store
from engine.errors import ConfigError, ModelError
from engine.factory import create_model, load_model
from engine.model_card import Lineage, ModelCard


def _save(cfg, **extra):
    model = create_model(cfg)
    card = ModelCard.from_cfg(replace(cfg, version=""), **extra)
    return model, model_store.save_version(card, model.state_dict())


def test_saved_version_loads_with_identical_outputs(tiny_cfg, private_store):
    model, card = _save(tiny_cfg, metrics={"auc": 0.5})
    assert card.version == "1"
    folder = private_store / "tiny" / "1"
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.safetensors"]
    assert card.weights_sha256 == model_store.sha256_file(folder / "model.safetensors")
    stored = json.loads((folder / "card.json").read_text())
    assert stored["model"]["arch"] == "echocare_test" and stored["model"]["heads"][0]["labels"] == ["a", "b"]

    loaded = load_model("tiny", device="cpu")
    assert not loaded.module.training
    assert loaded.ref.version == "1" and loaded.ref.sha256 == card.weights_sha256
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        want, got = model.eval()(x), loaded.module(x)
    torch.testing.assert_close(got["classification"]["logits"], want["classification"]["logits"])


def test_tampered_weights_are_refused(tiny_cfg, private_store):
    _save(tiny_cfg)
    weights = private_store / "tiny" / "1" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 differs"):
        load_model("tiny", device="cpu")


def test_versions_are_immutable_and_activation_rolls_back(tiny_cfg, private_store):
    _save(tiny_cfg)
    _, second = _save(tiny_cfg, lineage=Lineage(parent="1"))
    assert second.version == "2" and model_store.active_version("tiny") == "2"
    with pytest.raises(ModelError, match="immutable"):
        model_store.save_version(second, create_model(tiny_cfg).state_dict())
    assert model_store.rollback("tiny") == "1"
    assert load_model("tiny", device="cpu").ref.version == "1"
    assert load_model("tiny@2", device="cpu").ref.version == "2"
    assert [c.version for c in model_store.list_cards() if c.name == "tiny"] == ["1", "2"]
    assert not any(p.name.startswith(".tmp") for p in (private_store / "tiny").iterdir())
    assert model_store.remove_version("tiny", "1") == ["1"]
    assert model_store.active_version("tiny") == "2"
    model_store.remove_version("tiny")
    with pytest.raises(ModelError, match="no such model"):
        load_model("tiny", device="cpu")


def test_bad_cards_are_one_line_errors(tmp_path):
    (tmp_path / "card.json").write_text('{"name": "x", "version": "1", "architecture": "a", "colour": 1}')
    with pytest.raises(ConfigError, match="unknown model card keys: colour"):
        model_store.locate(tmp_path)
    (tmp_path / "card.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not a model card"):
        model_store.locate(tmp_path)


def test_user_root_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("ECHOCARE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(model_store.sys, "platform", "linux")
    assert model_store.user_root() == tmp_path / "echocare-studio" / "models"
