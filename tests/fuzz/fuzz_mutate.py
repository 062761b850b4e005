"""Mutators for fuzzing the readers: raw byte damage and structured DICOM attribute damage.

Byte mutators model what disks, transfers and broken exporters do to a file: bit flips, random
bytes, truncation, inserted or deleted runs, length fields and VRs rewritten. Attribute tweaks
model scanners that write the wrong NumberOfFrames, Rows, Columns, BitsAllocated, palette
descriptors, region sequences, frame timing, offset tables or transfer syntax.
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Callable

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    MPEG4HP41,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

INTERESTING_32 = (
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFE,
    0xFFFFFFFF,
)
VR_RE = re.compile(rb"[A-Z][A-Z]")
VRS = (b"OB", b"OW", b"UN", b"SQ", b"US", b"UL", b"IS", b"DS", b"UI", b"CS", b"LO", b"XX", b"\x00\x00")
ITEM_TAG = b"\xfe\xff\x00\xe0"


def bit_flip(data: bytearray, rng: random.Random) -> None:
    """Flip one bit."""
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)


def random_bytes(data: bytearray, rng: random.Random) -> None:
    """Overwrite 1-8 bytes with random values."""
    i = rng.randrange(len(data))
    n = rng.randint(1, 8)
    data[i : i + n] = bytes(rng.randrange(256) for _ in range(n))


def truncate(data: bytearray, rng: random.Random) -> None:
    """Cut the file short."""
    del data[rng.randrange(len(data)) :]


def insert_run(data: bytearray, rng: random.Random) -> None:
    """Insert a run of random or repeated bytes."""
    i = rng.randrange(len(data) + 1)
    n = rng.choice((1, 4, 16, 256))
    data[i:i] = bytes([rng.randrange(256)]) * n if rng.random() < 0.5 else rng.randbytes(n)


def delete_run(data: bytearray, rng: random.Random) -> None:
    """Delete a run of bytes."""
    i = rng.randrange(len(data))
    del data[i : i + rng.choice((1, 2, 4, 8, 64, 512))]


def duplicate_run(data: bytearray, rng: random.Random) -> None:
    """Copy a run of the file somewhere else in it."""
    i, j = rng.randrange(len(data)), rng.randrange(len(data))
    n = rng.choice((4, 16, 128))
    data[j:j] = data[i : i + n]


def interesting_int(data: bytearray, rng: random.Random) -> None:
    """Overwrite 2 or 4 bytes with a boundary value in either byte order."""
    i = rng.randrange(len(data))
    value = rng.choice(INTERESTING_32)
    width = rng.choice((2, 4))
    fmt = rng.choice("<>") + ("H" if width == 2 else "I")
    data[i : i + width] = struct.pack(fmt, value & (0xFFFF if width == 2 else 0xFFFFFFFF))


def length_field(data: bytearray, rng: random.Random) -> None:
    """Rewrite the length after an explicit VR, or after an item tag, with a boundary value."""
    spots = [m.start() for m in VR_RE.finditer(bytes(data[:65536]))]
    spots += [m.start() for m in re.finditer(re.escape(ITEM_TAG), bytes(data))][:64]
    if not spots:
        return interesting_int(data, rng)
    i = rng.choice(spots)
    value = rng.choice(INTERESTING_32)
    if data[i : i + 4] == ITEM_TAG or bytes(data[i : i + 2]) in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"OF"):
        data[i + 4 : i + 8] = struct.pack("<I", value)
    else:
        data[i + 2 : i + 4] = struct.pack("<H", value & 0xFFFF)


def vr_swap(data: bytearray, rng: random.Random) -> None:
    """Replace an explicit VR by another (or by garbage)."""
    spots = [m.start() for m in VR_RE.finditer(bytes(data[:65536]))]
    if spots:
        i = rng.choice(spots)
        data[i : i + 2] = rng.choice(VRS)


BYTE_MUTATORS: tuple[Callable[[bytearray, random.Random], None], ...] = (
    bit_flip,
    random_bytes,
    truncate,
    insert_run,
    delete_run,
    duplicate_run,
    interesting_int,
    length_field,
    vr_swap,
)


def mutate_bytes(data: bytes, rng: random.Random, count: int | None = None) -> bytes:
    """``data`` with 1-4 (or ``count``) byte mutations applied."""
    out = bytearray(data)
    for _ in range(count or rng.randint(1, 4)):
        if not out:
            break
        rng.choice(BYTE_MUTATORS)(out, rng)
    return bytes(out)


# -- structured DICOM damage -------------------------------------------------------------

BAD_INTS = (0, 1, 2, 3, 7, 12, 16, 32, 64, 255, 65535, 2**31 - 1, -1)
TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    MPEG4HP41,
    "1.2.3.4.5",
    "",
)
PHOTOMETRICS = (
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "PALETTE COLOR",
    "YBR_ICT",
    "XYZ",
    "",
)


def _set(keyword: str, value: object) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        setattr(ds, keyword, value)

    apply.__name__ = f"{keyword}={value!r}"
    return apply


def _set_ts(uid: str) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        ds.file_meta.TransferSyntaxUID = uid

    apply.__name__ = f"TransferSyntaxUID={uid!r}"
    return apply


def _palette(descriptor: list[int], data_bytes: int | None) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        ds.PhotometricInterpretation = "PALETTE COLOR"
        for name in ("Red", "Green", "Blue"):
            setattr(ds, f"{name}PaletteColorLookupTableDescriptor", descriptor)
            if data_bytes is not None:
                setattr(ds, f"{name}PaletteColorLookupTableData", b"\x10\x20" * (data_bytes // 2))

    apply.__name__ = f"palette({descriptor}, {data_bytes})"
    return apply


def _segmented_palette(channels: tuple[str, ...], data: bytes) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        ds.PhotometricInterpretation = "PALETTE COLOR"
        for name in ("Red", "Green", "Blue"):
            setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
            if f"{name}PaletteColorLookupTableData" in ds:
                delattr(ds, f"{name}PaletteColorLookupTableData")
        for name in channels:
            setattr(ds, f"Segmented{name}PaletteColorLookupTableData", data)

    apply.__name__ = f"segmented_palette({channels}, {len(data)} bytes)"
    return apply


def _region(**values: object) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        item = Dataset()
        for key, value in values.items():
            setattr(item, key, value)
        ds.SequenceOfUltrasoundRegions = [item]

    apply.__name__ = f"region({values})"
    return apply


def _drop(keyword: str) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        if keyword in ds:
            delattr(ds, keyword)

    apply.__name__ = f"drop {keyword}"
    return apply


def _pixel_bytes(how: str) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        data = ds.PixelData
        if how == "half":
            ds.PixelData = data[: len(data) // 2]
        elif how == "empty":
            ds.PixelData = b""
        elif how == "bot":  # a Basic Offset Table with garbage offsets
            if data[:4] == ITEM_TAG:
                bot = struct.pack("<III", 0, 0xFFFFFF00, 7)
                length = struct.unpack("<I", data[4:8])[0]
                ds.PixelData = ITEM_TAG + struct.pack("<I", len(bot)) + bot + data[8 + length :]
        elif how == "eot":
            ds.ExtendedOffsetTable = struct.pack("<QQ", 0, 2**63)
            ds.ExtendedOffsetTableLengths = struct.pack("<QQ", 5, 5)
        elif how == "eot_odd":
            ds.ExtendedOffsetTable = b"\x01\x02\x03"

    apply.__name__ = f"pixels:{how}"
    return apply


TWEAKS: tuple[Callable[[Dataset], None], ...] = (
    *(_set("NumberOfFrames", v) for v in (0, 1, 2, 100, 10**6, 2**31 - 1, -3, "1.5", "abc")),
    *(_set("Rows", v) for v in (0, 1, 7, 4096, 65535)),
    *(_set("Columns", v) for v in (0, 1, 9, 4096, 65535)),
    *(_set("BitsAllocated", v) for v in BAD_INTS if v >= 0),
    *(_set("BitsStored", v) for v in (0, 1, 7, 9, 12, 16, 17, 32)),
    *(_set("HighBit", v) for v in (0, 7, 15, 31)),
    *(_set("SamplesPerPixel", v) for v in (0, 1, 2, 3, 4)),
    *(_set("PixelRepresentation", v) for v in (0, 1, 2)),
    *(_set("PlanarConfiguration", v) for v in (0, 1, 2)),
    *(_set("PhotometricInterpretation", v) for v in PHOTOMETRICS),
    *(_set_ts(uid) for uid in TRANSFER_SYNTAXES),
    *(_set("FrameTime", v) for v in (0, -5, 1e-9, 1e300, "nan", "inf", "abc")),
    _set("FrameTimeVector", [0, 10]),
    _set("FrameTimeVector", [0, -10, "nan"]),
    _set("CineRate", 0),
    _set("CineRate", -1),
    _palette([0, 0, 0], None),
    _palette([256, 0, 16], 10),
    _palette([256, 0, 8], 512),
    _palette([65535, 65535, 16], 4),
    _palette([4, 0, 32], 16),
    _palette([256, 300, 16], 512),
    _segmented_palette(("Red", "Green", "Blue"), struct.pack("<3H", 0, 1, 100) + struct.pack("<2H", 1, 255)),
    _segmented_palette(("Red", "Green"), struct.pack("<4H", 0, 2, 0, 65535)),
    _segmented_palette(("Red", "Green", "Blue"), struct.pack("<3H", 2, 5, 0)),  # indirect segment, bad offset
    _segmented_palette(("Red", "Green", "Blue"), b"\x00\x00\xff\xff"),  # a 65535-entry discrete claim
    _region(),
    _region(RegionLocationMinX0=50, RegionLocationMaxX1=10, RegionLocationMinY0=0, RegionLocationMaxY1=5),
    _region(
        RegionLocationMinX0=0,
        RegionLocationMaxX1=2**31 - 1,
        RegionLocationMinY0=0,
        RegionLocationMaxY1=2**31 - 1,
        PhysicalDeltaX=0,
        PhysicalDeltaY=-1,
        PhysicalUnitsXDirection=3,
        PhysicalUnitsYDirection=99,
        RegionSpatialFormat=1,
        RegionDataType=1,
    ),
    _region(
        RegionLocationMinX0=0,
        RegionLocationMaxX1=10,
        RegionLocationMinY0=0,
        RegionLocationMaxY1=10,
        PhysicalDeltaX="nan",
        PhysicalDeltaY="inf",
        PhysicalUnitsXDirection=3,
        PhysicalUnitsYDirection=3,
    ),
    _set("PixelSpacing", [0, -1]),
    _set("PixelSpacing", ["nan", 1]),
    _drop("Rows"),
    _drop("BitsAllocated"),
    _drop("PhotometricInterpretation"),
    _drop("SamplesPerPixel"),
    _drop("PixelData"),
    *(_pixel_bytes(how) for how in ("half", "empty", "bot", "eot", "eot_odd")),
)


def tweak_dicom(data: bytes, tweaks: list[Callable[[Dataset], None]]) -> bytes | None:
    """``data`` (a DICOM file) re-written with ``tweaks`` applied; None if pydicom cannot write it."""
    import io

    try:
        ds = dcmread(io.BytesIO(data), force=True)
        for tweak in tweaks:
            tweak(ds)
        ts = ds.file_meta.TransferSyntaxUID
        implicit = ts == ImplicitVRLittleEndian
        little = ts != ExplicitVRBigEndian
        buf = io.BytesIO()
        ds.save_as(buf, implicit_vr=implicit, little_endian=little)
    except Exception:
        return None
    return buf.getvalue()
