"""CUDA paths of the engine; run on a GPU machine by ``bench/gpu.sh`` (``pytest -m cuda``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine import model_store
from engine.backends.base import choose_backend
from engine.backends.torch_backend import TorchBackend
from engine.export.graphs import FEATURES, EncoderGraph
from engine.factory import create_model, load_model
from engine.inference import Predictor
from engine.model_card import ModelCard

# Deselected by default (pyproject: -m "not cuda"); bench/gpu.sh selects them with -m cuda,
# where a missing GPU is a failure, not a skip.
pytestmark = pytest.mark.cuda


def test_auto_picks_torch_with_autocast_on_cuda():
    choice = choose_backend("auto", "auto")
    assert choice.kind == "torch" and choice.device == "cuda"
    assert choice.precision in ("bf16", "fp16")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_encoder_matches_cpu(precision, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # true fp32 convolutions
    torch.manual_seed(0)
    model = create_model(replace(_cfg(), heads=())).eval()
    image = np.random.default_rng(0).random((2, 3, 256, 256), dtype=np.float32)
    cpu = TorchBackend(EncoderGraph(model), device="cpu").run({"image": image})
    gpu = TorchBackend(EncoderGraph(model), device="cuda", precision=precision).run({"image": image})
    for name in FEATURES:
        assert gpu[name].dtype == np.float32
        if precision == "fp32":
            assert np.abs(gpu[name] - cpu[name]).max() < 1e-3
        else:
            assert np.corrcoef(gpu[name].ravel(), cpu[name].ravel())[0, 1] > 0.99


def test_predictor_on_cuda_caches_features(tiny_cfg):
    model_store.save_version(
        ModelCard.from_cfg(replace(tiny_cfg, version="")), create_model(tiny_cfg).state_dict()
    )
    pred = Predictor(load_model("tiny", device="cuda"), backend="torch", device="cuda", precision="fp32")
    images = np.random.default_rng(1).random((4, 3, 64, 64), dtype=np.float32)
    first = pred.run_heads(list(range(4)), images, ["classification"])
    assert len(pred.cache) == 4 and pred.cache.misses == 4
    pred.run_heads(list(range(4)), images, ["regression"])
    assert pred.cache.hits == 4
    assert all(f.is_cuda for f in pred.cache.get((0, *pred._model_key))), "features stay on the GPU"
    with torch.no_grad():
        want = pred.loaded.module.cpu()(torch.from_numpy(images))["classification"]["logits"]
    np.testing.assert_allclose(first["classification"]["logits"], want.numpy(), atol=5e-3)


def test_heads_on_cuda_take_gpu_features_without_a_host_round_trip(tiny_cfg, monkeypatch):
    model_store.save_version(
        ModelCard.from_cfg(replace(tiny_cfg, version="")), create_model(tiny_cfg).state_dict()
    )
    pred = Predictor(load_model("tiny", device="cuda"), backend="torch", device="cuda", precision="fp32")
    seen = []
    run_device = TorchBackend.run_device

    def recording(self, inputs):
        seen.append({(type(v).__name__, getattr(v, "device", None)) for v in inputs.values()})
        return run_device(self, inputs)

    monkeypatch.setattr(TorchBackend, "run_device", recording)
    images = np.random.default_rng(2).random((3, 3, 64, 64), dtype=np.float32)
    out = pred.run_heads(["a", "b", "c"], images, ["classification", "regression"])
    assert len(seen) == 3 and all(s == {("Tensor", torch.device("cuda", 0))} for s in seen)
    with torch.no_grad():
        want = pred.loaded.module.cpu()(torch.from_numpy(images))
    np.testing.assert_allclose(out["regression"]["logits"], want["regression"]["logits"].numpy(), atol=5e-3)


def _cfg():
    from engine.config import ModelCfg

    return ModelCfg(name="small", arch="echocare_small", input_size=(256, 256))
