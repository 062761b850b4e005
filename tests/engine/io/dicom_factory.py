"""Writes small DICOM files with chosen transfer syntax and photometric, for reader tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ENHANCED_US_VOLUME = "1.2.840.10008.5.1.4.1.1.6.2"


def grey_frames(n=3, rows=32, cols=48, bits=8, seed=0):
    """[N, H, W] frames with smooth structure plus noise (so codecs see realistic content)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    top = (1 << bits) - 1
    out = []
    for i in range(n):
        base = (np.sin(xx / 5.0 + i) + np.cos(yy / 7.0)) * 0.25 + 0.5
        noise = rng.normal(0, 0.05, (rows, cols))
        out.append(np.clip((base + noise) * top, 0, top))
    return np.asarray(out).astype(np.uint8 if bits <= 8 else np.uint16)


def rgb_frames(n=3, rows=32, cols=48, seed=0):
    """[N, H, W, 3] uint8 colour frames."""
    g = [grey_frames(n, rows, cols, 8, seed + k) for k in range(3)]
    return np.stack(g, axis=-1)


def dataset(frames, photometric="MONOCHROME2", bits=None, sop_class=US_MULTIFRAME, **tags):
    """A dataset holding ``frames`` ([N, H, W] or [N, H, W, 3]) as native pixel data."""
    frames = np.asarray(frames)
    color = frames.ndim == 4
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Manufacturer = "EchoCare test factory"
    ds.Rows, ds.Columns = frames.shape[1:3]
    if sop_class not in (US_IMAGE, SECONDARY_CAPTURE) or len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = photometric
    stored = bits or (8 if frames.dtype == np.uint8 else 16)
    ds.BitsAllocated = 8 if frames.dtype == np.uint8 else 16
    ds.BitsStored = stored
    ds.HighBit = stored - 1
    ds.PixelRepresentation = 0
    if color:
        ds.PlanarConfiguration = 0
    ds.PixelData = frames.tobytes()
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def save(ds, path, transfer_syntax=None):
    """Write ``ds`` as a Part-10 file, re-encoding native data as ``transfer_syntax`` needs."""
    path = Path(path)
    ts = transfer_syntax or ds.file_meta.TransferSyntaxUID
    if ts == ExplicitVRBigEndian and ds.BitsAllocated == 16:
        arr = np.frombuffer(ds.PixelData, dtype="<u2")
        ds.PixelData = arr.astype(">u2").tobytes()
    ds.file_meta.TransferSyntaxUID = ts
    implicit = ts == ImplicitVRLittleEndian
    little = ts != ExplicitVRBigEndian
    if ts in (
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
    ):
        ds.save_as(path, implicit_vr=implicit, little_endian=little, enforce_file_format=True)
    else:
        ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_baseline(ds, frames, quality=95, photometric=None):
    """Replace pixel data by per-frame JPEG baseline streams encoded by OpenCV."""
    encoded = []
    for f in np.asarray(frames):
        img = cv2.cvtColor(f, cv2.COLOR_RGB2BGR) if f.ndim == 3 else f
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        encoded.append(buf.tobytes())
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    if ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = photometric or "YBR_FULL_422"
    return ds, encoded


def ybr_full_native(ds, frames):
    """Store RGB frames as YBR_FULL native pixel data."""
    ybr = convert_color_space(np.asarray(frames), "RGB", "YBR_FULL")
    ds.PixelData = ybr.astype(np.uint8).tobytes()
    ds.PhotometricInterpretation = "YBR_FULL"
    return ds, ybr


def ybr_422_native(ds, frames):
    """Store RGB frames as YBR_FULL_422 native data (Y Y Cb Cr per pair of pixels)."""
    ybr = convert_color_space(np.asarray(frames), "RGB", "YBR_FULL").astype(np.uint8)
    y = ybr[..., 0].reshape(len(ybr), ybr.shape[1], -1, 2)
    cb = ybr[..., 1][:, :, ::2]
    cr = ybr[..., 2][:, :, ::2]
    packed = np.concatenate([y, cb[..., None], cr[..., None]], axis=-1)
    ds.PixelData = packed.tobytes()
    ds.PhotometricInterpretation = "YBR_FULL_422"
    return ds, ybr


def palette(ds, indices, bits=8, lut_bits=16, seed=1):
    """Store ``indices`` as PALETTE COLOR with random R, G, B tables; returns the tables."""
    rng = np.random.default_rng(seed)
    n = 1 << bits
    dtype = np.uint16 if lut_bits == 16 else np.uint8
    tables = rng.integers(0, 1 << lut_bits, (3, n)).astype(dtype)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    entries = 0 if n == 65536 else n
    for name, table in zip(("Red", "Green", "Blue"), tables):
        setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [entries, 0, lut_bits])
        setattr(ds, f"{name}PaletteColorLookupTableData", table.astype("<u2").tobytes())
    return ds, tables


def region(x0, y0, x1, y1, dx=0.02, dy=0.02, units=(3, 3), data_type=1, spatial=1):
    """One SequenceOfUltrasoundRegions item (``dx``/``dy`` in the file's units, cm by default)."""
    item = Dataset()
    item.RegionSpatialFormat = spatial
    item.RegionDataType = data_type
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX, item.PhysicalDeltaY = dx, dy
    return item
