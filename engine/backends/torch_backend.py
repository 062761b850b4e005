"""PyTorch backend: no_grad inference on CPU (all cores), CUDA (bf16/fp16 autocast) or MPS."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.backends.base import to_host
from engine.backends.device import resolve_device, use_all_cores

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TorchBackend:
    """Runs a flat-signature module (``engine.export.graphs``) with torch.

    Args:
        module: takes tensors in ``input_names`` order, returns a tuple in ``output_names`` order.
        device: ``auto|cpu|cuda|mps`` or a torch device string.
        precision: "fp32", or "bf16"/"fp16" through autocast (outputs are returned as float32).
    """

    def __init__(self, module: nn.Module, device: str = "auto", precision: str = "fp32") -> None:
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            use_all_cores()
        self.module = module.to(self.device).eval()
        self.precision = precision
        self.input_names: tuple[str, ...] = tuple(module.input_names)  # type: ignore[arg-type]
        self.output_names: tuple[str, ...] = tuple(module.output_names)  # type: ignore[arg-type]

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = _DTYPES.get(self.precision)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def run_tensors(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run on tensors already on the device; returns float32 tensors on the device."""
        with torch.inference_mode(), self._autocast():
            out = self.module(*inputs)
        return tuple(o.float() for o in out)

    def upload(self, array: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``array`` as a tensor on this backend's device (no copy when it is already there)."""
        if isinstance(array, torch.Tensor):
            return array.to(self.device)
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def run_device(self, inputs: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Run on named tensors (numpy arrays are uploaded); returns float32 tensors on the device."""
        out = self.run_tensors(*(self.upload(inputs[n]) for n in self.input_names))
        return dict(zip(self.output_names, out, strict=True))

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on named arrays [B, ...]; returns named float32 arrays."""
        return {n: to_host(o) for n, o in self.run_device(inputs).items()}
