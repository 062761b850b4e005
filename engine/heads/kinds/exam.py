"""Exam: body region -> organ -> view per frame and per cine, or ``unknown``.

Each label of the exam head is a path ``"region/organ/view"`` (a leaf of the exam tree). A
level's probabilities are sums over the leaves under each of its names, and the path is
chosen top-down (the likeliest region, then its likeliest organ, then that organ's likeliest
view), so the three levels always agree.

The exam is ``unknown`` when the frame is unlike the training data (the head's ``ood`` score
is above the model card's ``calibration.exam.ood_threshold``) or when no organ reaches
``calibration.exam.min_prob``. Probabilities are temperature-scaled with
``calibration.exam.temperature``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.config import ModelCfg
from engine.errors import TaskError
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info, softmax
from engine.types import TaskResult

LEVELS = ("region", "organ", "view")
UNKNOWN = "unknown"


def split_path(label: str) -> tuple[str, ...]:
    """``"cardiac/left ventricle/apical"`` -> its names per level (missing levels are "")."""
    parts = [p.strip() for p in label.split("/")]
    return tuple((parts + [""] * len(LEVELS))[: len(LEVELS)])


@dataclass(frozen=True)
class ExamResult:
    """The exam of a frame (``frame`` set) or of a cine.

    Attributes:
        labels: the exam tree's leaves, ``"region/organ/view"``.
        probs: ``[K]`` calibrated leaf probabilities.
        ood: the out-of-distribution score (NaN when the model has none).
        unknown: the model does not recognise the study: no automatic findings.
        reason: why it is unknown ("" when known).
        source: "model", or "user" when a person set it.
        model: the model version.
        frame: the frame index; None for the cine.
    """

    labels: tuple[str, ...]
    probs: np.ndarray
    ood: float
    unknown: bool
    reason: str
    model: ModelRef
    source: str = "model"
    frame: int | None = None
    path: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", () if self.unknown else self._top_path())

    def level(self, depth: int) -> list[tuple[str, float]]:
        """(name, probability) of every name at ``depth`` below the chosen path's parent, likeliest first."""
        parent = self._top_path()[:depth]
        sums: dict[str, float] = {}
        for label, p in zip(self.labels, self.probs):
            path = split_path(label)
            if path[:depth] == parent:
                sums[path[depth]] = sums.get(path[depth], 0.0) + float(p)
        return sorted(sums.items(), key=lambda kv: -kv[1])

    def _top_path(self) -> tuple[str, ...]:
        chosen: list[str] = []
        for depth in range(len(LEVELS)):
            sums: dict[str, float] = {}
            for label, p in zip(self.labels, self.probs):
                path = split_path(label)
                if list(path[:depth]) == chosen:
                    sums[path[depth]] = sums.get(path[depth], 0.0) + float(p)
            if not sums:
                break
            chosen.append(max(sums, key=lambda k: sums[k]))
        return tuple(chosen)

    @property
    def region(self) -> str:
        return self.path[0] if self.path else UNKNOWN

    @property
    def organ(self) -> str:
        return self.path[1] if len(self.path) > 1 else UNKNOWN

    @property
    def view(self) -> str:
        return self.path[2] if len(self.path) > 2 else ""

    @property
    def confidence(self) -> float:
        """Probability of the chosen organ (region and organ together)."""
        if self.unknown:
            return 0.0
        top = self._top_path()[:2]
        return float(sum(p for label, p in zip(self.labels, self.probs) if split_path(label)[:2] == top))

    def label(self) -> str:
        """``"cardiac / left ventricle / apical"``, or ``"unknown"``."""
        return " / ".join(n for n in self.path if n) if self.path else UNKNOWN

    def names(self) -> frozenset[str]:
        """The names of the chosen path at every level (what applicability scopes match)."""
        return frozenset(n for n in self.path if n)

    @classmethod
    def chosen_by_user(cls, labels: Sequence[str], label: str, model: ModelRef) -> ExamResult:
        """The exam a person set: one leaf (``"region/organ/view"``), or ``"unknown"``."""
        labels = tuple(labels)
        if label == UNKNOWN:
            return cls(
                labels,
                np.zeros(len(labels), np.float32),
                float("nan"),
                True,
                "set by the user",
                model,
                "user",
            )
        if label not in labels:
            raise ValueError(f"unknown exam {label!r} (known: {', '.join(labels)}, {UNKNOWN})")
        probs = np.zeros(len(labels), np.float32)
        probs[labels.index(label)] = 1.0
        return cls(labels, probs, float("nan"), False, "", model, "user")


def exam_calibration(cfg: ModelCfg) -> dict[str, float]:
    """The card's exam calibration: temperature, ood_threshold (inf: none), min_prob."""
    cal = dict(cfg.calibration.get("exam", {}))
    return {
        "temperature": float(cal.get("temperature", 1.0)),
        "ood_threshold": float(cal.get("ood_threshold", float("inf"))),
        "min_prob": float(cal.get("min_prob", 0.0)),
    }


def _decide(
    probs: np.ndarray, ood: float, labels: tuple[str, ...], cal: Mapping[str, float]
) -> tuple[bool, str]:
    if np.isfinite(ood) and ood > cal["ood_threshold"]:
        return True, f"unlike the images it learned (score {ood:.2f} > {cal['ood_threshold']:.2f})"
    probe = ExamResult(labels, probs, ood, False, "", ModelRef("", "", ""))
    if probe.confidence < cal["min_prob"]:
        return True, f"no exam is likely enough ({probe.confidence:.2f} < {cal['min_prob']:.2f})"
    return False, ""


class ExamTask:
    """Softmax of ``logits / T`` per frame; the cine's probabilities are the frame mean and its
    score the frame median."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "exam", "Exam")
        if not self.info.labels:
            raise TaskError(cfg.name, "the exam head has no labels in the model card")
        self.cal = exam_calibration(cfg)

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> ExamResult:
        logits = np.asarray(outputs["logits"], np.float32)
        if logits.shape != (len(self.info.labels),):
            raise TaskError(
                self.info.model.name, f"{logits.shape[0]} exam logits for {len(self.info.labels)} labels"
            )
        probs = softmax(logits / self.cal["temperature"])
        ood = float(np.asarray(outputs["ood"]).reshape(-1)[0]) if "ood" in outputs else float("nan")
        return self._result(probs, ood, ctx.index)

    def _result(self, probs: np.ndarray, ood: float, frame: int | None) -> ExamResult:
        unknown, reason = _decide(probs, ood, self.info.labels, self.cal)
        return ExamResult(self.info.labels, probs, ood, unknown, reason, self.info.model, "model", frame)

    def summarize(
        self, frames: Sequence[ExamResult], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[ExamResult, ...]:
        if not frames:
            return ()
        probs = np.mean([f.probs for f in frames], axis=0).astype(np.float32)
        scores = [f.ood for f in frames if np.isfinite(f.ood)]
        return (self._result(probs, float(np.median(scores)) if scores else float("nan"), None),)


def exam_json(r: ExamResult, files: Files = {}) -> dict[str, Any]:  # noqa: B006 - read-only
    """An exam as results.json writes it (the top-level ``exam`` and the exam task's entries)."""
    from engine.results_json import number

    levels = {}
    for depth, name in enumerate(LEVELS):
        ranked = r.level(depth) if r.probs.any() else []
        levels[name] = {
            "name": r.path[depth] if depth < len(r.path) else UNKNOWN,
            "probs": {n: number(p, 4) for n, p in ranked if n},
        }
    out: dict[str, Any] = {
        "label": r.label(),
        "unknown": r.unknown,
        "reason": r.reason,
        "source": r.source,
        "levels": levels,
        "ood_score": number(r.ood, 4),
    }
    if r.frame is not None:
        out = {"frame": r.frame, **out}
    return out


def _no_drafts(r: ExamResult, label_id: Any, out: Any) -> None:
    """The exam is shown with the study, not drafted as an annotation."""


def _remap(t: Any, src: Sequence[str], dst: Sequence[str]) -> int:
    return list(dst).index(src[int(t)])


SPEC = register_spec(
    HeadSpec(
        kind="exam",
        rank=-1,
        task=ExamTask,
        metric=("organ_accuracy", True),
        json={ExamResult: exam_json},
        drafts={ExamResult: _no_drafts},
        network="ExamHead",
        loss="ExamLoss",
        remap=_remap,
        size=lambda labels: {"num_classes": len(labels)},
        target=lambda t, g, s: np.int64(t),
        metric_args=lambda m: {"labels": m.labels},
    )
)
