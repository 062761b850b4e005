"""The label schema: ids, names, colours and overlay opacity of each structure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

MAX_LABELS = 255  # mask pixels are uint8; 0 is background


@dataclass(frozen=True)
class Label:
    """One label of the schema.

    Attributes:
        id: 1..255; the value its pixels hold in a mask.
        name: shown in the UI and stored in the project.
        color: (r, g, b), 0..255.
        opacity: overlay alpha, 0..1.
    """

    id: int
    name: str
    color: tuple[int, int, int]
    opacity: float = 0.45


DEFAULT_LABELS: tuple[Label, ...] = (
    Label(1, "LV", (230, 60, 60)),
    Label(2, "myocardium", (60, 160, 230)),
    Label(3, "LA", (70, 200, 90)),
    Label(4, "lesion", (240, 200, 40)),
)


class LabelSet:
    """An ordered, id-keyed set of labels; the mask overlay's lookup table comes from here."""

    def __init__(self, labels: tuple[Label, ...] = DEFAULT_LABELS) -> None:
        self._labels: dict[int, Label] = {}
        for label in labels:
            self._check(label)
            self._labels[label.id] = label

    @staticmethod
    def _check(label: Label) -> None:
        if not 1 <= label.id <= MAX_LABELS:
            raise ValueError(f"label id {label.id} is outside 1..{MAX_LABELS}")

    def __iter__(self) -> Iterator[Label]:
        return iter(sorted(self._labels.values(), key=lambda lab: lab.id))

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self._labels

    def get(self, label_id: int) -> Label:
        """The label with this id; unknown ids get a grey placeholder so old data still shows."""
        return self._labels.get(label_id, Label(label_id, f"label {label_id}", (160, 160, 160)))

    def put(self, label: Label) -> None:
        """Add or replace a label."""
        self._check(label)
        self._labels[label.id] = label

    def with_opacity(self, label_id: int, opacity: float) -> None:
        """Change one label's overlay opacity (clamped to 0..1)."""
        self.put(replace(self.get(label_id), opacity=min(1.0, max(0.0, opacity))))

    def lut(self) -> np.ndarray:
        """A [256, 4] uint8 RGBA table mapping mask values to overlay colours (0 is clear)."""
        table = np.zeros((256, 4), dtype=np.uint8)
        for label in self:
            table[label.id, :3] = label.color
            table[label.id, 3] = round(255 * label.opacity)
        return table
