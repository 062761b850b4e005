"""Write simulated cines as real ultrasound DICOM: JPEG Baseline, calibrated regions, cine timing.

pydicom has no JPEG Baseline encoder, so each frame is encoded with OpenCV (grey,
MONOCHROME2) or Pillow (colour, 4:2:2 chroma subsampling, YBR_FULL_422) and the frames are
encapsulated into the Pixel Data element.

The files are valid US (Multi-frame) Image objects (dicom3tools' ``dciodvfy`` reports no
error): the Type 2C Patient Orientation is present and empty (a probe has no patient
orientation), Body Part Examined names the scene's anatomy where it has one, and Laterality is
left out for an unpaired body part (the heart) and present, empty (unknown), otherwise.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    JPEGBaseline8Bit,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from training.sim.patient import PatientInfo
from training.sim.truth import SimResult

MANUFACTURER = "EchoCare Studio simulator"
FRAME_TIME_TAG = 0x00181063
UNITS_CM = 3
DATA_TYPE_TISSUE = 1
SPATIAL_FORMAT_2D = 1
# scene -> (Body Part Examined, Laterality); None: left out (an unpaired body part), "": unknown
SCENE_ANATOMY: dict[str, tuple[str | None, str | None]] = {
    "cardiac": ("HEART", None),
    "fetal_head": ("UTERUS", None),
    "organs": ("ABDOMEN", None),
    "lesion": ("BREAST", ""),
}


@dataclass(frozen=True)
class RegionSpec:
    """One SequenceOfUltrasoundRegions item, in pixels and mm.

    Attributes:
        bounds: inclusive ``(x0, y0, x1, y1)`` pixel bounds of the region.
        spacing_mm: ``(x, y)`` mm per pixel (written as cm, units code 3).
        reference_px: pixel whose physical position is (0, 0), e.g. the probe centre.
    """

    bounds: tuple[int, int, int, int]
    spacing_mm: tuple[float, float]
    reference_px: tuple[int, int] = (0, 0)


def _encode(frame: np.ndarray, quality: int) -> bytes:
    """One frame as a JPEG Baseline bitstream (grey: 1 component; RGB: YCbCr 4:2:2)."""
    if frame.ndim == 2:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()
    out = io.BytesIO()
    Image.fromarray(frame, mode="RGB").save(out, format="JPEG", quality=quality, subsampling=1)
    return out.getvalue()


def _anatomy(ds: Dataset, body_part: str | None, laterality: str | None) -> None:
    """General Series anatomy and the General Image orientation (Type 2C, empty: none)."""
    if body_part:
        ds.BodyPartExamined = body_part
    if laterality is not None:
        ds.Laterality = laterality
    ds.PatientOrientation = ""


def _region_item(region: RegionSpec) -> Dataset:
    x0, y0, x1, y1 = region.bounds
    item = Dataset()
    item.RegionSpatialFormat = SPATIAL_FORMAT_2D
    item.RegionDataType = DATA_TYPE_TISSUE
    item.RegionFlags = 0
    item.RegionLocationMinX0 = int(x0)
    item.RegionLocationMinY0 = int(y0)
    item.RegionLocationMaxX1 = int(x1)
    item.RegionLocationMaxY1 = int(y1)
    item.ReferencePixelX0 = int(region.reference_px[0])
    item.ReferencePixelY0 = int(region.reference_px[1])
    item.ReferencePixelPhysicalValueX = 0.0
    item.ReferencePixelPhysicalValueY = 0.0
    item.PhysicalUnitsXDirection = UNITS_CM
    item.PhysicalUnitsYDirection = UNITS_CM
    item.PhysicalDeltaX = float(region.spacing_mm[0]) / 10.0
    item.PhysicalDeltaY = float(region.spacing_mm[1]) / 10.0
    return item


def _patient_study(ds: Dataset, patient: PatientInfo, description: str) -> None:
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = patient.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = patient.study_time
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.StudyDescription = description
    ds.SeriesDescription = description
    ds.InstitutionName = patient.institution
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "B-mode simulator"
    ds.ImageComments = "Simulated data: not for clinical use"


def _pixel_module(
    ds: Dataset, frames: np.ndarray, quality: int, encoded: Sequence[bytes] | None = None
) -> None:
    color = frames.ndim == 4
    ds.Rows, ds.Columns = int(frames.shape[1]), int(frames.shape[2])
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = "YBR_FULL_422" if color else "MONOCHROME2"
    if color:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if encoded is None:
        encoded = [_encode(f, quality) for f in frames]
    elif len(encoded) != frames.shape[0]:
        raise ValueError(f"{len(encoded)} encoded frames for {frames.shape[0]} frames")
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.BurnedInAnnotation = "YES"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ratio = frames.nbytes / max(1, sum(len(e) for e in encoded))
    ds.LossyImageCompressionRatio = f"{ratio:.2f}"


def write_us_cine(
    path: str | Path,
    frames: np.ndarray,
    spacing_mm: float | tuple[float, float],
    fps: float,
    patient: PatientInfo | None = None,
    *,
    regions: Sequence[RegionSpec] | None = None,
    quality: int = 90,
    description: str = "Simulated ultrasound",
    uid_seed: str | None = None,
    body_part: str | None = None,
    laterality: str | None = "",
    jpeg_frames: Sequence[bytes] | None = None,
) -> Path:
    """Write frames as an Ultrasound (Multi-frame) Image Storage file with JPEG Baseline pixels.

    Args:
        path: output file.
        frames: ``[N, H, W]`` uint8 grey or ``[N, H, W, 3]`` uint8 RGB frames.
        spacing_mm: mm per pixel, one value or ``(x, y)``; used for the default region.
        fps: frame rate (frames per second); FrameTime is ``1000 / fps`` ms.
        patient: the synthetic patient; a generic one when omitted.
        regions: ultrasound regions; by default one tissue region over the whole image.
        quality: JPEG quality (1-100).
        description: study and series description.
        uid_seed: makes the UIDs deterministic (same seed, same UIDs); random when ``None``.
        body_part: Body Part Examined (a PS3.16 defined term such as ``"HEART"``); left out
            when ``None``.
        laterality: Laterality of a paired body part, ``"R"`` or ``"L"``; ``""`` (the default)
            writes it empty (unknown); ``None`` leaves it out, for an unpaired body part.
        jpeg_frames: the frames already encoded as JPEG Baseline, one bitstream per frame of
            ``frames`` (which then give only the geometry), written as they are; rewrites a
            file's header while keeping its pixels byte for byte.

    Returns:
        The path written.

    Raises:
        ValueError: frames that are not uint8 ``[N, H, W(, 3)]``, or a number of
            ``jpeg_frames`` other than N.
    """
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        raise ValueError(f"frames must be uint8 [N, H, W] or [N, H, W, 3], got {arr.dtype} {arr.shape}")
    patient = patient or PatientInfo()
    sx, sy = (spacing_mm, spacing_mm) if np.isscalar(spacing_mm) else spacing_mm  # type: ignore[misc]
    if regions is None:
        regions = (RegionSpec((0, 0, arr.shape[2] - 1, arr.shape[1] - 1), (float(sx), float(sy))),)
    n = arr.shape[0]
    sop_class = UltrasoundMultiFrameImageStorage if n > 1 else UltrasoundImageStorage

    def uid(part: str) -> str:
        return generate_uid(entropy_srcs=[uid_seed, part] if uid_seed is not None else None)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = JPEGBaseline8Bit
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = "US"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    _patient_study(ds, patient, description)
    _anatomy(ds, body_part, laterality)
    _pixel_module(ds, arr, quality, jpeg_frames)
    if n > 1:
        ds.NumberOfFrames = n
        ds.FrameTime = DSfloat(1000.0 / fps, auto_format=True)  # ms, as many digits as DS allows
        ds.FrameIncrementPointer = FRAME_TIME_TAG
        ds.CineRate = round(fps)
        ds.RecommendedDisplayFrameRate = round(fps)
    ds.SequenceOfUltrasoundRegions = [_region_item(r) for r in regions]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    return out


def write_simulation(
    path: str | Path,
    result: SimResult,
    *,
    quality: int = 90,
    uid_seed: str | None = None,
    jpeg_frames: Sequence[bytes] | None = None,
) -> Path:
    """Write a simulated acquisition with its fan as the calibrated tissue region.

    The region's reference pixel is the centre of the transducer face (physical 0, 0). Body
    Part Examined and Laterality come from the scene (``SCENE_ANATOMY``).

    Args:
        path: output file.
        result: the simulation.
        quality: JPEG quality (1-100).
        uid_seed: makes the UIDs deterministic; random when ``None``.
        jpeg_frames: already encoded frames to write instead of encoding ``result.frames``
            (see ``write_us_cine``).

    Returns:
        The path written.
    """
    sx, sy = result.spacing_mm
    ref = (round(result.origin_px[0]), round(result.origin_px[1]))
    region = RegionSpec(result.fan_bbox, (sx, sy), ref)
    body_part, laterality = SCENE_ANATOMY.get(result.truth.scene, (None, ""))
    return write_us_cine(
        path,
        result.frames,
        (sx, sy),
        result.fps,
        result.truth.patient,
        regions=(region,),
        quality=quality,
        description=f"Simulated {result.truth.scene.replace('_', ' ')}",
        uid_seed=uid_seed,
        body_part=body_part,
        laterality=laterality,
        jpeg_frames=jpeg_frames,
    )
