"""Training losses of the heads, registered under the same name as their head.

A loss is built as ``LOSSES.get(kind)(**params)`` and called as ``loss(outputs, target)``
with the head's raw output dict; each head file documents the target format its loss expects.
The training module imports losses from here only.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.registry import Registry

LOSSES: Registry[Callable[..., object]] = Registry("loss")


def register_loss(name: str) -> Callable[[type], type]:
    """Class decorator registering the loss of head ``name``."""
    return LOSSES.register(name)  # type: ignore[return-value]
