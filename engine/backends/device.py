"""Device choice for the torch backend: ``auto`` picks CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from engine.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


_AVAILABLE: dict[str, Callable[[], bool]] = {
    "cuda": torch.cuda.is_available,
    "mps": _mps_available,
    "cpu": lambda: True,
}


def resolve_device(device: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda|mps`` (or ``cuda:N``) to an available torch device.

    Raises:
        ConfigError: the device is unknown or not available on this machine.
    """
    kind = device.split(":", 1)[0]
    if device == "auto":
        kind = next(k for k in ("cuda", "mps", "cpu") if _AVAILABLE[k]())
        return torch.device(kind)
    if kind not in _AVAILABLE:
        raise ConfigError(None, f"unknown device {device!r} (choose from {', '.join(DEVICES)})")
    if not _AVAILABLE[kind]():
        raise ConfigError(None, f"device {device!r} is not available on this machine")
    return torch.device(device)


def use_all_cores() -> int:
    """Let torch use every core this process may run on; returns the thread count."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
