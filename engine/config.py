"""Typed model configuration: what a model card says about architecture, input and heads.

Files (model cards, YAML recipes) are parsed once, at the edge, into these frozen dataclasses;
unknown keys are rejected there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def __getattr__(name: str) -> Any:
    """``TASK_NAMES``: every head kind's task, in post-processing order (``engine.heads.kinds``)."""
    if name == "TASK_NAMES":
        from engine.heads.spec import task_names

        return task_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class HeadCfg:
    """One head of a model.

    Attributes:
        name: the task it serves, a head kind (also its key in the model's heads).
        kind: the head kind whose network it is (``engine.heads.network_class``).
        labels: the head's output labels (classes, structures, landmark names, quantities).
        params: keyword arguments of the head's constructor.
    """

    name: str
    kind: str
    labels: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCfg:
    """Architecture, input contract and heads of one model version (its card's ``model``).

    Attributes:
        name: model name in the store, e.g. "echocare-demo".
        arch: registered encoder variant, e.g. "echocare_swin_b".
        version: version string, unique per name ("1", "2", ...; "" before the store numbers it).
        input_size: (H, W) the encoder is run at; multiples of 32.
        in_chans: input channels.
        mean, std: per-channel normalisation applied after scaling pixels to [0, 1].
        crop_to_fan: crop each frame to the ultrasound fan before resizing.
        heads: the heads, keyed by task in ``heads_by_name``.
        measurements: named measurements between landmarks, e.g.
            {"name": "BPD", "kind": "distance", "points": ["bpd_a", "bpd_b"]}.
        trained_on: a plain statement of the training data, shown in the UI
            (e.g. "simulated ultrasound only; not for clinical use").
        clinical_use: False unless clinical validity has been shown.
        exams: where each result applies: keys are a task (``"detection"``), a task's label
            (``"segmentation:lesion"``) or a measurement (``"measurement:EF"``); values are exam
            names at any level of the exam head's tree (``"cardiac"``, ``"fetal head"``), or
            ``"any"`` (every study, recognised or not) or ``"known"`` (every recognised exam).
            A label or measurement without an entry follows its task; a task without one
            applies to every recognised exam (``engine.exams``).
        calibration: per head, what was fitted on held-out data: ``exam`` (temperature,
            ood_threshold, min_prob), ``classification`` (temperature, bias per class, thresholds per label),
            ``detection`` (thresholds per label), with the figures behind them (e.g. ECE).
    """

    name: str
    arch: str
    version: str = "1"
    input_size: tuple[int, int] = (256, 256)
    in_chans: int = 3
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    crop_to_fan: bool = False
    heads: tuple[HeadCfg, ...] = ()
    measurements: tuple[Mapping[str, Any], ...] = ()
    trained_on: str = "unknown"
    clinical_use: bool = False
    exams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    calibration: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def heads_by_name(self) -> dict[str, HeadCfg]:
        return {h.name: h for h in self.heads}
