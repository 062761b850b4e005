"""ONNX Runtime backend: CUDA provider when installed, else the CPU with every optimisation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.errors import ModelError


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    wants_gpu = device.split(":", 1)[0] in ("auto", "cuda")
    if wants_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OnnxBackend:
    """Runs an exported graph with onnxruntime.

    Args:
        path: the ``.onnx`` file.
        device: ``auto|cpu|cuda``; CUDA needs onnxruntime-gpu.
        threads: intra-op threads; every core this process may use by default.
        spin: let idle worker threads busy-wait for the next run. Off by default: spinning
            shaves little off a 100-ms-plus encoder pass but steals the cores that frame
            decoding (the prefetch thread) and the app need between runs.

    Raises:
        ModelError: the file cannot be loaded as an ONNX model.
    """

    def __init__(
        self, path: str | Path, device: str = "auto", threads: int | None = None, spin: bool = False
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or _cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        spinning = "1" if spin else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=_providers(device))
        except Exception as err:  # onnxruntime raises its own untyped errors
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(path, f"cannot load ONNX model ({first})") from None
        self.path = Path(path)
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on named float32 arrays [B, ...]; returns named arrays."""
        feed = {n: np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.input_names}
        out = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, out, strict=True))
