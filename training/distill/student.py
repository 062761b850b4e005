"""The student: the teacher's heads, labels and preprocessing on a smaller encoder.

A student whose encoder is the teacher's with fewer blocks per stage (``echocare_mini`` under
``echocare_small``) can start from the teacher's weights: every tensor of the same name and
shape is copied, and stage blocks are taken evenly spaced from the teacher's (block ``j`` of a
``d``-block student stage from teacher block ``j * D // d``), as layer-dropping distillation does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.config import HeadCfg, ModelCfg

if TYPE_CHECKING:
    from torch import Tensor, nn

WIDTH_KEYS = ("width",)
MIN_WIDTH = 4


def _scaled(head: HeadCfg, scale: float) -> HeadCfg:
    params = dict(head.params)
    for key in WIDTH_KEYS:
        if key in params:
            params[key] = max(MIN_WIDTH, round(int(params[key]) * scale))
    return replace(head, params=params)


def student_cfg(teacher: ModelCfg, arch: str, head_scale: float, name: str = "") -> ModelCfg:
    """The student of ``teacher``: same heads, labels, input size and normalisation.

    Args:
        teacher: the teacher's configuration.
        arch: the student's encoder variant.
        head_scale: dense-head widths relative to the teacher's (never below ``MIN_WIDTH``).
        name: the student's store name; ``<teacher>-lite`` when empty.
    """
    return replace(
        teacher,
        name=name or f"{teacher.name}-lite",
        arch=arch,
        version="",
        heads=tuple(_scaled(h, head_scale) for h in teacher.heads),
    )


_BLOCK = re.compile(r"^encoder\.(layers[1-4])\.0\.blocks\.(\d+)\.")


def _stage_depths(state: Mapping[str, Tensor]) -> dict[str, int]:
    depths: dict[str, int] = {}
    for key in state:
        m = _BLOCK.match(key)
        if m:
            depths[m[1]] = max(depths.get(m[1], 0), int(m[2]) + 1)
    return depths


def teacher_key(key: str, student_depths: Mapping[str, int], teacher_depths: Mapping[str, int]) -> str:
    """The teacher tensor a student tensor starts from (stage blocks evenly spaced)."""
    m = _BLOCK.match(key)
    if not m:
        return key
    stage, block = m[1], int(m[2])
    mapped = block * teacher_depths.get(stage, 0) // max(1, student_depths[stage])
    return f"encoder.{stage}.0.blocks.{mapped}.{key[m.end() :]}"


def init_from_teacher(student: nn.Module, teacher: nn.Module) -> tuple[int, int]:
    """Copy the teacher's weights into the student wherever name and shape match.

    Returns:
        (tensors copied, tensors in the student).
    """
    import torch

    s_state, t_state = student.state_dict(), teacher.state_dict()
    s_depths, t_depths = _stage_depths(s_state), _stage_depths(t_state)
    copied = 0
    with torch.no_grad():
        for key, value in s_state.items():
            source = t_state.get(teacher_key(key, s_depths, t_depths))
            if source is not None and source.shape == value.shape:
                value.copy_(source)
                copied += 1
    return copied, len(s_state)
