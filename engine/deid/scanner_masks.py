"""Fan masks remembered per scanner model, in ``scanner_masks.json`` in the project folder.

A scanner model (Manufacturer + ManufacturerModelName) draws its fan and its text in the same
places for a given image size, so a fan found once (or drawn by the user) is reused for every
file of that model and size. User masks are never replaced by detected ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.errors import ProjectError, ReadError
from engine.interop import rle
from engine.project.atomic import write_atomic

FILE_NAME = "scanner_masks.json"
USER = "user"


@dataclass(frozen=True)
class ScannerKey:
    """Which scanner and image size a mask belongs to."""

    manufacturer: str
    model: str
    rows: int
    columns: int

    def text(self) -> str:
        return f"{self.manufacturer}|{self.model}|{self.rows}x{self.columns}"


def scanner_key(path: str | Path) -> ScannerKey:
    """The scanner key of a DICOM file (Manufacturer, ManufacturerModelName, Rows, Columns).

    Raises:
        ReadError: the file cannot be read as DICOM.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        rows, columns = int(ds.Rows), int(ds.Columns)
    except Exception as err:  # pydicom raises many types on bad files
        raise ReadError(path, f"not a readable DICOM image ({err})") from None
    maker = str(ds.get("Manufacturer", "") or "unknown")
    model = str(ds.get("ManufacturerModelName", "") or "unknown")
    return ScannerKey(maker, model, rows, columns)


@dataclass(frozen=True)
class StoredMask:
    """A remembered fan mask ``[rows, columns]`` bool, its source and when it was stored."""

    mask: np.ndarray
    source: str
    updated: str


class ScannerMasks:
    """The project's scanner mask store (a small JSON file, rewritten atomically).

    Args:
        folder: the project folder.

    Raises:
        ProjectError: the file exists but cannot be read.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / FILE_NAME
        self._entries: dict[str, dict[str, object]] = {}
        if self.path.exists():
            try:
                self._entries = dict(json.loads(self.path.read_text(encoding="utf-8"))["masks"])
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise ProjectError(self.path, f"unreadable scanner mask store ({err})") from None
        self._dirty = False

    def keys(self) -> list[str]:
        """Every stored key, as ``manufacturer|model|ROWSxCOLUMNS``."""
        return sorted(self._entries)

    def get(self, key: ScannerKey) -> StoredMask | None:
        """The remembered mask for ``key``, if any."""
        entry = self._entries.get(key.text())
        if entry is None:
            return None
        mask = rle.decode(entry["rle"])  # type: ignore[arg-type]
        return StoredMask(mask, str(entry["source"]), str(entry["updated"]))

    def set(self, key: ScannerKey, mask: np.ndarray, source: str = USER) -> None:
        """Remember (or replace) the mask for ``key``; call ``save`` to write the file.

        Raises:
            ValueError: the mask's shape differs from the key's image size.
        """
        if mask.shape != (key.rows, key.columns):
            raise ValueError(f"mask is {mask.shape}, the scanner's images are {(key.rows, key.columns)}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._entries[key.text()] = {"rle": rle.encode(mask.astype(bool)), "source": source, "updated": now}
        self._dirty = True

    def remove(self, key: ScannerKey) -> bool:
        """Forget the mask for ``key``; True when one was stored."""
        found = self._entries.pop(key.text(), None) is not None
        self._dirty |= found
        return found

    def save(self) -> None:
        """Write the store if it changed (atomically).

        Raises:
            ProjectError: the file cannot be written; the previous store is kept.
        """
        if self._dirty:
            data = json.dumps({"version": 1, "masks": self._entries}, indent=1).encode()
            try:
                write_atomic(self.path, data)
            except OSError as err:
                raise ProjectError(
                    self.path, f"cannot save the scanner masks ({err.strerror or err})"
                ) from None
            self._dirty = False
