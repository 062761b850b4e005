"""InstanceStore: DICOM instances written into a project, atomically, one folder per study.

An instance lands at ``received/<StudyInstanceUID>/<SOPInstanceUID>.dcm`` exactly as it was sent
(the bytes of the encoded dataset, with its file meta), and is recorded in the project database;
an image (US, US multi-frame, secondary capture) also becomes a study entry. The file is written
as an unnamed file and linked in only once it is complete and on disk (Linux ``O_TMPFILE``), so a
process killed mid-write leaves nothing behind; elsewhere a hidden temporary file is renamed and
``sweep`` removes what a killed process left. A sender is told "success" only after both the file
and its record are durable.

Refusals carry the DIMSE status a storage SCP answers with (PS3.4 B.2.3): 0xA700 "out of
resources" (over the size limit, a full disk, the project unwritable) and 0xC000 "cannot
understand" (not a DICOM dataset, missing or unsafe UIDs).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import EchoCareError
from engine.project import InstanceRecord, ProjectStore
from engine.project.atomic import fsync_dir, write_atomic

RECEIVED = "received"
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MIN_FREE_BYTES = 64 * 1024**2
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_LINK_SUFFIX = ".partial"

# images the viewer opens (each becomes a study entry); other classes are kept beside them
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
IMAGE_CLASSES: dict[str, str] = {
    US_IMAGE: "Ultrasound Image",
    US_MULTIFRAME: "Ultrasound Multi-frame Image",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture",
}
RESULT_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
}
STORAGE_CLASSES: dict[str, str] = {**IMAGE_CLASSES, **RESULT_CLASSES}


class StoreRefused(EchoCareError):
    """An instance was not stored; ``status`` is the DIMSE status to answer with."""

    def __init__(self, path: str | Path | None, reason: str, status: int) -> None:
        self.status = status
        super().__init__(path, reason)


@dataclass(frozen=True)
class Received:
    """One stored instance: its record, its file and its size in bytes."""

    record: InstanceRecord
    path: Path
    size: int

    def line(self) -> str:
        """One line for a log: who sent what, where it went."""
        kind = STORAGE_CLASSES.get(self.record.sop_class_uid, self.record.sop_class_uid)
        sender = f" from {self.record.calling_ae}" if self.record.calling_ae else ""
        study = f" (study {self.record.study_id})" if self.record.study_id is not None else ""
        return f"stored {kind} {self.record.sop_instance_uid}{sender} -> {self.path}{study}"


def _link_fd(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path`` (``linkat`` with ``AT_SYMLINK_FOLLOW``).

    ``os.link`` cannot do this: it does not follow ``/proc/self/fd`` links.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    src = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(at_fdcwd, src, at_fdcwd, os.fsencode(path), at_symlink_follow) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), str(path))


def write_durable(target: Path, data: bytes) -> None:
    """Write ``target`` so that it appears complete and on disk, or not at all.

    On Linux the data goes to an unnamed file (``O_TMPFILE``) that is linked in when complete;
    a process killed before that leaves no file. Elsewhere ``write_atomic`` (a hidden
    temporary file, renamed).
    """
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    flag = getattr(os, "O_TMPFILE", 0)
    fd = -1
    if flag:
        try:
            fd = os.open(folder, flag | os.O_WRONLY, 0o644)
        except OSError:
            fd = -1
    if fd < 0:
        write_atomic(target, data)
        return
    link = folder / f".{target.name}.{os.getpid()}.{threading.get_ident()}{_LINK_SUFFIX}"
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        _link_fd(fd, link)
    except OSError:
        link.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    link.replace(target)
    fsync_dir(folder)


def _mb(size: int) -> str:
    return f"{size / 1e6:.3g} MB"


def _check_uid(ds: Any, keyword: str, source: str) -> str:
    value = str(ds.get(keyword, "") or "").strip()
    if not value or len(value) > 64 or not _UID.match(value):
        raise StoreRefused(source, f"{keyword} {value!r} is missing or not a UID", CANNOT_UNDERSTAND)
    return value


def _parse(data: bytes, source: str) -> Any:
    """The dataset (pixel data read, not decoded), or StoreRefused when it is not DICOM or its
    uncompressed pixel data is cut short."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, OSError) as err:
        raise StoreRefused(source, f"not a readable DICOM dataset ({err})", CANNOT_UNDERSTAND) from None
    _check_pixels(ds, source)
    return ds


def _check_pixels(ds: Any, source: str) -> None:
    """Refuse native (uncompressed) pixel data shorter than its Rows, Columns and frames say."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if "PixelData" not in ds or syntax is None or syntax.is_compressed:
        return
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.SamplesPerPixel)
        if str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
            samples = 2  # chroma shared by two pixels
        bits = int(ds.Rows) * int(ds.Columns) * samples * frames * int(ds.BitsAllocated)
        expected = (bits + 7) // 8  # 1-bit data is packed
    except (AttributeError, TypeError, ValueError) as err:
        raise StoreRefused(
            source, f"pixel data without a usable image description ({err})", CANNOT_UNDERSTAND
        ) from None
    if len(ds.PixelData) < expected:
        raise StoreRefused(
            source,
            f"pixel data is {len(ds.PixelData)} bytes where the image needs {expected}",
            CANNOT_UNDERSTAND,
        )


def title(ds: Any) -> str:
    """What a study list calls an instance: patient name, description and date, where present."""
    date = str(ds.get("StudyDate", "") or "")
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    name = str(ds.get("PatientName", "") or "").replace("^", " ").strip()
    described = str(ds.get("SeriesDescription", "") or ds.get("StudyDescription", "") or "").strip()
    return " · ".join(part for part in (name, described, date) if part)


class InstanceStore:
    """Stores DICOM instances into the project in ``folder``.

    Args:
        folder: the project folder (created when missing).
        max_bytes: larger instances are refused (0xA700).
        min_free_bytes: an instance that would leave less free disk space is refused (0xA700).
        disk_free: free bytes of a folder (``shutil.disk_usage``; tests inject a full disk).
    """

    def __init__(
        self,
        folder: str | Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        disk_free: Callable[[Path], int] | None = None,
    ) -> None:
        self.store = ProjectStore(folder)
        self.folder = self.store.folder
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self._disk_free = disk_free or (lambda p: shutil.disk_usage(p).free)
        self._lock = threading.Lock()  # one writer to the database at a time

    def close(self) -> None:
        """Close the database connection; the app's lock on the project (if open) stays."""
        self.store.close(keep_lock=True)

    def store_bytes(self, data: bytes, calling_ae: str = "", source: str = "") -> Received:
        """Store one encoded instance (a DICOM file: preamble, file meta and dataset).

        Args:
            data: the instance's bytes, written as they are.
            calling_ae: the sender's AE title ("" when retrieved).
            source: what error lines name (the sender, or a URL); the instance UID by default.

        Raises:
            StoreRefused: the instance is not stored; nothing of it is left in the project.
        """
        source = source or calling_ae or "instance"
        if len(data) > self.max_bytes:
            raise StoreRefused(
                source,
                f"{_mb(len(data))} is over the {_mb(self.max_bytes)} limit",
                OUT_OF_RESOURCES,
            )
        ds = _parse(data, source)
        study_uid = _check_uid(ds, "StudyInstanceUID", source)
        sop_uid = _check_uid(ds, "SOPInstanceUID", source)
        series_uid = _check_uid(ds, "SeriesInstanceUID", source)
        sop_class = _check_uid(ds, "SOPClassUID", source)
        target = self.folder / RECEIVED / study_uid / f"{sop_uid}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        free = self._disk_free(target.parent)
        if free - len(data) < self.min_free_bytes:
            raise StoreRefused(
                target,
                f"the disk is full ({_mb(free)} free, {_mb(len(data))} sent)",
                OUT_OF_RESOURCES,
            )
        try:
            write_durable(target, data)
        except OSError as err:
            raise StoreRefused(
                target, f"cannot write the instance ({err.strerror or err})", OUT_OF_RESOURCES
            ) from None
        return self._record(ds, target, sop_uid, study_uid, series_uid, sop_class, calling_ae, len(data))

    def store_dataset(self, ds: Any, calling_ae: str = "", source: str = "") -> Received:
        """Store a pydicom Dataset (with its file meta), encoded in its own transfer syntax."""
        import pydicom

        buffer = io.BytesIO()
        try:
            pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
        except (ValueError, AttributeError, TypeError) as err:
            raise StoreRefused(
                source or "instance", f"cannot encode the dataset ({err})", CANNOT_UNDERSTAND
            ) from None
        return self.store_bytes(buffer.getvalue(), calling_ae, source)

    def _record(
        self, ds: Any, target: Path, sop_uid: str, study_uid: str, series_uid: str, sop_class: str,
        calling_ae: str, size: int,
    ) -> Received:  # fmt: skip
        image = sop_class in IMAGE_CLASSES
        rel = self.store.relative(target)
        rec = InstanceRecord(
            sop_uid, study_uid, series_uid, sop_class, rel, calling_ae=calling_ae, title=title(ds)
        )
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        try:
            with self._lock:
                stored = self.store.add_instance(rec, image=image, frames=frames, rows=rows, columns=columns)
        except EchoCareError as err:
            raise StoreRefused(
                target, f"cannot record the instance ({err.reason})", OUT_OF_RESOURCES
            ) from None
        return Received(stored, target, size)

    def sweep(self) -> list[Path]:
        """Tidy what a killed process left: remove hidden temporaries, record unrecorded files.

        Returns:
            The complete instances found on disk without a record, now recorded.
        """
        root = self.folder / RECEIVED
        if not root.is_dir():
            return []
        known = {rec.rel_path for rec in self.store.instances()}
        found: list[Path] = []
        for path in sorted(root.glob("*/.*")):
            if path.is_file() and (path.name.endswith(_LINK_SUFFIX) or path.name.endswith(".tmp")):
                path.unlink(missing_ok=True)
        for path in sorted(root.glob("*/*.dcm")):
            if self.store.relative(path) in known:
                continue
            try:
                data = path.read_bytes()
                ds = _parse(data, str(path))
                uids = [_check_uid(ds, k, str(path)) for k in ("SOPInstanceUID", "StudyInstanceUID")]
                series, sop_class = (
                    _check_uid(ds, k, str(path)) for k in ("SeriesInstanceUID", "SOPClassUID")
                )
            except (StoreRefused, OSError):
                continue
            self._record(ds, path, uids[0], uids[1], series, sop_class, "", len(data))
            found.append(path)
        return found
