"""DICOM copies of the studies: byte copies, or de-identified copies with ``--deidentify``."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from engine.errors import ReadError
from engine.interop.files import write_bytes
from engine.interop.project_data import ProjectData, StudyData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter

DICOM_DIR = "dicom"
REFERENCED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
PATIENT_STUDY_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
)
LATERALITY_ELSEWHERE = ("ImageLaterality", "BodyPartExamined")


def is_dicom(path: Path) -> bool:
    """Whether ``path`` starts like a DICOM Part 10 file."""
    try:
        with path.open("rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def source_dataset(study: StudyData, ctx: ExportContext) -> tuple[Dataset, str | None]:
    """The study's DICOM dataset as the export must reference it.

    With de-identification this is the de-identified copy, written to ``dicom/<name>.dcm``
    (its relative path is returned); otherwise the original, read without its pixels.

    The patient and study attributes a SEG or SR copies from its source are Type 2 (present,
    possibly empty); anonymised and secondary-capture files often drop them, so missing ones
    are added empty to the returned dataset (never to the user's file). The de-identified copy
    is an image written here, so its Type 2C image attributes are completed as well
    (``complete_image_type2c``).

    Raises:
        ReadError: the study is not a DICOM file, or it lacks a UID the export must reference.
    """
    if not is_dicom(study.path):
        raise ReadError(study.path, "not a DICOM file; DICOM SEG and SR need a DICOM source")
    rel = None
    if ctx.deidentifier is None:
        ds = pydicom.dcmread(study.path, stop_before_pixels=True)
    else:
        rel = f"{DICOM_DIR}/{ctx.study_name(study)}.dcm"
        ds = ctx.deidentifier.dataset(study.path, rel)
    missing = [k for k in REFERENCED_UIDS if not ds.get(k)]
    if missing:
        raise ReadError(study.path, f"missing {', '.join(missing)}, which a DICOM SEG or SR must reference")
    for keyword in PATIENT_STUDY_TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    if rel is not None:
        complete_image_type2c(ds)
        write_dataset(ctx.staging / rel, ds)
    return ds, rel


def complete_image_type2c(ds: Dataset) -> None:
    """Add the Type 2C image attributes that an ultrasound image needs and ``ds`` lacks, empty.

    Patient Orientation (General Image) is required for an image without Image Orientation
    (Patient), as ultrasound images are. Laterality (General Series) is required for a paired
    body part unless Image Laterality is present: when neither it nor Body Part Examined says
    anything about the anatomy, the laterality is unknown, which is an empty value. A source
    that names its body part keeps its own choice (Laterality is absent for an unpaired one).
    """
    if "PatientOrientation" not in ds and "ImageOrientationPatient" not in ds:
        ds.PatientOrientation = ""
    if "Laterality" not in ds and not any(ds.get(k) for k in LATERALITY_ELSEWHERE):
        ds.Laterality = ""


def write_dataset(path: Path, ds: Dataset) -> Path:
    """Write ``ds`` as a DICOM Part 10 file, durably."""
    import io

    if hasattr(ds, "file_meta"):  # the file is written by EchoCare, whoever wrote the source
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta.ImplementationVersionName = "ECHOCARE_1"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return write_bytes(path, buf.getvalue())


@register_exporter("dicom", "the studies' DICOM files (de-identified with --deidentify)")
def export_dicom(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Copy every DICOM study into ``dicom/``; other studies are listed in the notes."""
    files: list[str] = []
    notes: list[str] = []
    for study in data.studies:
        if not is_dicom(study.path):
            notes.append(f"{ctx.study_name(study)}: not DICOM, skipped")
            continue
        if ctx.deidentifier is None:
            rel = f"{DICOM_DIR}/{study.stem}.dcm"
            write_bytes(ctx.staging / rel, study.path.read_bytes())
        else:
            _, rel = source_dataset(study, ctx)
        files.append(str(rel))
    return ExportSummary(tuple(files), tuple(notes))
