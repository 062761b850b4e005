"""The recipe's simulated data: scenes rendered once, letterboxed to the model input, kept in memory.

Frames go through the engine's own geometry (``Geometry.letterbox``) and every target is mapped
with it, so training sees exactly what ``echocare infer`` feeds the model. A sample stores the
model-input image as uint8 and its targets in model-input pixels; ``RecipeSet`` turns it into
the tensors the engine's losses take (formats in ``engine.heads.<task>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    RANDOMISED_UNTAUGHT,
    REGRESSION,
    SCENE_HEADS,
    SEG_LABELS,
    canonical_pairs,
)

SEED_STRIDE = 1_000_003
CLASS_IGNORE = -100  # engine.heads.classification.IGNORE: no class known for this frame


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


def _seg_target(truth: Any, frame: int, geom: Geometry) -> np.ndarray:
    return geom.image_to_model(_seg_lut(truth.labels)[truth.masks[frame]], nearest=True).astype(np.uint8)


def _box_target(truth: Any, frame: int, geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
    names = [truth.box_classes[i] for i in truth.box_labels[frame]]
    boxes = geom.boxes_to_model(np.asarray(truth.boxes[frame], np.float64).reshape(-1, 4))
    return boxes.astype(np.float32), np.array([DETECTION.index(n) for n in names], np.int64)


def _values(truth: Any) -> np.ndarray:
    return np.array([truth.values[k].value for k in REGRESSION], np.float32)


def normalised(image: np.ndarray, mean: float, std: float) -> np.ndarray:
    """A uint8 image scaled to [0, 1] and normalised like the model input (float32)."""
    return ((image.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


# per head kind: the simulation's exact label of one frame, in the recipe's label space and
# model-input pixels (the report stays text until the vocabulary is known)
SIM_TARGETS: dict[str, Callable[[Any, int, Geometry], Any]] = {
    "segmentation": _seg_target,
    "classification": lambda truth, frame, geom: CLASSES.index(truth.class_names[truth.class_index]),
    "detection": _box_target,
    "landmarks": _landmarks,
    "regression": lambda truth, frame, geom: _values(truth),
    "enhancement": lambda truth, frame, geom: _to_model(geom, truth.clean[frame]),
    "report": lambda truth, frame, geom: truth.report,
}
# stored targets kept compact (uint8 maps and frames) and widened when a batch is built
WIDEN: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "segmentation": lambda t, mean, std: t[None].astype(np.int64),
    "enhancement": lambda t, mean, std: normalised(t, mean, std)[None],
}


def frame_targets(result: Any, frame: int, geom: Geometry, heads: Sequence[str]) -> dict[str, Any]:
    """Targets of ``heads`` for frame ``frame`` of a simulation, in model-input pixels.

    A domain-randomised simulation gives the ignore target for the heads it does not teach
    (``RANDOMISED_UNTAUGHT``), so batches mixing both kinds still stack.
    """
    untaught = RANDOMISED_UNTAUGHT.get(result.truth.scene, ()) if result.truth.domain else ()
    return {
        head: CLASS_IGNORE if head in untaught else SIM_TARGETS[head](result.truth, frame, geom)
        for head in heads
    }


def simulation(
    scene: str, seed: int, size: tuple[int, int], randomised: float = 0.0, ranges: Any = None
) -> Any:
    """The simulation of ``scene`` a recipe uses for ``seed``: at ``size`` on the scene's own probe,
    or, for a share ``randomised`` of the seeds (drawn per seed), under domain randomisation
    with ``ranges`` (``training.sim.domain.DomainRanges``; None: the defaults)."""
    from training.sim import SimConfig, simulate
    from training.sim.domain import DEFAULT_RANGES, simulate_randomised

    if randomised > 0 and np.random.default_rng([seed, 0xD0]).random() < randomised:
        return simulate_randomised(scene, seed, ranges or DEFAULT_RANGES)
    return simulate(scene, seed=seed, cfg=SimConfig(height=size[0], width=size[1]))


def render_scene(
    scene: str,
    count: int,
    base_seed: int,
    sizes: Sequence[tuple[int, int]],
    input_size: tuple[int, int],
    cardiac_frames: int = 8,
    randomised: float = 0.0,
    ranges: Any = None,
) -> list[SceneSample]:
    """``count`` training frames of ``scene`` (simulator seeds ``base_seed * SEED_STRIDE + i``).

    Sizes are used in turn; cardiac cines give ``cardiac_frames`` evenly spaced frames each.
    A share ``randomised`` of the simulations (drawn per seed) is rendered under domain
    randomisation instead (``training.sim.domain``: its own size, geometry and exports, drawn
    from ``ranges``; None: the defaults).
    """
    heads = SCENE_HEADS[scene]
    out: list[SceneSample] = []
    i = 0
    while len(out) < count:
        seed = base_seed * SEED_STRIDE + i
        result = simulation(scene, seed, sizes[i % len(sizes)], randomised, ranges)
        h, w = result.frames.shape[1:]
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
    """Torch dataset over scene samples: ``{"image", "targets", "spacing"}`` as ``collate`` expects,
    and ``feats`` once a frozen encoder's maps are cached (``training.finetune.module.cache_features``).

    Args:
        samples: the samples (reports already encoded).
        mean, std: the model's normalisation (after scaling pixels to [0, 1]).
    """

    def __init__(self, samples: Sequence[SceneSample], mean: Sequence[float], std: Sequence[float]) -> None:
        self.samples, self.mean, self.std = list(samples), tuple(mean), tuple(std)
        self.feats: list[list[Any]] | None = None  # a frozen encoder's maps (``cache_features``)

    def __len__(self) -> int:
        return len(self.samples)

    def _norm(self, img: np.ndarray, c: int) -> np.ndarray:
        return normalised(img, self.mean[c], self.std[c])

    def _tensor(self, head: str, target: Any) -> Any:
        """A stored target as the loss takes it (``WIDEN``); a (boxes, labels) pair stays a pair."""
        import torch

        if isinstance(target, tuple):
            return tuple(torch.from_numpy(t) for t in target)
        if head in WIDEN:
            return torch.from_numpy(WIDEN[head](target, self.mean[0], self.std[0]))
        return torch.as_tensor(target)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        s = self.samples[index]
        image = torch.from_numpy(np.stack([self._norm(s.image, c) for c in range(3)]))
        targets = {head: self._tensor(head, t) for head, t in s.targets.items()}
        item = {"image": image, "targets": targets, "spacing": torch.tensor([float("nan")] * 2)}
        if self.feats is not None:
            item["feats"] = self.feats[index]
        return item
