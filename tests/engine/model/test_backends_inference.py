"""Backends (torch vs ONNX Runtime parity), backend choice and the inference core."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine import model_store
from engine.backends.base import choose_backend
from engine.backends.onnx_backend import OnnxBackend
from engine.backends.torch_backend import TorchBackend
from engine.config import HeadCfg
from engine.errors import ConfigError, TaskError
from engine.export.graphs import FEATURES, EncoderGraph, HeadGraph
from engine.export.onnx import PARITY_TOLERANCE, export_model
from engine.factory import create_model, load_model
from engine.heads.base import HEADS, register_head
from engine.inference import FeatureCache, Predictor
from engine.model_card import ModelCard


def assert_parity(got, want) -> None:
    """Within the torch-vs-ONNX Runtime tolerance the export check enforces, relative for large values."""
    np.testing.assert_allclose(got, want, rtol=PARITY_TOLERANCE, atol=PARITY_TOLERANCE)


@pytest.fixture
def stored(tiny_cfg, tiny_export):
    state, _ = tiny_export
    model_store.save_version(ModelCard.from_cfg(replace(tiny_cfg, version="")), state)
    return load_model("tiny", device="cpu")


@pytest.fixture(scope="module")
def tiny_export(tiny_cfg, tmp_path_factory):
    """One tiny model's weights and its checked ONNX export, shared by the tests here."""
    torch.manual_seed(5)
    model = create_model(tiny_cfg)
    return model.state_dict(), export_model(model, tmp_path_factory.mktemp("onnx"))


def test_torch_and_onnx_runtime_agree_on_the_tiny_model(stored, tiny_export):
    result = tiny_export[1]
    folder = result.files[0].parent
    assert [p.name for p in result.files] == [
        "encoder.onnx",
        "head_classification.onnx",
        "head_regression.onnx",
    ]
    assert 0 <= result.max_diff <= PARITY_TOLERANCE
    # a batch size other than the export's, through the Backend interface
    image = np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32)
    torch_enc = TorchBackend(EncoderGraph(stored.module), device="cpu")
    onnx_enc = OnnxBackend(folder / "encoder.onnx", device="cpu")
    assert onnx_enc.providers == ["CPUExecutionProvider"]
    want, got = torch_enc.run({"image": image}), onnx_enc.run({"image": image})
    assert list(got) == list(FEATURES)
    for name in FEATURES:
        assert got[name].shape == want[name].shape
        assert_parity(got[name], want[name])
    feats = {**want, "image": image}
    head_t = TorchBackend(HeadGraph(stored.module, "classification"), device="cpu").run(feats)
    head_o = OnnxBackend(folder / "head_classification.onnx", device="cpu").run(feats)
    assert set(head_o) == {"image_mean", "logits"}
    for name in head_t:
        assert_parity(head_o[name], head_t[name])


def test_backend_choice():
    assert choose_backend("auto", "cpu") == choose_backend("onnx", "cpu")
    assert choose_backend("torch", "cpu").precision == "fp32"
    assert choose_backend("torch", "cpu", "bf16").precision == "bf16"
    with pytest.raises(ConfigError, match="fp16"):
        choose_backend("torch", "cpu", "fp16")
    with pytest.raises(ConfigError, match="unknown backend"):
        choose_backend("tensorrt")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="not available"):
            choose_backend("torch", "cuda")


class CountingBackend:
    """Delegates to a backend and counts the frames it encodes."""

    def __init__(self, inner):
        self.inner = inner
        self.input_names, self.output_names = inner.input_names, inner.output_names
        self.frames = 0
        self.calls = 0

    def upload(self, array):
        return self.inner.upload(array)

    def run_device(self, inputs):
        self.calls += 1
        self.frames += len(inputs["image"])
        return self.inner.run_device(inputs)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_one_encoder_pass_feeds_every_head(stored, tiny_export, backend):
    onnx_dir = tiny_export[1].files[0].parent  # the same weights, exported once
    pred = Predictor(stored, backend=backend, device="cpu", onnx_dir=onnx_dir, batch_size=2)
    assert not pred.fallbacks
    pred.encoder = counter = CountingBackend(pred.encoder)
    images = np.random.default_rng(1).random((3, 3, 64, 64), dtype=np.float32)
    keys = ["f0", "f1", "f2"]
    first = pred.run_heads(keys, images, ["classification"])
    assert (counter.frames, counter.calls) == (3, 2)  # batches of 2 + 1
    second = pred.run_heads(keys, images, ["regression"])
    assert counter.frames == 3  # cached: no new encoder pass
    cached = pred.features(["f0"], images[:1])[0]
    assert [f.shape for f in cached] == [(12, 32, 32), (24, 16, 16), (48, 8, 8), (96, 4, 4), (192, 2, 2)]
    assert not any(f.flags.writeable for f in cached)
    mixed = pred.run_heads(["f1", "new"], images[[1, 0]], None)
    assert counter.frames == 4
    with torch.no_grad():
        want = stored.module(torch.from_numpy(images))
    assert_parity(first["classification"]["logits"], want["classification"]["logits"])
    assert_parity(second["regression"]["logits"], want["regression"]["logits"])
    assert_parity(mixed["classification"]["logits"][0], want["classification"]["logits"][1])
    with pytest.raises(TaskError, match="no segmentation head"):
        pred.run_heads(keys, images, ["segmentation"])
    with pytest.raises(TaskError, match="model input must be"):
        pred.run_heads(keys, images[:, :, :32], ["classification"])


def test_heads_read_the_features_on_the_device_and_outputs_leave_it_once(stored, monkeypatch):
    from engine import inference

    pred = Predictor(stored, backend="torch", device="cpu")
    calls = []
    run_device = TorchBackend.run_device

    def recording(self, inputs):
        calls.append((type(self.module).__name__, {type(v) for v in inputs.values()}))
        return run_device(self, inputs)

    monkeypatch.setattr(TorchBackend, "run_device", recording)
    to_host = inference.to_host
    copied = []
    monkeypatch.setattr(inference, "to_host", lambda a: copied.append(a) or to_host(a))
    images = np.random.default_rng(5).random((2, 3, 64, 64), dtype=np.float32)
    out = pred.run_heads(["f0", "f1"], images, ["classification", "regression"])
    assert [name for name, _ in calls] == ["EncoderGraph", "HeadGraph", "HeadGraph"]
    assert all(types == {torch.Tensor} for _, types in calls), "every graph got tensors already uploaded"
    assert len(copied) == 4 and all(isinstance(v, np.ndarray) for o in out.values() for v in o.values())
    assert all(isinstance(f, torch.Tensor) for f in pred.cache.get(("f0", *pred._model_key)))
    with torch.no_grad():
        want = stored.module(torch.from_numpy(images))
    assert_parity(out["regression"]["logits"], want["regression"]["logits"])


def test_feature_cache_is_bounded_lru():
    frame = tuple(np.zeros((4, 8, 8), np.float32) for _ in range(5))  # 5 KiB
    cache = FeatureCache(max_bytes=2 * sum(f.nbytes for f in frame))
    cache.put("a", frame)
    cache.put("b", frame)
    assert cache.get("a") is frame  # a is now the most recent
    cache.put("c", frame)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is frame
    assert cache.bytes <= cache.max_bytes
    assert (cache.hits, cache.misses) == (2, 1)


def test_bf16_autocast_path_is_close_to_fp32(stored):
    image = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32)
    fp32 = TorchBackend(EncoderGraph(stored.module), device="cpu").run({"image": image})
    bf16 = TorchBackend(EncoderGraph(stored.module), device="cpu", precision="bf16").run({"image": image})
    for name in FEATURES:
        assert bf16[name].dtype == np.float32
        assert np.corrcoef(fp32[name].ravel(), bf16[name].ravel())[0, 1] > 0.99


def test_an_interactive_head_is_not_exported_and_the_rest_are(tiny_cfg, tmp_path):
    cfg = replace(tiny_cfg, heads=(*tiny_cfg.heads, HeadCfg("prompt", "prompt", (), {"width": 4})))
    torch.manual_seed(0)
    result = export_model(create_model(cfg), tmp_path)
    names = sorted(p.name for p in result.files)
    assert names == ["encoder.onnx", "head_classification.onnx", "head_regression.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names


def test_cli_export_onnx(stored, tmp_path, monkeypatch, capsys):
    from app.cli import main as cli

    monkeypatch.setattr(cli, "COMMANDS", ("models",))
    assert cli.main(["models", "export-onnx", "tiny", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert "encoder.onnx" in out and "head_regression.onnx" in out
    assert float(out.split("max diff ")[-1]) <= PARITY_TOLERANCE


UNTRACEABLE = "test_data_dependent"

if UNTRACEABLE not in HEADS:

    @register_head(UNTRACEABLE)
    class DataDependentTestHead(torch.nn.Module):
        """Branches on a tensor value in Python, which an ONNX trace freezes (a test-only head)."""

        def __init__(self, spec) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))

        def forward(self, feats, image):
            pooled = feats[-1].mean(dim=(1, 2, 3))[:, None]
            if image.sum().item() > 0:
                return {"score": pooled * self.scale + 1.0}
            return {"score": pooled * self.scale}


def test_a_head_onnx_cannot_reproduce_runs_on_torch(tiny_cfg, tiny_export, tmp_path):
    cfg = replace(tiny_cfg, heads=(*tiny_cfg.heads, HeadCfg("branchy", UNTRACEABLE)))
    model = create_model(cfg)
    model.load_state_dict(tiny_export[0], strict=False)  # reuse the exported encoder and heads
    model_store.save_version(ModelCard.from_cfg(replace(cfg, version="")), model.state_dict())
    shutil.copytree(tiny_export[1].files[0].parent, tmp_path, dirs_exist_ok=True)
    pred = Predictor(load_model("tiny", device="cpu"), backend="onnx", device="cpu", onnx_dir=tmp_path)
    images = np.random.default_rng(4).random((2, 3, 64, 64), dtype=np.float32)
    out = pred.run_heads(["a", "b"], images)
    assert set(pred.fallbacks) == {"head_branchy"} and "differs from torch" in pred.fallbacks["head_branchy"]
    assert isinstance(pred._heads["classification"], OnnxBackend)
    assert isinstance(pred._heads["branchy"], TorchBackend)
    assert not (tmp_path / "head_branchy.onnx").exists()
    with torch.no_grad():
        want = pred.loaded.module(torch.from_numpy(images))
    assert_parity(out["branchy"]["score"], want["branchy"]["score"])
