"""The table of file readers: how each recognises its content, and how it opens a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.io.cine import Cine
from engine.io.dicom import open_dicom, sniff_dicom
from engine.io.image import open_image, sniff_image
from engine.io.video import open_video, sniff_video
from engine.registry import Registry

HEAD_BYTES = 512


@dataclass(frozen=True)
class ReaderSpec:
    """One kind of input file.

    Attributes:
        kind: the ``CineInfo.kind`` it produces.
        priority: lower is tried first (content checks that are more specific go first).
        sniff: whether the first ``HEAD_BYTES`` bytes look like this kind.
        open: opens the file as a Cine, given the frame-cache bound in bytes.
        suffixes: file name endings usual for this kind (for clearer errors only).
    """

    kind: str
    priority: int
    sniff: Callable[[bytes], bool]
    open: Callable[[Path, int], Cine]
    suffixes: tuple[str, ...]


READERS: Registry[ReaderSpec] = Registry("reader")
READERS.register("dicom")(ReaderSpec("dicom", 0, sniff_dicom, open_dicom, (".dcm", ".dicom", ".dic")))
READERS.register("video")(ReaderSpec("video", 1, sniff_video, open_video, (".mp4", ".avi", ".mov", ".m4v")))
READERS.register("image")(
    ReaderSpec("image", 2, sniff_image, open_image, (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"))
)


def read_head(path: Path) -> bytes:
    """The first bytes of a file, for content sniffing."""
    with path.open("rb") as fp:
        return fp.read(HEAD_BYTES)


def reader_for(head: bytes) -> ReaderSpec | None:
    """The reader whose content check accepts ``head``, by priority."""
    specs = sorted((READERS.get(name) for name in READERS), key=lambda spec: spec.priority)
    return next((spec for spec in specs if spec.sniff(head)), None)


def reader_by_suffix(path: Path) -> ReaderSpec | None:
    """The reader a file's name suggests (used only to explain a mismatch)."""
    suffix = path.suffix.lower()
    return next((READERS.get(n) for n in READERS if suffix in READERS.get(n).suffixes), None)
