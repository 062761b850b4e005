"""The recipe's simulated data: scenes rendered once, letterboxed to the model input, kept in memory.

Frames go through the engine's own geometry (``Geometry.letterbox``) and every target is mapped
with it, so training sees exactly what ``echocare infer`` feeds the model. A sample stores the
model-input image as uint8 and its targets in model-input pixels; ``RecipeSet`` turns it into
the tensors the engine's losses take (formats in ``engine.heads.<task>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.tasks.report import build_vocab, encode_report
from engine.transforms.geometry import Geometry
from engine.transforms.intensity import to_unit_range
from training.recipes.labels import (
    CLASSES,
    DETECTION,
    LANDMARKS,
    REGRESSION,
    SCENE_HEADS,
    SEG_LABELS,
    canonical_pairs,
)

SEED_STRIDE = 1_000_003


@dataclass(frozen=True, eq=False)
class SceneSample:
    """One training frame in model-input space.

    Attributes:
        scene: simulator scene name.
        image: ``[h, w]`` uint8 letterboxed frame.
        targets: per head, the target in model-input pixels (report: the text).
        key: ``scene:seed:frame:HxW``, a stable id.
    """

    scene: str
    image: np.ndarray
    targets: dict[str, Any] = field(default_factory=dict)
    key: str = ""


def _to_model(geom: Geometry, image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(geom.image_to_model(to_unit_range(image)) * 255), 0, 255).astype(np.uint8)


def _seg_lut(labels: dict[int, str]) -> np.ndarray:
    lut = np.zeros(256, np.uint8)
    for k, name in labels.items():
        if name in SEG_LABELS:
            lut[k] = SEG_LABELS.index(name) + 1
    return lut


def _landmarks(truth: Any, frame: int, geom: Geometry) -> np.ndarray:
    out = np.full((len(LANDMARKS), 2), np.nan, np.float32)
    points = canonical_pairs(tuple(truth.landmark_names), np.asarray(truth.landmarks[frame], np.float64))
    for k, name in enumerate(truth.landmark_names):
        if name in LANDMARKS:
            out[LANDMARKS.index(name)] = geom.points_to_model(points[k : k + 1])[0]
    return out


def frame_targets(result: Any, frame: int, geom: Geometry, heads: Sequence[str]) -> dict[str, Any]:
    """Targets of ``heads`` for frame ``frame`` of a simulation, in model-input pixels."""
    truth = result.truth
    out: dict[str, Any] = {}
    for head in heads:
        if head == "segmentation":
            lut = _seg_lut(truth.labels)
            out[head] = geom.image_to_model(lut[truth.masks[frame]], nearest=True).astype(np.uint8)
        elif head == "classification":
            out[head] = CLASSES.index(truth.class_names[truth.class_index])
        elif head == "detection":
            names = [truth.box_classes[i] for i in truth.box_labels[frame]]
            boxes = geom.boxes_to_model(np.asarray(truth.boxes[frame], np.float64).reshape(-1, 4))
            out[head] = (boxes.astype(np.float32), np.array([DETECTION.index(n) for n in names], np.int64))
        elif head == "landmarks":
            out[head] = _landmarks(truth, frame, geom)
        elif head == "regression":
            out[head] = np.array([truth.values[k].value for k in REGRESSION], np.float32)
        elif head == "enhancement":
            out[head] = _to_model(geom, truth.clean[frame])
        elif head == "report":
            out[head] = truth.report
    return out


def render_scene(
    scene: str,
    count: int,
    base_seed: int,
    sizes: Sequence[tuple[int, int]],
    input_size: tuple[int, int],
    cardiac_frames: int = 8,
) -> list[SceneSample]:
    """``count`` training frames of ``scene`` (simulator seeds ``base_seed * SEED_STRIDE + i``).

    Sizes are used in turn; cardiac cines give ``cardiac_frames`` evenly spaced frames each.
    """
    from training.sim import SimConfig, simulate

    heads = SCENE_HEADS[scene]
    out: list[SceneSample] = []
    i = 0
    while len(out) < count:
        h, w = sizes[i % len(sizes)]
        seed = base_seed * SEED_STRIDE + i
        result = simulate(scene, seed=seed, cfg=SimConfig(height=h, width=w))
        n = len(result.frames)
        picks = np.linspace(0, n - 1, min(n, cardiac_frames)).round().astype(int) if n > 1 else [0]
        geom = Geometry.letterbox((h, w), input_size)
        for f in picks[: count - len(out)]:
            out.append(
                SceneSample(
                    scene,
                    _to_model(geom, result.frames[f]),
                    frame_targets(result, int(f), geom, heads),
                    f"{scene}:{seed}:{int(f)}:{h}x{w}",
                )
            )
        i += 1
    return out


def report_vocab(samples: Sequence[SceneSample]) -> tuple[str, ...]:
    """The report head's labels: specials, then every word of the training reports."""
    return build_vocab([s.targets["report"] for s in samples if "report" in s.targets])


def encode_reports(samples: Sequence[SceneSample], vocab: Sequence[str], max_len: int) -> list[SceneSample]:
    """Samples with report texts replaced by word ids ``[max_len]``."""
    return [
        replace(s, targets={**s.targets, "report": encode_report(s.targets["report"], vocab, max_len)})
        if "report" in s.targets
        else s
        for s in samples
    ]


class RecipeSet:
    """Torch dataset over scene samples: ``{"image", "targets", "spacing"}`` as ``collate`` expects.

    Args:
        samples: the samples (reports already encoded).
        mean, std: the model's normalisation (after scaling pixels to [0, 1]).
    """

    def __init__(self, samples: Sequence[SceneSample], mean: Sequence[float], std: Sequence[float]) -> None:
        self.samples, self.mean, self.std = list(samples), tuple(mean), tuple(std)

    def __len__(self) -> int:
        return len(self.samples)

    def _norm(self, img: np.ndarray, c: int) -> np.ndarray:
        return ((img.astype(np.float32) / 255.0 - self.mean[c]) / self.std[c]).astype(np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        s = self.samples[index]
        image = torch.from_numpy(np.stack([self._norm(s.image, c) for c in range(3)]))
        targets: dict[str, Any] = {}
        for head, t in s.targets.items():
            if head == "segmentation":
                targets[head] = torch.from_numpy(t[None].astype(np.int64))
            elif head == "detection":
                targets[head] = (torch.from_numpy(t[0]), torch.from_numpy(t[1]))
            elif head == "enhancement":
                targets[head] = torch.from_numpy(self._norm(t, 0)[None])
            else:
                targets[head] = torch.as_tensor(t)
        return {"image": image, "targets": targets, "spacing": torch.tensor([float("nan")] * 2)}
