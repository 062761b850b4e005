"""Exporters registered by name: each format is one module that registers one function.

An exporter receives the project's studies as plain data and writes its files into a staging
folder; ``engine.interop.export.export_project`` moves the staging folder into place only when
every exporter call succeeded, so a failed export leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.deid.session import Deidentifier
    from engine.interop.project_data import ProjectData, StudyData
    from engine.io.cine import Cine


@dataclass(frozen=True)
class ExportContext:
    """What every exporter gets besides the project data.

    Attributes:
        staging: the folder to write into (empty at first, renamed into place at the end).
        deidentifier: set when the export must carry no patient data; exporters of DICOM
            objects reference the de-identified copies it writes, others blank burned-in text.
    """

    staging: Path
    deidentifier: Deidentifier | None = None

    def study_name(self, study: StudyData) -> str:
        """The study's name in output paths: no file name when de-identifying."""
        return f"study_{study.record.id:04d}" if self.deidentifier else study.stem

    def frame(self, cine: Cine, index: int) -> np.ndarray:
        """Frame ``index`` as displayed; burned-in text outside the fan blanked when de-identifying."""
        frame = cine.frame(index)
        return frame if self.deidentifier is None else self.deidentifier.blank_frame(cine, frame)


@dataclass(frozen=True)
class ExportSummary:
    """What one exporter wrote: file paths relative to the output folder and notes for the user."""

    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


Exporter = Callable[["ProjectData", ExportContext], ExportSummary]
EXPORTERS: dict[str, Exporter] = {}
DESCRIPTIONS: dict[str, str] = {}


def register_exporter(name: str, description: str) -> Callable[[Exporter], Exporter]:
    """Register an exporter under ``name`` (the value of ``--format``).

    Args:
        name: the format name, e.g. ``"coco"``.
        description: one line shown by the CLI and the export dialog.
    """

    def wrap(fn: Exporter) -> Exporter:
        if name in EXPORTERS:
            raise ValueError(f"exporter {name!r} registered twice")
        EXPORTERS[name] = fn
        DESCRIPTIONS[name] = description
        return fn

    return wrap


def list_formats() -> list[str]:
    """Every registered format name, sorted."""
    from engine.interop import formats  # noqa: F401  (registers the built-in exporters)

    return sorted(EXPORTERS)
