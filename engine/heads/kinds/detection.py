"""Detection: labelled boxes per frame (FCOS), with their size in mm where calibrated."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.annotations import Annotation
from engine.drafts import Drafts, LabelIds
from engine.heads.base import FeatureSpec
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.detect import DetectTask
from engine.types import Detections


def _json(r: Detections, files: Files) -> dict[str, Any]:
    from engine.results_json import number

    boxes = []
    for box, score, k, size in zip(r.boxes, r.scores, r.label_ids, r.sizes_mm):
        boxes.append(
            {
                "label": r.labels[int(k)],
                "score": number(score, 4),
                "box_px": [number(v, 2) for v in box],
                "size_mm": None if not all(map(math.isfinite, size)) else [number(v) for v in size],
            }
        )
    return {"frame": r.frame, "boxes": boxes, "calibrated": r.calibrated}


def _drafts(r: Detections, label_id: LabelIds, out: Drafts) -> None:
    for box, score, k in zip(r.boxes, r.scores, r.label_ids):
        x0, y0, x1, y1 = (float(v) for v in box)
        name = r.labels[int(k)]
        box_points = ((x0, y0), (x1, y1))
        out.annotations.append(Annotation("box", r.frame, label_id(name), box_points, float(score), name))


def _target(t: Any, g: Any, s: Any) -> tuple[np.ndarray, np.ndarray]:
    boxes = g.boxes_to_model(np.asarray(t[0], np.float64)).astype(np.float32).reshape(-1, 4)
    return boxes, np.asarray(t[1], np.int64).reshape(-1)


def _remap(t: Any, src: Sequence[str], dst: Sequence[str]) -> tuple[Any, np.ndarray]:
    index = np.array([list(dst).index(n) for n in src], dtype=np.int64)
    return t[0], index[np.asarray(t[1], dtype=np.int64)]


def _restrict(r: Detections, keep: Callable[[str], bool]) -> Detections:
    rows = np.array([keep(r.labels[int(k)]) for k in r.label_ids], dtype=bool).reshape(-1)
    if rows.all():
        return r
    return replace(
        r, boxes=r.boxes[rows], scores=r.scores[rows], label_ids=r.label_ids[rows], sizes_mm=r.sizes_mm[rows]
    )


def _loss_args(spec: FeatureSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"spec": spec, "levels": tuple(params.get("levels", (2, 3, 4)))}


SPEC = register_spec(HeadSpec(
    kind="detection", rank=2, task=DetectTask, metric=("map50", True),
    json={Detections: _json}, drafts={Detections: _drafts},
    restrict={Detections: _restrict},
    network="FcosDetectionHead", loss="DetectionLoss", remap=_remap, loss_args=_loss_args, stacked=False,
    size=lambda labels: {"num_classes": len(labels)}, target=_target,
))
