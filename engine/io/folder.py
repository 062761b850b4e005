"""A folder of DICOM instances or images opened as one cine.

DICOM instances are ordered by InstanceNumber (name order breaks ties, and is used when any
instance lacks the number); images by natural name order ("frame2" before "frame10"). Files
that are neither, or that cannot be opened, are skipped and counted.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EchoCareError, ReadError
from engine.io.calibration import Calibration
from engine.io.cine import DEFAULT_FPS, Cine, CineInfo, uniform_timestamps
from engine.io.readers import ReaderSpec, read_head, reader_for

OPEN_CHILDREN = 4


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders embedded numbers by value."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


@dataclass(frozen=True)
class Member:
    """One file of the folder and what opening it told us."""

    path: Path
    spec: ReaderSpec
    info: CineInfo


def _members(folder: Path) -> tuple[list[Member], int]:
    members: list[Member] = []
    skipped = 0
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            spec = reader_for(read_head(path))
            if spec is None or spec.kind == "video":
                skipped += 1
                continue
            with spec.open(path, 0) as cine:
                members.append(Member(path, spec, cine.info))
        except (EchoCareError, OSError):
            skipped += 1
    return members, skipped


def _ordered(members: list[Member]) -> list[Member]:
    dicom = [m for m in members if m.info.kind == "dicom"]
    if not dicom:
        return members
    numbers = [m.info.extra.get("instance_number") for m in dicom]
    if all(n is not None for n in numbers):
        return sorted(dicom, key=lambda m: (m.info.extra["instance_number"], natural_key(m.path.name)))
    return dicom


def _check_shapes(folder: Path, members: list[Member]) -> None:
    first = members[0].info
    for m in members[1:]:
        if (m.info.rows, m.info.columns, m.info.color) != (first.rows, first.columns, first.color):
            raise ReadError(
                folder,
                f"{m.path.name} is {m.info.rows}x{m.info.columns}, unlike "
                f"{members[0].path.name} ({first.rows}x{first.columns}); frames of a folder must match",
            )


class FolderCine(Cine):
    """The frames of every member file, in order; members are reopened on demand."""

    def __init__(self, info: CineInfo, members: list[Member], cache_bytes: int) -> None:
        super().__init__(info, cache_bytes)
        self._members = members
        self._index = [(k, j) for k, m in enumerate(members) for j in range(m.info.frames)]
        self._open: OrderedDict[int, Cine] = OrderedDict()
        self._lock = threading.Lock()

    def _child(self, k: int) -> Cine:
        with self._lock:
            if k in self._open:
                self._open.move_to_end(k)
                return self._open[k]
            member = self._members[k]
            cine = member.spec.open(member.path, 0)
            self._open[k] = cine
            while len(self._open) > OPEN_CHILDREN:
                self._open.popitem(last=False)[1].close()
            return cine

    def _decode(self, index: int) -> np.ndarray:
        k, j = self._index[index]
        return self._child(k).frame(j)

    def calibration_for(self, index: int) -> Calibration:
        """Calibration of the member file that holds frame ``index``."""
        return self._members[self._index[index % self.n_frames][0]].info.calibration

    def close(self) -> None:
        with self._lock:
            for cine in self._open.values():
                cine.close()
            self._open.clear()
        super().close()


def open_folder(folder: Path, cache_bytes: int = 256 * 1024 * 1024) -> FolderCine:
    """Open a folder of DICOM instances or images as one cine at the default rate.

    Raises:
        ReadError: the folder holds no readable image or DICOM file, or their sizes differ.
    """
    members, skipped = _members(folder)
    members = _ordered(members)
    if not members:
        raise ReadError(folder, "folder holds no readable images or DICOM files")
    _check_shapes(folder, members)
    first = members[0].info
    frames = sum(m.info.frames for m in members)
    info = CineInfo(
        path=str(folder),
        kind="folder",
        frames=frames,
        rows=first.rows,
        columns=first.columns,
        color=first.color,
        bits=first.bits,
        fps=DEFAULT_FPS if frames > 1 else None,
        timestamps_ms=uniform_timestamps(frames, DEFAULT_FPS),
        timing_source="default" if frames > 1 else "single",
        calibration=first.calibration,
        transfer_syntax=first.transfer_syntax,
        photometric=first.photometric,
        modality=first.modality,
        manufacturer=first.manufacturer,
        extra={
            "members": len(members),
            "member_kind": first.kind,
            "skipped": skipped,
            "calibration_notes": first.extra.get("calibration_notes", []),
        },
        declared_exam=first.declared_exam,
    )
    return FolderCine(info, members, cache_bytes)
