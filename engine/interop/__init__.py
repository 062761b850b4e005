"""Interoperability: export a project (DICOM SEG/SR, COCO, PNG, NIfTI, CSV, report) and import labels.

Qt-free. ``export_project`` runs one exporter registered by name (``list_formats()``);
``import_coco`` and ``import_png_masks`` bring existing datasets in as human-final labels.
"""

from engine.interop.export import ExportResult, export_project
from engine.interop.importers import ImportResult, import_coco, import_png_masks
from engine.interop.registry import DESCRIPTIONS, list_formats

__all__ = [
    "DESCRIPTIONS",
    "ExportResult",
    "ImportResult",
    "export_project",
    "import_coco",
    "import_png_masks",
    "list_formats",
]
