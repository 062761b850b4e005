"""Fixtures of the performance-path tests: a private store and a tiny seven-head model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.factory import LoadedModel, create_model
from engine.model_card import ModelCard
from engine.provenance import ModelRef
from engine.tasks.presets import all_heads_cfg


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)


@pytest.fixture()
def tiny() -> LoadedModel:
    """The tiny encoder with all seven heads at 64x64, random weights."""
    cfg = all_heads_cfg(arch="echocare_test", input_size=(64, 64), width=4)
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    return LoadedModel(
        ModelCard.from_cfg(cfg), model, ModelRef(cfg.name, "1", "tiny"), torch.device("cpu"), Path()
    )
