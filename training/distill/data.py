"""Distillation frames: simulated scenes preprocessed exactly as the engine feeds the model.

The teacher labels every frame with its own features and outputs, so frames need no labels.
Where the simulator's exact truth names a structure or class the model knows (matched by
label name), it is kept as an optional supervised target in model-input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.config import ModelCfg
from engine.transforms.preprocess import preprocess

SEED_STRIDE = 1_000_003
NO_CLASS = -1


@dataclass(frozen=True, eq=False)
class DistillFrame:
    """One model input with optional simulator labels.

    Attributes:
        image: ``[C, H, W]`` float32, normalised for the model.
        mask: ``[H, W]`` int64 segmentation target (0 background) or None.
        label: classification target index, or ``NO_CLASS``.
        key: ``scene:seed:frame``.
    """

    image: np.ndarray
    mask: np.ndarray | None
    label: int
    key: str


def _head_labels(cfg: ModelCfg, kind: str) -> tuple[str, ...]:
    return next((h.labels for h in cfg.heads if h.kind == kind), ())


def _targets(result: object, frame: int, cfg: ModelCfg, geometry: object) -> tuple[np.ndarray | None, int]:
    truth = result.truth  # type: ignore[attr-defined]
    seg = _head_labels(cfg, "segmentation")
    mask = None
    known = {k: seg.index(n) + 1 for k, n in truth.labels.items() if n in seg}
    if known:
        lut = np.zeros(256, np.int64)
        for k, v in known.items():
            lut[k] = v
        mask = geometry.image_to_model(lut[truth.masks[frame]].astype(np.uint8), nearest=True)  # type: ignore[attr-defined]
        mask = mask.astype(np.int64)
    classes = _head_labels(cfg, "classification")
    name = truth.class_names[truth.class_index] if truth.class_index is not None else None
    return mask, classes.index(name) if name in classes else NO_CLASS


def simulated_frames(
    cfg: ModelCfg,
    count: int,
    scenes: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    seed: int,
    per_cine: int = 4,
) -> list[DistillFrame]:
    """``count`` frames spread evenly over ``scenes`` (simulator seeds ``seed * SEED_STRIDE + i``).

    Args:
        cfg: the model's configuration (input size, normalisation, head labels).
        count: frames wanted.
        scenes: simulator scene names, used in turn.
        sizes: render sizes (H, W), used in turn.
        seed: base seed; held-out sets use a different one.
        per_cine: evenly spaced frames taken from each multi-frame scene.
    """
    from training.sim import SimConfig, simulate

    out: list[DistillFrame] = []
    i = 0
    while len(out) < count:
        scene = scenes[i % len(scenes)]
        h, w = sizes[i % len(sizes)]
        sim_seed = seed * SEED_STRIDE + i
        result = simulate(scene, seed=sim_seed, cfg=SimConfig(height=h, width=w))
        n = len(result.frames)
        picks = np.unique(np.linspace(0, n - 1, min(n, per_cine)).round().astype(int))
        for f in picks[: count - len(out)]:
            prep = preprocess(result.frames[f], cfg)
            mask, label = _targets(result, int(f), cfg, prep.geometry)
            out.append(DistillFrame(prep.image, mask, label, f"{scene}:{sim_seed}:{int(f)}"))
        i += 1
    return out
