"""Landmarks: named points per frame (heatmap peaks) and the measurements declared between them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.annotations import Annotation
from engine.drafts import Drafts, LabelIds, value_annotation
from engine.heads.base import FeatureSpec
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.landmarks import LandmarkTask
from engine.types import Landmarks

LEVELS = (1, 2, 3)  # the network's default feature levels; the first sets the heatmap stride


def _json(r: Landmarks, files: Files) -> dict[str, Any]:
    from engine.results_json import number, quantity

    points = [
        {"name": n, "x": number(p[0], 2), "y": number(p[1], 2), "score": number(s, 4)}
        for n, p, s in zip(r.names, r.points, r.scores)
    ]
    return {"frame": r.frame, "points": points, "measurements": [quantity(q) for q in r.measurements]}


def _drafts(r: Landmarks, label_id: LabelIds, out: Drafts) -> None:
    for name, (x, y), score in zip(r.names, r.points, r.scores):
        point = ((float(x), float(y)),)
        out.annotations.append(Annotation("landmark", r.frame, label_id(name), point, float(score), name))
    # a measurement the rule refuses (points in two regions) is no number: no draft, as for EF
    out.annotations.extend(value_annotation(q) for q in r.measurements if np.isfinite(q.value))


def _remap(t: Any, src: Sequence[str], dst: Sequence[str]) -> np.ndarray:
    out = np.full((len(dst), 2), np.nan, dtype=np.float32)
    out[[list(dst).index(n) for n in src]] = np.asarray(t, dtype=np.float32).reshape(-1, 2)
    return out


def _restrict(r: Landmarks, keep: Callable[[str], bool]) -> Landmarks:
    rows = np.array([keep(n) for n in r.names], dtype=bool)
    measurements = tuple(q for q in r.measurements if keep(q.name))
    if rows.all() and len(measurements) == len(r.measurements):
        return r
    names = tuple(n for n, k in zip(r.names, rows) if k)
    return replace(r, names=names, points=r.points[rows], scores=r.scores[rows], measurements=measurements)


def _stride(spec: FeatureSpec, params: Mapping[str, Any]) -> int:
    return spec.strides[int(params.get("levels", LEVELS)[0])]


SPEC = register_spec(HeadSpec(
    kind="landmarks", rank=3, task=LandmarkTask, metric=("error_mm", False),
    json={Landmarks: _json}, drafts={Landmarks: _drafts},
    restrict={Landmarks: _restrict},
    network="HeatmapLandmarkHead", loss="LandmarkLoss", remap=_remap,
    size=lambda labels: {"num_landmarks": len(labels)},
    loss_args=lambda spec, params: {"stride": _stride(spec, params)},
    metric_args=lambda m: {"stride": _stride(m.spec, m.params)},
    target=lambda t, g, s: g.points_to_model(np.asarray(t, np.float64)).astype(np.float32),
))
