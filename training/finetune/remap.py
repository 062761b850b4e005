"""Align a data source's labels with the label space of the model being fine-tuned.

A stored model's head keeps its labels (and weights) when the data's labels are a subset of
them: targets are re-indexed into the model's order (missing landmarks and quantities become
NaN, which the losses ignore). Otherwise the head is rebuilt for the data's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.config import ModelCfg
from training.finetune.samples import LabelledSample

Remap = Callable[[Any, Sequence[str], Sequence[str]], Any]


def _index(src: Sequence[str], dst: Sequence[str]) -> np.ndarray:
    return np.array([list(dst).index(n) for n in src], dtype=np.int64)


def _seg(t: Any, src: Sequence[str], dst: Sequence[str]) -> Any:
    lut = np.zeros(256, dtype=np.uint8)
    lut[1 : len(src) + 1] = _index(src, dst) + 1
    return lut[np.asarray(t, dtype=np.uint8)]


def _points(t: Any, src: Sequence[str], dst: Sequence[str]) -> Any:
    out = np.full((len(dst), 2), np.nan, dtype=np.float32)
    out[_index(src, dst)] = np.asarray(t, dtype=np.float32).reshape(-1, 2)
    return out


def _values(t: Any, src: Sequence[str], dst: Sequence[str]) -> Any:
    out = np.full(len(dst), np.nan, dtype=np.float32)
    out[_index(src, dst)] = np.asarray(t, dtype=np.float32).reshape(-1)
    return out


REMAPS: dict[str, Remap] = {
    "segmentation": _seg,
    "classification": lambda t, src, dst: int(_index([src[int(t)]], dst)[0]),
    "detection": lambda t, src, dst: (t[0], _index(src, dst)[np.asarray(t[1], dtype=np.int64)]),
    "landmarks": _points,
    "regression": _values,
    "report": lambda t, src, dst: t,  # text; encoded with the model's vocabulary
}


def align_to_model(
    samples: Sequence[LabelledSample],
    labels: Mapping[str, tuple[str, ...]],
    model: ModelCfg,
    heads: Sequence[str],
) -> tuple[list[LabelledSample], dict[str, tuple[str, ...]]]:
    """Samples and labels in the model's label space for every head whose labels contain the data's.

    Returns:
        the (possibly re-indexed) samples and the labels each head is trained with.
    """
    out_labels = dict(labels)
    remaps: dict[str, tuple[Remap, tuple[str, ...], tuple[str, ...]]] = {}
    for head in heads:
        have = model.heads_by_name.get(head)
        src = tuple(labels.get(head, ()))
        if have is None or head not in REMAPS or not have.labels or have.labels == src:
            continue
        if head == "report" or set(src) <= set(have.labels):
            remaps[head] = (REMAPS[head], src, tuple(have.labels))
            out_labels[head] = tuple(have.labels)
    if not remaps:
        return list(samples), out_labels
    aligned = []
    for s in samples:
        targets = dict(s.targets)
        for head, (fn, src, dst) in remaps.items():
            if head in targets:
                targets[head] = fn(targets[head], src, dst)
        aligned.append(replace(s, targets=targets))
    return aligned, out_labels
