"""Shared fixtures of the app tests; Qt runs offscreen and user folders live in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from engine.io.calibration import Calibration, Region
from engine.io.memory import ArrayCine

MM_PER_PX = 0.25  # the calibrated fixture's tissue region scale


BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path, monkeypatch):
    from engine import model_store

    monkeypatch.setenv("ECHOCARE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ECHOCARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))  # the user model store
    # the model list holds what each test stores; ``bundled_models`` brings back the shipped ones
    monkeypatch.setattr(model_store, "BUNDLED_ROOT", tmp_path / "bundled-models")


@pytest.fixture
def bundled_models(monkeypatch):
    """The models shipped in resources/models (the demo model) are in the model list."""
    from engine import model_store

    monkeypatch.setattr(model_store, "BUNDLED_ROOT", BUNDLED_MODELS)
    return BUNDLED_MODELS


def make_frames(n: int = 12, h: int = 120, w: int = 160) -> np.ndarray:
    """A moving bright disk on speckle: enough to see frames change."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    frames = rng.integers(0, 60, size=(n, h, w)).astype(np.uint8)
    for i in range(n):
        frames[i][(xx - 40 - 5 * i) ** 2 + (yy - 60) ** 2 < 200] = 200
    return frames


def two_region_calibration(h: int = 120, w: int = 160) -> Calibration:
    """Left half: tissue at 0.25 mm/px; right half: a second tissue region at 0.5 mm/px."""
    left = Region(0, 0, w // 2 - 1, h - 1, MM_PER_PX, MM_PER_PX, "mm", "mm", "tissue", 1)
    right = Region(w // 2, 0, w - 1, h - 1, 0.5, 0.5, "mm", "mm", "tissue", 1)
    return Calibration(regions=(left, right), source="regions")


@pytest.fixture
def cine() -> ArrayCine:
    return ArrayCine(make_frames(), fps=25.0, calibration=two_region_calibration(), path="memory.npy")


@pytest.fixture
def mm_per_px() -> float:
    """The tissue scale of the left region of ``cine``."""
    return MM_PER_PX


def npy_opener(path):
    """Read a ``.npy`` clip written by ``sample_file`` (calibrated as ``cine``)."""
    from engine.errors import ReadError

    try:
        frames = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ReadError(path, f"not a readable clip ({type(err).__name__})") from None
    return ArrayCine(frames, fps=25.0, calibration=two_region_calibration(), path=str(path))


@pytest.fixture
def sample_file(tmp_path):
    """A 12-frame calibrated clip on disk, outside the project folder."""
    path = tmp_path / "clips" / "sample.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, make_frames())
    return path


@pytest.fixture
def opener():
    """The study reader the app tests use: ``npy_opener``."""
    return npy_opener


SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "cardiac_lv_cine.dcm"


@pytest.fixture
def cardiac_sample() -> Path:
    """The bundled, calibrated cardiac cine (read with the real ``open_cine``)."""
    assert SAMPLE.exists(), f"missing bundled sample {SAMPLE}"
    return SAMPLE
