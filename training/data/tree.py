"""The metadata label tree of the hierarchical classifier (e.g. region -> organ -> probe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

UNKNOWN = -1


@dataclass(frozen=True)
class LabelTree:
    """Class names per level, coarse to fine; a sample's path is one name (or None) per level.

    Attributes:
        levels: level names, e.g. ("region", "organ", "probe").
        classes: per level, the sorted class names seen in the data.
    """

    levels: tuple[str, ...]
    classes: tuple[tuple[str, ...], ...]

    @classmethod
    def from_paths(cls, levels: Sequence[str], paths: Sequence[Sequence[str | None]]) -> LabelTree:
        """Collect the classes of every level from the samples' label paths."""
        classes = tuple(
            tuple(sorted({p[i] for p in paths if i < len(p) and p[i] is not None}))
            for i in range(len(levels))
        )
        return cls(tuple(levels), classes)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.classes)

    def encode(self, path: Sequence[str | None]) -> tuple[int, ...]:
        """Class indices of a label path; missing or unseen names give UNKNOWN (ignored by the loss)."""
        out = []
        for i, names in enumerate(self.classes):
            name = path[i] if i < len(path) else None
            out.append(names.index(name) if name in names else UNKNOWN)
        return tuple(out)

    def as_dict(self) -> dict[str, list[str]]:
        return {lvl: list(c) for lvl, c in zip(self.levels, self.classes)}
