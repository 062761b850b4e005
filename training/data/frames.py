"""Unlabelled frames for pretraining: sources, metadata label paths and the torch dataset.

A source turns a :class:`~training.config.PretrainCfg` into :class:`FrameRef` records (which
cine, which frame, its label path in the metadata tree) and a reader that decodes one frame.
Sources are registered by name in :data:`FRAME_SOURCES` ("folders"; the simulator adds "sim").
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError, ReadError
from engine.registry import Registry
from engine.transforms.intensity import to_grey01
from training.data.augment import (
    DEFAULT_AUGMENT,
    NO_AUGMENT,
    AugmentCfg,
    augment,
    crop_to_fan,
    sample_rng,
)
from training.data.tree import LabelTree

if TYPE_CHECKING:
    from engine.io.cine import Cine
    from training.config import PretrainCfg

SKIP_NAMES = {".DS_Store", "Thumbs.db", "DICOMDIR"}


@dataclass(frozen=True)
class FrameRef:
    """One training frame.

    Attributes:
        source: the cine's path (or a generated sample's name).
        frame: frame index in the cine.
        labels: the label path, one name (or None) per tree level.
        patient: the patient (or study) the frame belongs to, for patient-level splits.
    """

    source: str
    frame: int
    labels: tuple[str | None, ...] = ()
    patient: str = ""


FrameReader = Callable[[FrameRef], np.ndarray]
SourceResult = tuple[list[FrameRef], FrameReader]
FRAME_SOURCES: Registry[Callable[[PretrainCfg], SourceResult]] = Registry("frame source")


class _CineReader:
    """Reads frames through ``engine.io.open_cine``, keeping a few cines open."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._open: OrderedDict[str, Cine] = OrderedDict()

    def __call__(self, ref: FrameRef) -> np.ndarray:
        from engine.io import open_cine

        cine = self._open.pop(ref.source, None) or open_cine(ref.source)
        self._open[ref.source] = cine
        while len(self._open) > self.keep:
            self._open.popitem(last=False)[1].close()
        return np.asarray(cine.frame(ref.frame))

    def __getstate__(self) -> dict[str, Any]:  # data-loader workers open their own cines
        return {"keep": self.keep, "_open": OrderedDict()}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)


def _sampled(n: int, k: int) -> list[int]:
    """``k`` frame indices spread evenly over ``n`` frames."""
    if n <= k:
        return list(range(n))
    return sorted({round(float(x)) for x in np.linspace(0, n - 1, k)})


def _csv_labels(path: str, levels: Sequence[str]) -> dict[str, tuple[str | None, ...]]:
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in ("path", *levels) if rows and c not in rows[0]]
    if not rows or missing:
        raise ConfigError(path, f"tree.csv needs the columns path, {', '.join(levels)}")
    return {str(Path(r["path"])): tuple(r[lvl] or None for lvl in levels) for r in rows}


def dicom_tags(path: Path, keywords: Sequence[str]) -> dict[str, str]:
    """String values of DICOM attributes (by keyword) from a file's header; {} for non-DICOM files."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(keywords))
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError):
        return {}
    return {k: str(ds.get(k)) for k in keywords if ds.get(k) not in (None, "")}


def _label_path(
    cfg: PretrainCfg, root: Path, file: Path, tags: dict[str, str], table: dict
) -> tuple[str | None, ...]:
    levels = cfg.tree.levels
    if cfg.tree.source == "csv":
        rel = str(file.relative_to(root))
        return table.get(rel) or table.get(str(file)) or (None,) * len(levels)
    if cfg.tree.source == "dicom":
        return tuple(tags.get(lvl) for lvl in levels)
    parts = file.relative_to(root).parent.parts
    return tuple(parts[i] if i < len(parts) else None for i in range(len(levels)))


@FRAME_SOURCES.register("folders")
def folder_frames(cfg: PretrainCfg) -> SourceResult:
    """Every readable DICOM, video and image under ``cfg.data.paths``; unreadable files are skipped.

    Raises:
        ConfigError: a folder holds no readable ultrasound file.
    """
    from engine.io import open_cine

    table = _csv_labels(cfg.tree.csv, cfg.tree.levels) if cfg.tree.source == "csv" else {}
    refs: list[FrameRef] = []
    for folder in cfg.data.paths:
        root, before = Path(folder), len(refs)
        for file in _files(root):
            try:
                cine = open_cine(file)
            except ReadError:
                continue
            with cine:
                keys = ("PatientID", *(cfg.tree.levels if cfg.tree.source == "dicom" else ()))
                tags = dicom_tags(file, keys) if cine.info.kind == "dicom" else {}
                labels = _label_path(cfg, root, file, tags, table)
                patient = tags.get("PatientID") or str(file.relative_to(root).parent / file.stem)
                refs.extend(
                    FrameRef(str(file), i, labels, patient)
                    for i in _sampled(len(cine), cfg.data.frames_per_cine)
                )
        if len(refs) == before:
            raise ConfigError(root, "no readable DICOM, video or image file in this data folder")
    return refs, _CineReader()


class PretrainFrames:
    """Torch dataset of pretraining frames: ``{"image": [3, H, W], "labels": [L] int64}``.

    Args:
        refs: the frames.
        read: decodes one frame.
        tree: the label tree (``labels`` are its class indices; -1 is unknown).
        size: model input (H, W).
        seed: run seed; with the epoch and index it seeds each sample's augmentation.
        aug: augmentation strength (NO_AUGMENT for evaluation).
        fan_crop: crop to the detected fan before resizing.
    """

    def __init__(
        self,
        refs: Sequence[FrameRef],
        read: FrameReader,
        tree: LabelTree,
        size: tuple[int, int],
        seed: int = 0,
        aug: AugmentCfg = DEFAULT_AUGMENT,
        fan_crop: bool = True,
    ) -> None:
        self.refs, self.read, self.tree, self.size = list(refs), read, tree, size
        self.seed, self.aug, self.fan_crop = seed, aug, fan_crop
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ref = self.refs[index]
        grey = to_grey01(self.read(ref))
        if self.fan_crop:
            grey = crop_to_fan(grey)
        rng = sample_rng(self.seed, self.epoch if self.aug != NO_AUGMENT else 0, index)
        img = torch.from_numpy(augment(grey, self.size, rng, self.aug))
        return {
            "image": img.unsqueeze(0).expand(3, -1, -1).contiguous(),
            "labels": torch.tensor(self.tree.encode(ref.labels), dtype=torch.long),
        }
