"""``auto`` by measurement: the candidates, the choice from (fake) timings and agreement, the cache."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine import agreement, model_store
from engine.backends import measured
from engine.backends.base import BackendChoice
from engine.backends.measured import ChoiceCache, Trial, candidate_choices, fastest_agreeing
from engine.backends.onnx_backend import OnnxBackend
from engine.backends.torch_backend import TorchBackend
from engine.factory import create_model, load_model
from engine.inference import Predictor
from engine.model_card import ModelCard

TORCH = BackendChoice("torch", "cpu", "fp32")
ONNX = BackendChoice("onnx", "cpu", "fp32")
BF16 = BackendChoice("torch", "cpu", "bf16")


def test_bf16_is_a_cpu_candidate_only_with_amx():
    assert candidate_choices("auto", "cpu", amx=False) == (TORCH, ONNX)
    assert candidate_choices("auto", "cpu", amx=True) == (TORCH, ONNX, BF16)
    assert candidate_choices("torch", "cpu", amx=True) == (TORCH, BF16)
    assert candidate_choices("torch", "cpu", amx=False) == (TORCH,)
    assert candidate_choices("onnx", "cpu", amx=True) == (ONNX,)
    assert candidate_choices("auto", "cpu", "fp32", amx=True) == ()  # a fixed precision is not measured


@pytest.mark.parametrize(
    ("bf16_ms", "bf16_agrees", "expected"),
    [(484.0, True, BF16), (484.0, False, ONNX), (1500.0, True, ONNX)],
    ids=["faster-and-agrees", "disagrees", "slower"],
)
def test_the_fastest_agreeing_candidate_wins(bf16_ms, bf16_agrees, expected):
    trials = [Trial(TORCH, 1200.0, True), Trial(ONNX, 967.0, True), Trial(BF16, bf16_ms, bf16_agrees)]
    assert fastest_agreeing(trials) == expected


def test_a_failing_candidate_is_ruled_out():
    def prepare(choice):
        if choice == BF16:
            raise RuntimeError("no bf16 kernel for this op\nstack")
        return lambda: 1.0

    found = measured.measure((TORCH, BF16), prepare, 2, lambda ref, got: None)
    assert found.chosen == TORCH
    assert found.trials[1] == Trial(BF16, float("inf"), False, "failed: no bf16 kernel for this op")


@pytest.fixture(scope="module")
def tiny_export(tiny_cfg, tmp_path_factory):
    """One tiny model's weights and their ONNX export folder, shared by the tests here."""
    import torch

    from engine.export.onnx import export_model

    torch.manual_seed(0)
    model = create_model(tiny_cfg)
    folder = tmp_path_factory.mktemp("onnx")
    export_model(model, folder)
    return model.state_dict(), folder


@pytest.fixture
def stored(tiny_cfg, tiny_export):
    model_store.save_version(ModelCard.from_cfg(replace(tiny_cfg, version="")), tiny_export[0])
    return load_model("tiny", device="cpu")


@pytest.fixture
def onnx_dir(tiny_export):
    return tiny_export[1]


class FakeClock:
    """Stands in for ``measured.time_candidate``: runs the candidate, reports a set time for it,
    and hands its outputs on tagged with the candidate (for a stand-in agreement check)."""

    def __init__(self, ms):
        self.ms = ms
        self.timed: list[BackendChoice] = []

    def __call__(self, choice, run, frames):
        self.timed.append(choice)
        return (choice, run()), self.ms[choice]


def _measure(pred, images, results=lambda out: out):
    return pred.measure_choice(["a", "b"], images, ["classification", "regression"], results)


@pytest.mark.parametrize(
    ("bf16_ms", "bf16_differs", "expected"),
    [(484.0, False, BF16), (484.0, True, ONNX), (1500.0, False, ONNX)],
    ids=["faster-and-agrees", "disagrees", "slower"],
)
def test_auto_measures_once_per_machine_and_model(stored, onnx_dir, tmp_path, monkeypatch, bf16_ms,
                                                  bf16_differs, expected):  # fmt: skip
    monkeypatch.setattr(measured, "cpu_has_amx", lambda: True)
    clock = FakeClock({TORCH: 1200.0, ONNX: 967.0, BF16: bf16_ms})
    monkeypatch.setattr(measured, "time_candidate", clock)
    compared = []

    def differs(ref, got, where="result"):
        assert ref[0] == TORCH
        compared.append(got[0])
        return "Dice 0.9 < 0.99" if bf16_differs and got[0] == BF16 else None

    monkeypatch.setattr(agreement, "first_difference", differs)
    cache = ChoiceCache(tmp_path / "choice.json")
    pred = Predictor(stored, backend="auto", device="cpu", onnx_dir=onnx_dir, choices=cache)
    assert pred.undecided and pred.candidates == (TORCH, ONNX, BF16)
    images = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    found = _measure(pred, images)
    assert clock.timed == [TORCH, ONNX, BF16] * measured.ROUNDS and compared == [ONNX, BF16]
    assert found.chosen == expected == pred.choice and not pred.undecided
    assert [t.agrees for t in found.trials] == [True, True, not bf16_differs]
    assert isinstance(pred.encoder, OnnxBackend if expected == ONNX else TorchBackend)
    assert getattr(pred.encoder, "precision", "fp32") == expected.precision
    assert len(pred.cache) == 2, "the winner's features of the measured frames are kept"
    hits, misses = pred.cache.hits, pred.cache.misses
    pred.run_heads(["a", "b"], images, ["classification"])
    assert (pred.cache.hits, pred.cache.misses) == (hits + 2, misses), "no second encoder pass"

    again = Predictor(stored, backend="auto", device="cpu", onnx_dir=onnx_dir, choices=cache)
    assert not again.undecided and again.choice == expected and again.measurement == found
    assert _measure(again, images) is None and len(clock.timed) == 3 * measured.ROUNDS, "measured once"


def test_without_amx_auto_compares_the_fp32_paths(stored, onnx_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(measured, "cpu_has_amx", lambda: False)
    clock = FakeClock({TORCH: 900.0, ONNX: 967.0})
    monkeypatch.setattr(measured, "time_candidate", clock)
    pred = Predictor(stored, "auto", "cpu", onnx_dir=onnx_dir, choices=ChoiceCache(tmp_path / "c.json"))
    images = np.random.default_rng(1).random((2, 3, 64, 64), dtype=np.float32)
    found = _measure(pred, images, lambda tagged: tagged[1])  # the real check: ORT matches torch fp32
    assert clock.timed == [TORCH, ONNX] * measured.ROUNDS and [t.agrees for t in found.trials] == [True, True]
    assert pred.choice == TORCH and isinstance(pred.encoder, TorchBackend)


def test_before_measuring_and_for_a_fixed_precision_the_rule_decides(stored, onnx_dir, tmp_path):
    cache = ChoiceCache(tmp_path / "c.json")
    pred = Predictor(stored, "auto", "cpu", onnx_dir=onnx_dir, choices=cache)
    assert pred.undecided and pred.choice == ONNX  # choose_backend's rule on the CPU
    images = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    assert set(pred.run_heads(["x"], images)) == {"classification", "regression"}
    assert isinstance(pred.encoder, OnnxBackend) and pred.undecided and not cache.path.exists()
    fixed = Predictor(stored, "auto", "cpu", "fp32", onnx_dir=onnx_dir, choices=cache)
    assert not fixed.undecided and fixed.candidates == () and fixed.choice == ONNX


def test_an_unreadable_cache_is_measured_again(tmp_path):
    cache = ChoiceCache(tmp_path / "c.json")
    cache.path.write_text("{not json")
    assert cache.get("k") is None
    found = measured.measure((TORCH, ONNX), lambda c: lambda: 0, 1, lambda ref, got: None)
    cache.put("k", found)
    assert cache.get("k") == found and cache.get("other") is None
