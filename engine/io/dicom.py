"""DICOM cines: US Image, US Multi-frame, Secondary Capture and Enhanced US objects.

Opening reads the header only (everything before Pixel Data), indexes where each frame's
bytes lie, and checks that a decoder is installed, so truncated or undecodable files fail at
open with one clear reason. Frames decode lazily, one at a time, into the Cine's bounded cache.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from engine.errors import ReadError, UnsupportedError
from engine.io.calibration import Calibration
from engine.io.cine import Cine, CineInfo
from engine.io.declared import declared_exam
from engine.io.dicom_frames import FrameIndexError, FrameReader, Span, encapsulated_spans, native_spans
from engine.io.dicom_pixels import FrameDecoder, PixelFormat, palette_lut
from engine.io.dicom_video import VIDEO_SYNTAXES, DicomVideoCine, check_stream, extract_stream
from engine.io.regions import calibration_notes, dicom_calibration, per_frame_calibrations
from engine.io.timing import dicom_timing

PIXEL_DATA = 0x7FE00010
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR"}
UNDEFINED = 0xFFFFFFFF
# what pydicom raises on a damaged header (values are parsed lazily, so also after dcmread)
HEADER_ERRORS = (
    InvalidDicomError,
    EOFError,
    struct.error,
    ValueError,
    KeyError,
    TypeError,
    OverflowError,
    AttributeError,
    IndexError,
    OSError,
    BytesLengthException,  # a value of the wrong length
    NotImplementedError,  # an unknown VR in a damaged header
    zlib.error,  # a damaged deflated dataset
)
DECODE_ERRORS = (RuntimeError, ValueError, OSError, NotImplementedError, KeyError, TypeError)
# one decoded frame larger than this is refused before anything is allocated (8192 x 8192 RGB is 192 MiB)
MAX_FRAME_BYTES = 512 * 1024 * 1024


class _BoundedFile:
    """A binary file whose ``read(n)`` never asks for more than what is left of the file.

    pydicom reads a value by its declared length; a damaged length of 4 GB would otherwise
    allocate 4 GB before finding the file too short.
    """

    def __init__(self, fp: BinaryIO, size: int) -> None:
        self._fp = fp
        self._size = size

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._fp.read()
        return self._fp.read(min(n, max(self._size - self._fp.tell(), 0)))

    def __getattr__(self, name: str) -> object:
        return getattr(self._fp, name)


def sniff_dicom(head: bytes) -> bool:
    """Part-10 files carry "DICM" after a 128-byte preamble; raw datasets start with a group 0002/0008 tag."""
    if head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00") and head[3:4] == b"\x00"


def _transfer_syntax(ds: Dataset) -> UID:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid:
        return UID(uid)
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _pixel_header(fp: BinaryIO, ts: UID) -> tuple[int, int] | None:
    """(offset of the value, declared length) of top-level Pixel Data at the stream position."""
    endian = "<" if ts != ExplicitVRBigEndian else ">"
    head = fp.read(8)
    if len(head) < 8:
        return None
    group, element = struct.unpack(endian + "HH", head[:4])
    if (group << 16 | element) != PIXEL_DATA:
        return None
    vr = head[4:6]
    if ts == ImplicitVRLittleEndian or not (vr.isalpha() and vr.isupper()):
        return fp.tell(), struct.unpack(endian + "I", head[4:8])[0]
    if vr in LONG_VRS:
        return fp.tell() + 4, struct.unpack(endian + "I", fp.read(4))[0]
    return fp.tell(), struct.unpack(endian + "H", head[6:8])[0]


def _read_header(path: Path) -> tuple[Dataset, UID, tuple[int, int] | None, int]:
    try:
        with path.open("rb") as raw:
            size = raw.seek(0, io.SEEK_END)
            raw.seek(0)
            fp = _BoundedFile(raw, size)
            ds = dcmread(fp, stop_before_pixels=True, force=True)  # type: ignore[arg-type]
            ts = _transfer_syntax(ds)
            header = None if ts == DeflatedExplicitVRLittleEndian else _pixel_header(raw, ts)
    except HEADER_ERRORS as err:
        raise ReadError(path, f"not a readable DICOM file ({err})") from None
    return ds, ts, header, size


def _check_image(path: Path, ds: Dataset) -> None:
    if "Rows" not in ds or "Columns" not in ds or "BitsAllocated" not in ds:
        raise ReadError(path, "DICOM file has no pixel data (no image attributes)")
    if not int(ds.Rows) or not int(ds.Columns):
        raise ReadError(path, f"image has no pixels ({ds.Rows} rows x {ds.Columns} columns)")
    if int(ds.BitsAllocated) not in (8, 16):
        raise UnsupportedError(path, f"{ds.BitsAllocated}-bit pixels are not supported (8 or 16 bits)")
    if int(ds.get("SamplesPerPixel", 1)) not in (1, 3):
        raise UnsupportedError(path, f"{ds.SamplesPerPixel} samples per pixel are not supported (1 or 3)")


def _frame_count(path: Path, ds: Dataset, fmt: PixelFormat) -> int:
    """NumberOfFrames, checked; a frame too large to decode safely is refused here."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames < 1:
        raise ReadError(path, f"invalid NumberOfFrames {frames}")
    if fmt.rows * fmt.columns * max(fmt.samples, 3) * 2 > MAX_FRAME_BYTES:
        raise UnsupportedError(path, f"frames of {fmt.rows} x {fmt.columns} pixels are too large to display")
    return frames


def _check_decoder(path: Path, ts: UID) -> None:
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedError(path, f"unsupported transfer syntax {ts.name} ({ts})") from None
    if not decoder.is_available:
        raise UnsupportedError(path, f"no installed decoder for transfer syntax {ts.name} ({ts})")


def _deflated_spans(path: Path, fmt: PixelFormat, frames: int) -> tuple[FrameReader, bool]:
    try:
        pixels = dcmread(path, force=True).get("PixelData")
    except (*HEADER_ERRORS, zlib.error) as err:
        raise ReadError(path, f"cannot inflate deflated DICOM file ({err})") from None
    if pixels is None:
        raise ReadError(path, "DICOM file has no pixel data")
    encapsulated = pixels[:4] == b"\xfe\xff\x00\xe0"
    if encapsulated:
        spans = encapsulated_spans(io.BytesIO(pixels), 0, len(pixels), frames)
    else:
        spans = native_spans(0, len(pixels), frames, fmt.native_frame_bytes)
    return FrameReader(spans, buffer=pixels), encapsulated


def _frame_reader(
    path: Path, ds: Dataset, header: tuple[int, int] | None, size: int, fmt: PixelFormat, frames: int
) -> tuple[FrameReader, bool]:
    if fmt.transfer_syntax == DeflatedExplicitVRLittleEndian:
        return _deflated_spans(path, fmt, frames)
    if header is None:
        raise ReadError(path, "DICOM file has no pixel data")
    start, length = header
    if length != UNDEFINED:
        available = min(length, size - start)
        return FrameReader(native_spans(start, available, frames, fmt.native_frame_bytes), str(path)), False
    extended = ds.get("ExtendedOffsetTable")
    offsets = np.frombuffer(extended, dtype="<u8").tolist() if extended else None
    with path.open("rb") as fp:
        spans: tuple[tuple[Span, ...], ...] = encapsulated_spans(fp, start, size, frames, offsets)
    return FrameReader(spans, str(path)), True


def _int_or_none(value: object) -> int | None:
    try:
        return None if value is None or value == "" else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


class DicomCine(Cine):
    """A DICOM object opened for lazy, per-frame decoding.

    Args:
        info: what ``echocare info`` shows.
        reader: locates and reads each frame's encoded bytes.
        decoder: turns those bytes into the displayed frame.
        per_frame: per-frame calibration (Enhanced US), or None when it does not vary.
        cache_bytes: bound of the decoded-frame cache.
    """

    def __init__(
        self,
        info: CineInfo,
        reader: FrameReader,
        decoder: FrameDecoder,
        per_frame: tuple[Calibration, ...] | None = None,
        cache_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        super().__init__(info, cache_bytes)
        self._reader = reader
        self._decoder = decoder
        self._per_frame = per_frame

    def _decode(self, index: int) -> np.ndarray:
        try:
            return self._decoder.decode(self._reader.read(index))
        except FrameIndexError as err:
            raise ReadError(self.path, str(err)) from None
        except DECODE_ERRORS as err:
            raise ReadError(self.path, f"frame {index} cannot be decoded ({err})") from None

    def calibration_for(self, index: int) -> Calibration:
        """Calibration of frame ``index`` (per-frame for Enhanced US when it varies)."""
        if self._per_frame is None:
            return self.info.calibration
        return self._per_frame[index % self.n_frames]

    def close(self) -> None:
        """Close the file and drop cached frames; a later access reopens the file."""
        self._reader.close()
        super().close()


def _info(path: Path, ds: Dataset, fmt: PixelFormat, frames: int, codec: str) -> CineInfo:
    calibration, report = dicom_calibration(ds, fmt.rows, fmt.columns)
    timing = dicom_timing(ds, frames)
    return CineInfo(
        path=str(path),
        kind="dicom",
        frames=frames,
        rows=fmt.rows,
        columns=fmt.columns,
        color=fmt.color,
        bits=fmt.bits_stored,
        fps=timing.fps,
        timestamps_ms=timing.timestamps_ms,
        timing_source=timing.source,
        calibration=calibration,
        transfer_syntax=fmt.transfer_syntax.name,
        photometric=fmt.photometric,
        modality=ds.get("Modality"),
        manufacturer=ds.get("Manufacturer"),
        extra={
            "transfer_syntax_uid": str(fmt.transfer_syntax),
            "sop_class": UID(ds.get("SOPClassUID", "")).name or None,
            "bits_allocated": fmt.bits_allocated,
            "codec": codec,
            "regions_outside_image": list(report.outside),
            "calibration_notes": calibration_notes(calibration, report),
            "instance_number": _int_or_none(ds.get("InstanceNumber")),
        },
        declared_exam=declared_exam(ds),
    )


def open_dicom(path: Path, cache_bytes: int = 256 * 1024 * 1024) -> DicomCine:
    """Open a DICOM file (Part 10, or a raw dataset without preamble) as a Cine.

    Raises:
        ReadError: not readable, no pixel data, truncated, or image attributes that make no sense.
        UnsupportedError: the transfer syntax has no installed decoder, or the pixel layout is unusual.
    """
    ds, ts, header, size = _read_header(path)
    try:
        _check_image(path, ds)
        fmt = PixelFormat.from_dataset(ds, ts)
        frames = _frame_count(path, ds, fmt)
        if ts in VIDEO_SYNTAXES:
            return _open_video_object(path, ds, fmt, frames, header, size, cache_bytes)
        _check_decoder(path, ts)
        reader, encapsulated = _frame_reader(path, ds, header, size, fmt, frames)
        lut = palette_lut(ds, fmt.bits_stored) if fmt.photometric == "PALETTE COLOR" else None
        decoder = FrameDecoder(fmt, encapsulated, lut)
        info = _info(path, ds, fmt, frames, decoder.codec)
        per_frame = per_frame_calibrations(ds, info.calibration, frames)
    except FrameIndexError as err:
        raise ReadError(path, str(err)) from None
    except HEADER_ERRORS as err:
        raise ReadError(path, f"invalid image attributes ({err})") from None
    return DicomCine(info, reader, decoder, per_frame, cache_bytes)


def _open_video_object(
    path: Path,
    ds: Dataset,
    fmt: PixelFormat,
    frames: int,
    header: tuple[int, int] | None,
    size: int,
    cache_bytes: int,
) -> DicomVideoCine:
    if header is None or header[1] != UNDEFINED:
        raise ReadError(path, "video pixel data must be encapsulated")
    stream = extract_stream(path, header[0], size, fmt.transfer_syntax)
    check_stream(path, stream, fmt.rows, fmt.columns)
    # OpenCV decodes every video stream to RGB, whatever PhotometricInterpretation claims
    info = dataclasses.replace(_info(path, ds, fmt, frames, "opencv-ffmpeg"), color=True)
    return DicomVideoCine(info, stream, cache_bytes)
