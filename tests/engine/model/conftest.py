"""Fixtures for the engine model tests: a private model store and a tiny model config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.config import HeadCfg, ModelCfg
from engine.heads.base import HEADS, FeatureSpec, register_head

TEST_HEAD = "test_pool_linear"

if TEST_HEAD not in HEADS:

    @register_head(TEST_HEAD)
    class PoolLinearTestHead(nn.Module):
        """Pools the deepest level and maps it to ``n_out`` scores (a test-only head)."""

        def __init__(self, spec: FeatureSpec, n_out: int = 2) -> None:
            super().__init__()
            self.fc = nn.Linear(spec.channels[-1], n_out)

        def forward(self, feats: list[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
            pooled = feats[-1].mean(dim=(2, 3))
            return {"logits": self.fc(pooled), "image_mean": image.mean(dim=(1, 2, 3))[:, None]}


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    """Point the user model store at a fresh temporary folder."""
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    return tmp_path / "home" / "models"


@pytest.fixture(scope="session")
def tiny_cfg() -> ModelCfg:
    """A two-head model on the tiny encoder at 64x64."""
    return ModelCfg(
        name="tiny",
        arch="echocare_test",
        input_size=(64, 64),
        heads=(
            HeadCfg("classification", TEST_HEAD, labels=("a", "b"), params={"n_out": 2}),
            HeadCfg("regression", TEST_HEAD, labels=("x",), params={"n_out": 1}),
        ),
    )
