"""Segmentation: a label map per frame with each structure's area."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.drafts import Drafts, LabelIds
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.segment import SegmentTask
from engine.types import SegmentationResult


def _json(r: SegmentationResult, files: Files) -> dict[str, Any]:
    from engine.results_json import quantity

    return {
        "frame": r.frame,
        "mask_png": files.get("masks", {}).get(r.frame),
        "pixel_counts": {label: int(n) for label, n in zip(r.labels, r.pixel_counts)},
        "areas": [quantity(a) for a in r.areas],
        "calibrated": r.calibrated,
    }


def _drafts(r: SegmentationResult, label_id: LabelIds, out: Drafts) -> None:
    lut = np.zeros(256, np.uint8)
    for i, name in enumerate(r.labels):
        lut[i + 1] = label_id(name)
    out.masks[r.frame] = lut[r.mask]


def _remap(t: Any, src: Sequence[str], dst: Sequence[str]) -> np.ndarray:
    lut = np.zeros(256, dtype=np.uint8)
    lut[1 : len(src) + 1] = [list(dst).index(n) + 1 for n in src]
    return lut[np.asarray(t, dtype=np.uint8)]


def _restrict(r: SegmentationResult, keep: Callable[[str], bool]) -> SegmentationResult:
    kept = np.array([keep(n) for n in r.labels], dtype=bool)
    if kept.all():
        return r
    lut = np.zeros(256, np.uint8)
    lut[1 : len(r.labels) + 1] = np.where(kept, np.arange(1, len(r.labels) + 1), 0)
    areas = tuple(a for a in r.areas if keep(a.name))
    return replace(r, mask=lut[r.mask], areas=areas, pixel_counts=np.where(kept, r.pixel_counts, 0))


def _condition(outputs: Mapping[str, Any], allowed: Sequence[bool]) -> dict[str, Any]:
    """Logits ``[B, K + 1, h, w]`` with the ruled-out labels' channels at -inf (background stays)."""
    logits = np.asarray(outputs["logits"])
    ruled_out = np.concatenate([[False], ~np.asarray(allowed, dtype=bool)])
    if not ruled_out.any():
        return dict(outputs)
    shape = (1, len(ruled_out)) + (1,) * (logits.ndim - 2)
    return {**outputs, "logits": np.where(ruled_out.reshape(shape), -np.inf, logits).astype(logits.dtype)}


SPEC = register_spec(HeadSpec(
    kind="segmentation", rank=1, task=SegmentTask, metric=("dice", True),
    json={SegmentationResult: _json}, drafts={SegmentationResult: _drafts},
    restrict={SegmentationResult: _restrict}, condition=_condition,
    network="UnetrSegmentationHead", loss="SegmentationLoss", remap=_remap,
    size=lambda labels: {"num_classes": len(labels)},
    target=lambda t, g, s: g.image_to_model(np.asarray(t, np.uint8), nearest=True)[None].astype(np.int64),
))
