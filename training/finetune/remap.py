"""Align a data source's labels with the label space of the model being fine-tuned.

A stored model's head keeps its labels (and weights) when the data's labels are a subset of
them: targets are re-indexed into the model's order (missing landmarks and quantities become
NaN, which the losses ignore). Otherwise the head is rebuilt for the data's labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from engine.config import ModelCfg
from engine.heads.spec import Remap, head_spec
from training.finetune.samples import LabelledSample


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
        spec = head_spec(head)
        if have is None or spec.remap is None or not have.labels or have.labels == src:
            continue
        if spec.open_vocabulary or set(src) <= set(have.labels):
            remaps[head] = (spec.remap, src, tuple(have.labels))
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
