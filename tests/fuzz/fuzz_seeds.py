"""The seed corpus: small valid DICOM files, videos and images that the mutators start from.

Seeds are generated (no fixtures on disk): DICOM objects in each transfer syntax and pixel layout
the reader handles (native grey, RGB, YBR_FULL_422, palette colour, 16-bit, big endian, implicit,
deflated, JPEG baseline with and without offset tables, with ultrasound regions and frame timing),
MJPG and mp4v videos, and PNG, JPEG, BMP and multi-page TIFF images. The pydicom test files of
ultrasound objects are added when pydicom-data is installed.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
PYDICOM_FILES = (
    "examples_ybr_color.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_jpeg2k.dcm",
    "ExplVR_BigEnd.dcm",
    "gdcm-US-ALOKA-16.dcm",
)


def frames(n: int = 3, rows: int = 16, cols: int = 24, color: bool = False, bits: int = 8) -> np.ndarray:
    """Small frames with structure: ``[N, H, W]`` or ``[N, H, W, 3]``."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    top = (1 << bits) - 1
    out = [((np.sin(xx / 3.0 + i) * np.cos(yy / 4.0) + 1) / 2 * top) for i in range(n)]
    arr = np.asarray(out).astype(np.uint8 if bits <= 8 else np.uint16)
    return np.stack([arr, arr[:, ::-1], 255 - arr], axis=-1) if color else arr


def region_item(x1: int = 23, y1: int = 15) -> Dataset:
    """One SequenceOfUltrasoundRegions item over the image."""
    item = Dataset()
    item.RegionSpatialFormat = 1
    item.RegionDataType = 1
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = 0, 0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = 3, 3
    item.PhysicalDeltaX, item.PhysicalDeltaY = 0.02, 0.02
    return item


def dataset(pixels: np.ndarray, photometric: str | None = None) -> Dataset:
    """An US Multi-frame dataset holding ``pixels`` natively, with timing and a region."""
    color = pixels.ndim == 4
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = pixels.shape[1:3]
    ds.NumberOfFrames = len(pixels)
    ds.FrameTime = 33.3
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = photometric or ("RGB" if color else "MONOCHROME2")
    ds.BitsAllocated = 8 if pixels.dtype == np.uint8 else 16
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if color:
        ds.PlanarConfiguration = 0
    ds.SequenceOfUltrasoundRegions = [region_item(pixels.shape[2] - 1, pixels.shape[1] - 1)]
    ds.PixelData = pixels.tobytes()
    return ds


def to_bytes(ds: Dataset, ts: str | None = None) -> bytes:
    """``ds`` written as a Part-10 file in transfer syntax ``ts`` (default: its own)."""
    ts = ts or ds.file_meta.TransferSyntaxUID
    ds.file_meta.TransferSyntaxUID = ts
    buf = io.BytesIO()
    if ts in (
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
    ):
        ds.save_as(
            buf,
            implicit_vr=ts == ImplicitVRLittleEndian,
            little_endian=ts != ExplicitVRBigEndian,
            enforce_file_format=True,
        )
    else:
        ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def jpeg_frames(pixels: np.ndarray) -> list[bytes]:
    """Each frame as a JPEG baseline stream."""
    out = []
    for f in pixels:
        img = cv2.cvtColor(f, cv2.COLOR_RGB2BGR) if f.ndim == 3 else f
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(buf.tobytes())
    return out


def jpeg_dataset(color: bool, offsets: str = "basic") -> Dataset:
    """JPEG baseline pixel data with a Basic, Extended or empty offset table."""
    px = frames(color=color)
    ds = dataset(px, "YBR_FULL_422" if color else None)
    streams = jpeg_frames(px)
    if offsets == "extended":
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(streams)
    else:
        ds.PixelData = encapsulate(streams, has_bot=offsets == "basic")
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return ds


def palette_dataset() -> Dataset:
    """8-bit PALETTE COLOR with 16-bit tables."""
    ds = dataset(frames(n=2))
    ds.PhotometricInterpretation = "PALETTE COLOR"
    for k, name in enumerate(("Red", "Green", "Blue")):
        table = ((np.arange(256) * (k + 1)) % 256 * 257).astype("<u2")
        setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{name}PaletteColorLookupTableData", table.tobytes())
    return ds


def _dicom_seeds() -> dict[str, Callable[[], bytes]]:
    return {
        "dcm_grey.dcm": lambda: to_bytes(dataset(frames())),
        "dcm_rgb.dcm": lambda: to_bytes(dataset(frames(color=True))),
        "dcm_grey16.dcm": lambda: to_bytes(dataset(frames(bits=12))),
        "dcm_implicit.dcm": lambda: to_bytes(dataset(frames()), ImplicitVRLittleEndian),
        "dcm_bigendian.dcm": lambda: to_bytes(dataset(frames(n=1)), ExplicitVRBigEndian),
        "dcm_deflated.dcm": lambda: to_bytes(dataset(frames()), DeflatedExplicitVRLittleEndian),
        "dcm_palette.dcm": lambda: to_bytes(palette_dataset()),
        "dcm_jpeg_bot.dcm": lambda: to_bytes(jpeg_dataset(True, "basic")),
        "dcm_jpeg_nobot.dcm": lambda: to_bytes(jpeg_dataset(False, "none")),
        "dcm_jpeg_eot.dcm": lambda: to_bytes(jpeg_dataset(True, "extended")),
        "dcm_rle.dcm": _rle_bytes,
    }


def _rle_bytes() -> bytes:
    ds = dataset(frames())
    ds.compress(RLELossless, encoding_plugin="pydicom")
    return to_bytes(ds)


def _video_bytes(fourcc: str, suffix: str) -> bytes:
    px = frames(n=4, rows=32, cols=48, color=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"seed{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (48, 32))
        for f in px:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        return path.read_bytes()


def _image_bytes(fmt: str, mode: str = "L", pages: int = 1) -> bytes:
    px = frames(n=pages, color=mode == "RGB")
    images = [Image.fromarray(p) for p in px]
    if mode == "I;16":
        images = [Image.fromarray(frames(n=1, bits=16)[0])]
    buf = io.BytesIO()
    images[0].save(buf, format=fmt, save_all=pages > 1, append_images=images[1:])
    return buf.getvalue()


def _other_seeds() -> dict[str, Callable[[], bytes]]:
    return {
        "vid_mjpg.avi": lambda: _video_bytes("MJPG", ".avi"),
        "vid_mp4v.mp4": lambda: _video_bytes("mp4v", ".mp4"),
        "img_grey.png": lambda: _image_bytes("PNG"),
        "img_rgb.png": lambda: _image_bytes("PNG", "RGB"),
        "img_16.png": lambda: _image_bytes("PNG", "I;16"),
        "img_rgb.jpg": lambda: _image_bytes("JPEG", "RGB"),
        "img_grey.bmp": lambda: _image_bytes("BMP"),
        "img_pages.tif": lambda: _image_bytes("TIFF", "L", pages=3),
    }


def _pydicom_seeds() -> dict[str, Callable[[], bytes]]:
    from pydicom.data import get_testdata_file

    out: dict[str, Callable[[], bytes]] = {}
    for name in PYDICOM_FILES:
        try:
            path = get_testdata_file(name, download=False)
        except TypeError:  # older pydicom without the download argument
            path = None
        if path and Path(path).stat().st_size <= 2_000_000:
            out[f"pydicom_{name}"] = lambda p=path: Path(p).read_bytes()
    return out


@cache
def seeds() -> dict[str, bytes]:
    """All seeds by name; the name's suffix is the file suffix a case is written with."""
    makers = {**_dicom_seeds(), **_other_seeds(), **_pydicom_seeds()}
    return {name: make() for name, make in makers.items()}
