"""The student's configuration: the teacher's heads, labels and preprocessing on a smaller encoder."""

from __future__ import annotations

from dataclasses import replace

from engine.config import HeadCfg, ModelCfg

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
