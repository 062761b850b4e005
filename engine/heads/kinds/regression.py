"""Regression: named values per frame, and the ejection fraction of a segmented ventricle over a cine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.annotations import Annotation
from engine.drafts import Drafts, LabelIds, value_annotation
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.measure import MeasureTask
from engine.types import EjectionFraction, Regression


def _values(r: Regression, files: Files) -> dict[str, Any]:
    from engine.results_json import quantity

    return {"frame": r.frame, "values": [quantity(q) for q in r.values]}


def _ejection(r: EjectionFraction, files: Files) -> dict[str, Any]:
    from engine.results_json import number

    return {
        "kind": "ejection_fraction",
        "structure": r.structure,
        "ef_percent": number(r.ef_percent, 2),
        "ed_frames": list(r.ed_frames),
        "es_frames": list(r.es_frames),
        "frames": [int(i) for i in r.frames],
        "volumes": [number(v, 4) for v in r.volumes],
        "volume_unit": r.volume_unit,
        "calibrated": r.calibrated,
    }


def _value_drafts(r: Regression, label_id: LabelIds, out: Drafts) -> None:
    out.annotations.extend(value_annotation(q) for q in r.values if np.isfinite(q.value))


def _ejection_drafts(r: EjectionFraction, label_id: LabelIds, out: Drafts) -> None:
    if np.isfinite(r.ef_percent):  # too few frames or no beat found: marks only, no number
        out.annotations.append(Annotation("value", value=float(r.ef_percent), name="EF (%)"))
    out.annotations.extend(Annotation("frame_mark", f, value="ED") for f in r.ed_frames)
    out.annotations.extend(Annotation("frame_mark", f, value="ES") for f in r.es_frames)


def _remap(t: Any, src: Sequence[str], dst: Sequence[str]) -> np.ndarray:
    out = np.full(len(dst), np.nan, dtype=np.float32)
    out[[list(dst).index(n) for n in src]] = np.asarray(t, dtype=np.float32).reshape(-1)
    return out


def _restrict_values(r: Regression, keep: Callable[[str], bool]) -> Regression:
    return replace(r, values=tuple(q for q in r.values if keep(q.name)))


def _restrict_ejection(r: EjectionFraction, keep: Callable[[str], bool]) -> EjectionFraction | None:
    return r if keep("EF") else None


SPEC = register_spec(HeadSpec(
    kind="regression", rank=4, task=MeasureTask, metric=("mae", False),
    json={Regression: _values, EjectionFraction: _ejection},
    drafts={Regression: _value_drafts, EjectionFraction: _ejection_drafts},
    restrict={Regression: _restrict_values, EjectionFraction: _restrict_ejection},
    network="RegressionHead", loss="RegressionLoss", remap=_remap,
    size=lambda labels: {"num_outputs": len(labels)},
    target=lambda t, g, s: np.asarray(t, np.float32).reshape(-1),
))
