"""ONNX Runtime paths: cached optimised graphs, dynamic int8 on the CPU, and the backend choice."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.backends.base import choose_backend, onnxruntime_cuda
from engine.backends.onnx_backend import OnnxBackend, optimized_path
from engine.errors import ConfigError
from engine.export.graphs import FEATURES
from engine.export.quantize import max_abs_diffs
from engine.inference import Predictor


def _images(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 64, 64), dtype=np.float32)


def test_optimised_graph_is_cached_and_reloaded_with_the_same_outputs(tiny, tmp_path):
    pred = Predictor(tiny, backend="onnx", device="cpu", onnx_dir=tmp_path)
    first = pred.encoder
    cached = optimized_path(tmp_path / "encoder.onnx", "CPUExecutionProvider")
    assert first.loaded_from == tmp_path / "encoder.onnx" and cached.is_file()
    again = OnnxBackend(tmp_path / "encoder.onnx", device="cpu", cache_optimized=True)
    assert again.loaded_from == cached
    x = {"image": _images()}
    a, b = first.run(x), again.run(x)
    for k in FEATURES:  # the same graph; only the kernels' float reductions may differ
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-6)
    plain = OnnxBackend(tmp_path / "encoder.onnx", device="cpu")  # export folders stay untouched
    assert plain.loaded_from == tmp_path / "encoder.onnx"


def test_int8_encoder_is_quantised_and_stays_close_to_fp32(tiny, tmp_path):
    fp32 = Predictor(tiny, backend="onnx", device="cpu", onnx_dir=tmp_path)
    int8 = Predictor(tiny, backend="onnx", device="cpu", precision="int8", onnx_dir=tmp_path)
    assert int8.choice.precision == "int8" and int8.encoder.path.name == "encoder.int8.onnx"
    ops = {n.op_type for n in onnx.load(str(int8.encoder.path)).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    images = _images(4)
    keys = list(range(4))
    want = fp32.encoder.run({"image": images})
    got = int8.encoder.run({"image": images})
    np.testing.assert_allclose(got["feat0"], want["feat0"], rtol=0, atol=1e-6)  # a convolution: fp32
    diffs = max_abs_diffs(want, got)
    for k in FEATURES[1:]:
        ref, out = want[k].ravel().astype(np.float64), got[k].ravel().astype(np.float64)
        assert diffs[k] > 0, k  # the level went through int8 MatMuls
        # int8 noise, not a different computation: the level still follows fp32 closely
        assert np.corrcoef(ref, out)[0, 1] > 0.9, k
        assert np.sqrt(np.mean((out - ref) ** 2)) / np.sqrt(np.mean(ref**2)) < 0.5, k
    a, b = fp32.run_heads(keys, images), int8.run_heads(keys, images)
    assert a.keys() == b.keys() and all(a[h].keys() == b[h].keys() for h in a)


def test_backend_choice_for_reduced_precision():
    assert choose_backend("onnx", "cpu", "int8").precision == "int8"
    assert choose_backend("auto", "cpu").precision == "fp32"  # int8 is opt-in
    with pytest.raises(ConfigError):
        choose_backend("torch", "cpu", "int8")
    if not onnxruntime_cuda():
        with pytest.raises(ConfigError):
            choose_backend("onnx", "cpu", "fp16")


CALLER_SCRIPT = """
import sys
import numpy as np
from engine.backends.onnx_backend import OnnxBackend

backend = OnnxBackend(sys.argv[1], device="cpu")
options = backend.session.get_session_options()
print(options.get_session_config_entry("session.set_denormal_as_zero"))
print(np.float32(1e-40) * np.float32(1.0) > 0)  # a subnormal survives
"""


def test_sessions_flush_subnormals_in_their_threads_but_not_in_the_callers(tiny, tmp_path):
    # a fresh interpreter: the flags live in each thread's floating-point state, and
    # onnxruntime sets them on the thread that creates the process's first session
    import subprocess
    import sys
    from pathlib import Path

    Predictor(tiny, backend="onnx", device="cpu", onnx_dir=tmp_path).run_heads(["a"], _images(1))
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", CALLER_SCRIPT, str(tmp_path / "encoder.onnx")],
        capture_output=True, text=True, check=True, cwd=root,
    )  # fmt: skip
    assert out.stdout.split() == ["1", "True"]
