"""Labelled samples for fine-tuning and their conversion to model-input tensors.

A :class:`LabelledSample` holds one grey frame and, per head, a target in *original frame*
pixels (the format every data source can produce):

==============  ===============================================================
head            target
==============  ===============================================================
segmentation    ``[H, W]`` int label map (0 background, i + 1 = labels[i])
classification  int class index
detection       ``(boxes [M, 4] float (x0, y0, x1, y1), labels [M] int)``
landmarks       ``[L, 2]`` float (x, y); NaN marks a missing landmark
regression      ``[K]`` float in the head's units; NaN is missing
enhancement     ``[H, W]`` uint8 clean frame
report          report text
==============  ===============================================================

:func:`prepare` resizes the frame to the model input and maps every target there, giving the
formats the engine's losses document (``engine.heads.<task>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.config import ModelCfg
from engine.heads.spec import head_spec


@dataclass(frozen=True, eq=False)
class LabelledSample:
    """One frame with its human-final (or simulated exact) labels.

    Attributes:
        image: ``[H, W]`` or ``[H, W, 3]`` uint8/uint16 frame as displayed.
        targets: per head name, the target in original pixels (module docstring).
        patient: patient id, for patient-level splits.
        spacing_mm: (x, y) mm per original pixel, or None when uncalibrated.
        key: a stable id of the sample (data hashing, logs).
    """

    image: np.ndarray
    targets: Mapping[str, Any]
    patient: str
    spacing_mm: tuple[float, float] | None = None
    key: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """How frames become model input, exactly as inference does it (``engine.transforms``).

    Attributes:
        size: model input (H, W); frames are letterboxed into it (aspect kept, centred).
        mean, std: per-channel normalisation after scaling pixels to [0, 1].
        crop_to_fan: crop each frame to its detected fan first.
        in_chans: model input channels.
        vocab: the vocabulary of the model's open-vocabulary head (the report's words).
        report_len: that head's target length, words.
    """

    size: tuple[int, int]
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    crop_to_fan: bool = False
    in_chans: int = 3
    vocab: tuple[str, ...] = ()
    report_len: int = 24

    @classmethod
    def of_model(cls, cfg: ModelCfg, labels: Mapping[str, Sequence[str]] = {}) -> InputSpec:
        """The input contract of a model card; the vocabulary is its open-vocabulary head's in ``labels``."""
        vocab: Sequence[str] = ()
        report_len = 24
        for head in cfg.heads:
            if head.name in labels and head_spec(head.kind).open_vocabulary:
                vocab, report_len = labels[head.name], int(head.params.get("max_len", 24))
        return cls(
            tuple(cfg.input_size),
            tuple(cfg.mean),
            tuple(cfg.std),
            cfg.crop_to_fan,
            cfg.in_chans,
            tuple(vocab),
            report_len,
        )

    def model_cfg(self) -> ModelCfg:
        return ModelCfg(
            name="input",
            arch="",
            input_size=self.size,
            in_chans=self.in_chans,
            mean=self.mean,
            std=self.std,
            crop_to_fan=self.crop_to_fan,
        )


def prepare(sample: LabelledSample, spec: InputSpec, heads: Sequence[str]) -> dict[str, Any]:
    """Model-input tensors of one sample: ``image`` [C, H, W], ``targets`` per head, ``spacing``.

    The frame goes through ``engine.transforms.preprocess`` (the inference path: optional crop to
    the fan, letterbox, normalisation) and every target through the same geometry. ``spacing``
    is mm per *model-input* pixel (x, y), NaN when the frame is uncalibrated.
    """
    import torch

    from engine.transforms.preprocess import preprocess
    from engine.transforms.sector import detect_sector

    frame = np.asarray(sample.image)
    crop = detect_sector(frame).box if spec.crop_to_fan else None
    prepared = preprocess(frame, spec.model_cfg(), crop)
    geom = prepared.geometry
    targets = {}
    for name in heads:
        value = head_spec(name).target(sample.targets[name], geom, spec)
        targets[name] = (
            tuple(torch.from_numpy(v) for v in value) if isinstance(value, tuple) else torch.as_tensor(value)
        )
    sp = sample.spacing_mm
    spacing = (sp[0] / geom.scale, sp[1] / geom.scale) if sp else (float("nan"), float("nan"))
    image = torch.from_numpy(np.ascontiguousarray(prepared.image, dtype=np.float32))
    return {"image": image, "targets": targets, "spacing": torch.tensor(spacing)}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack samples; unstacked kinds' targets (detection boxes) stay a list; features stack per level."""
    import torch

    out: dict[str, Any] = {
        "image": torch.stack([it["image"] for it in items]),
        "spacing": torch.stack([it["spacing"] for it in items]),
        "targets": {},
    }
    for name in items[0]["targets"]:
        values = [it["targets"][name] for it in items]
        out["targets"][name] = torch.stack(values) if head_spec(name).stacked else values
    if "feats" in items[0]:
        out["feats"] = [torch.stack([it["feats"][i] for it in items]) for i in range(len(items[0]["feats"]))]
    return out


class PreparedSet:
    """A torch dataset over samples, prepared on access (or over cached features, see cache_features)."""

    def __init__(self, samples: Sequence[LabelledSample], spec: InputSpec, heads: Sequence[str]) -> None:
        self.samples, self.spec, self.heads = list(samples), spec, tuple(heads)
        self.feats: list[list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = prepare(self.samples[index], self.spec, self.heads)
        if self.feats is not None:
            item["feats"] = self.feats[index]
        return item
