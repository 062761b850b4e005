"""``open_cine(path)``: the one call that opens any supported input.

Files are recognised by content, not by name (see ``engine.io.readers``); a folder opens as
one cine of its DICOM instances or images.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ReadError
from engine.io.cine import Cine
from engine.io.folder import open_folder
from engine.io.readers import read_head, reader_by_suffix, reader_for


def _unrecognised(path: Path, head: bytes) -> ReadError:
    named = reader_by_suffix(path)
    if named is not None:
        return ReadError(path, f"named {path.suffix} but the content is not a {named.kind} file")
    if head[:64].isascii() and b"\x00" not in head[:64]:
        return ReadError(path, "text file, not a DICOM file, video or image")
    return ReadError(path, "unrecognised content: not a DICOM file, video or image")


def open_cine(path: str | Path, cache_bytes: int = 256 * 1024 * 1024) -> Cine:
    """Open a DICOM file, video, image or folder as a Cine.

    Args:
        path: the file or folder.
        cache_bytes: bound of the decoded-frame cache, in bytes.

    Raises:
        ReadError: the path is missing, empty, damaged or not a supported ultrasound input.
        UnsupportedError: the file is valid but uses an encoding no installed decoder reads.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such file or folder")
    if p.is_dir():
        return open_folder(p, cache_bytes)
    try:
        head = read_head(p)
    except OSError as err:
        raise ReadError(p, f"cannot be read ({err.strerror or err})") from None
    if not head:
        raise ReadError(p, "file is empty")
    spec = reader_for(head)
    if spec is None:
        raise _unrecognised(p, head)
    return spec.open(p, cache_bytes)
