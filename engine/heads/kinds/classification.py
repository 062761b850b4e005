"""Classification: class logits of a frame, probabilities per frame and over the cine."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.annotations import STUDY_WIDE, Annotation
from engine.drafts import Drafts, LabelIds
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.classify import ClassifyTask
from engine.types import ClassScores


def _json(r: ClassScores, files: Files) -> dict[str, Any]:
    from engine.results_json import number

    return {
        "frame": r.frame,
        "probs": {label: number(p, 4) for label, p in zip(r.labels, r.probs)},
        "top_k": [[label, number(p, 4)] for label, p in r.top_k(3)],
    }


def _drafts(r: ClassScores, label_id: LabelIds, out: Drafts) -> None:
    scores = r.top_k(len(r.labels))
    best, prob = scores[0]
    frame = STUDY_WIDE if r.frame is None else r.frame
    name = f"p={prob:.2f}" if r.frame is not None else ""
    out.annotations.append(Annotation("class", frame, value=best, name=name, scores=scores))


def _remap(t: Any, src: Any, dst: Any) -> int:
    return list(dst).index(src[int(t)])


SPEC = register_spec(HeadSpec(
    kind="classification", rank=0, task=ClassifyTask, metric=("auc", True),
    json={ClassScores: _json}, drafts={ClassScores: _drafts},
    network="ClassificationHead", loss="ClassificationLoss", remap=_remap,
    size=lambda labels: {"num_classes": len(labels)}, target=lambda t, g, s: np.int64(t),
))
