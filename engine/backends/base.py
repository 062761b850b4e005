"""The backend interface and the rule-based choice between PyTorch and ONNX Runtime.

A backend runs one graph (see ``engine.export.graphs``) on named numpy arrays, or on its own
device arrays (``upload`` / ``run_device``) so that a graph's outputs feed the next graph
without a round trip through the host. ``choose_backend`` is the rule ``auto`` falls back to
where it cannot measure (``engine.backends.measured`` times the candidates instead):

* a CUDA GPU: PyTorch with bf16 autocast (fp16 where bf16 is unsupported);
* Apple MPS: PyTorch in fp32;
* the CPU: ONNX Runtime in fp32 when it is installed (measured faster than eager PyTorch on
  the full encoder, see ``bench/engine.py``), else PyTorch with all cores.

ONNX Runtime also runs the encoder in dynamic int8 on the CPU (``precision="int8"``, opt-in:
it moves the outputs, see ``engine.export.quantize``) and in fp16 on CUDA with onnxruntime-gpu.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.errors import ConfigError

BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")


@runtime_checkable
class Backend(Protocol):
    """Runs one graph: named float32 arrays in, named float32 arrays out."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on ``inputs`` (every name in ``input_names``, batch first)."""
        ...

    def upload(self, array: np.ndarray) -> Any:
        """``array`` as this backend's input on its device (a torch tensor, or the array itself)."""
        ...

    def run_device(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run on inputs already on the device (``upload`` or another graph's ``run_device``
        outputs; numpy arrays are uploaded); the float32 outputs stay on the device."""
        ...


def to_host(array: Any) -> np.ndarray:
    """A backend's array as numpy: a torch tensor is copied from its device (no torch import here)."""
    if isinstance(array, np.ndarray):
        return array
    return array.detach().cpu().numpy()


@dataclass(frozen=True)
class BackendChoice:
    """Which runtime, device and precision a predictor uses.

    Attributes:
        kind: "torch" or "onnx".
        device: "cpu", "cuda", "cuda:N" or "mps".
        precision: "fp32"; "bf16" or "fp16" through torch autocast; "int8" (CPU) or "fp16"
            (CUDA) as converted ONNX graphs.
    """

    kind: str
    device: str
    precision: str = "fp32"


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def onnxruntime_cuda() -> bool:
    """Whether onnxruntime can use CUDA here (onnxruntime-gpu installed)."""
    if not onnxruntime_installed():
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _onnx_precision(device: str, precision: str) -> str:
    if precision in ("auto", "fp32"):
        return "fp32"
    if precision == "int8" and device == "cpu":
        return "int8"
    if precision == "fp16" and device.startswith("cuda") and onnxruntime_cuda():
        return "fp16"
    raise ConfigError(None, f"the ONNX backend has no {precision} path on {device} here")


def _cuda_precision() -> str:
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def choose_backend(backend: str = "auto", device: str = "auto", precision: str = "auto") -> BackendChoice:
    """Resolve ``--backend auto|torch|onnx``, ``--device auto|cpu|cuda|mps`` and a precision.

    Raises:
        ConfigError: an unknown or unavailable choice (e.g. ONNX on MPS, fp16 on the CPU).
    """
    from engine.backends.device import resolve_device

    if backend not in BACKENDS:
        raise ConfigError(None, f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if precision not in PRECISIONS:
        raise ConfigError(None, f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    dev = resolve_device(device)
    if backend == "auto":
        backend = "onnx" if dev.type == "cpu" and onnxruntime_installed() else "torch"
    if backend == "onnx":
        if dev.type == "mps" or not onnxruntime_installed():
            raise ConfigError(None, f"the ONNX backend cannot run on {dev.type} here")
        return BackendChoice("onnx", str(dev), _onnx_precision(str(dev), precision))
    if precision == "int8":
        raise ConfigError(None, "int8 runs through the ONNX backend only (--backend onnx)")
    if precision == "auto":
        precision = _cuda_precision() if dev.type == "cuda" else "fp32"
    if precision == "fp16" and dev.type == "cpu":
        raise ConfigError(None, "fp16 autocast is not supported on the CPU; use bf16 or fp32")
    return BackendChoice("torch", str(dev), precision)
