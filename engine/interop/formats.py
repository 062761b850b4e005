"""Imports every built-in exporter so that it registers itself (one module per format)."""

from engine.interop import (  # noqa: F401
    coco,
    csv_export,
    dicom_copy,
    dicom_seg,
    dicom_sr,
    nifti,
    png_masks,
    report,
)
