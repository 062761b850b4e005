"""NIfTI-1: one label volume and one image volume per study (x, y, 1, t), gzip-compressed.

The NIfTI-1 header (348 bytes, little-endian) is written here directly: dimensions, voxel
size in mm, frame interval in seconds. The voxel size is the scale every labelled pixel of the
study shares (a mask is not a set of points: ``engine.tasks.units.mask_scale``); where they
share none (uncalibrated, or pixels without or with different scales) it is 1 and the export's
notes say so.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.interop.files import write_bytes
from engine.interop.project_data import ProjectData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter
from engine.io.cine import Cine
from engine.project import MaskRecord
from engine.tasks.units import mask_scale

HEADER_SIZE = 348
VOX_OFFSET = 352
DATATYPES = {np.dtype(np.uint8): (2, 8), np.dtype(np.uint16): (512, 16)}
UNITS_MM_S = 2 | 8  # NIFTI_UNITS_MM | NIFTI_UNITS_SEC


@dataclass(frozen=True)
class NiftiVolume:
    """A volume read back from NIfTI-1: data ``[T, Z, Y, X]`` and voxel sizes ``(dx, dy, dz, dt)``."""

    data: np.ndarray
    pixdim: tuple[float, float, float, float]
    description: str


def encode(volume: np.ndarray, pixdim: tuple[float, float, float, float], description: str = "") -> bytes:
    """NIfTI-1 single-file bytes (``.nii``) of ``volume`` ``[T, H, W]`` (uint8 or uint16)."""
    t, h, w = volume.shape
    datatype, bitpix = DATATYPES[volume.dtype]
    hdr = bytearray(VOX_OFFSET)
    struct.pack_into("<i", hdr, 0, HEADER_SIZE)
    hdr[38] = ord("r")
    struct.pack_into("<8h", hdr, 40, 4, w, h, 1, t, 1, 1, 1)
    struct.pack_into("<hh", hdr, 70, datatype, bitpix)
    struct.pack_into("<8f", hdr, 76, 1.0, *pixdim, 1.0, 1.0, 1.0)
    struct.pack_into("<f", hdr, 108, float(VOX_OFFSET))
    struct.pack_into("<ff", hdr, 112, 1.0, 0.0)
    hdr[123] = UNITS_MM_S
    hdr[148 : 148 + 80] = description.encode("ascii", "replace")[:79].ljust(80, b"\0")
    hdr[344:348] = b"n+1\0"
    return bytes(hdr) + np.ascontiguousarray(volume, dtype=volume.dtype.newbyteorder("<")).tobytes()


def decode(raw: bytes) -> NiftiVolume:
    """Read what ``encode`` writes (NIfTI-1, little-endian, uint8/uint16).

    Raises:
        ValueError: not a NIfTI-1 single file of a supported type.
    """
    if len(raw) < VOX_OFFSET or struct.unpack_from("<i", raw, 0)[0] != HEADER_SIZE or raw[344:347] != b"n+1":
        raise ValueError("not a little-endian NIfTI-1 file")
    dims = struct.unpack_from("<8h", raw, 40)
    datatype = struct.unpack_from("<h", raw, 70)[0]
    dtype = next((d for d, (code, _) in DATATYPES.items() if code == datatype), None)
    if dtype is None:
        raise ValueError(f"unsupported NIfTI datatype {datatype}")
    pix = struct.unpack_from("<8f", raw, 76)
    offset = int(struct.unpack_from("<f", raw, 108)[0])
    shape = tuple(max(1, d) for d in dims[1:5])[::-1]
    count = int(np.prod(shape))
    data = np.frombuffer(raw, dtype=dtype.newbyteorder("<"), count=count, offset=offset).reshape(shape)
    desc = raw[148:228].split(b"\0")[0].decode("ascii", "replace")
    return NiftiVolume(data.astype(dtype), (pix[1], pix[2], pix[3], pix[4]), desc)


def read(path: str | Path) -> NiftiVolume:
    """Read a ``.nii`` or ``.nii.gz`` file written by this module."""
    raw = Path(path).read_bytes()
    return decode(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        return np.round(frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(
            np.uint8
        )
    return frame


@register_exporter("nifti", "NIfTI-1 label and image volumes per study (x, y, 1, t)")
def export_nifti(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``<study>_labels.nii.gz`` (every frame; 0 where unlabelled) and ``<study>_image.nii.gz``."""
    files: list[str] = []
    notes: list[str] = []
    for study in data.studies:
        if not study.masks:
            continue
        name = ctx.study_name(study)
        with study.open() as cine:
            frames = [_gray(ctx.frame(cine, i)) for i in range(cine.n_frames)]
            image = np.stack(frames)
            labels = np.zeros(image.shape, np.uint8)
            for f, mask in study.masks.items():
                labels[f] = mask.plane
            scale = _scale(cine, study.masks)
            ts = cine.timestamps_ms
            dt = (ts[-1] - ts[0]) / (len(ts) - 1) / 1000.0 if len(ts) > 1 else 1.0
        if scale is None:
            notes.append(f"{name}: voxel size 1 (not mm): the labelled pixels share no spatial scale")
        sx, sy = scale or (1.0, 1.0)
        pixdim = (float(sx), float(sy), 1.0, float(dt))
        for suffix, vol in (("labels", labels), ("image", image)):
            rel = f"{name}_{suffix}.nii.gz"
            write_bytes(ctx.staging / rel, gzip.compress(encode(vol, pixdim, f"EchoCare {suffix}"), 6))
            files.append(rel)
    return ExportSummary(tuple(files), tuple(notes) if files else ("no study has masks",))


def _scale(cine: Cine, masks: dict[int, MaskRecord]) -> tuple[float, float] | None:
    """The mm per pixel (x, y) every labelled pixel of every frame shares, or None."""
    labelled = [(f, m.plane > 0) for f, m in masks.items() if m.plane.any()]
    scales = {mask_scale(mask, cine.calibration_for(f)) for f, mask in labelled}
    return scales.pop() if len(scales) == 1 else None
