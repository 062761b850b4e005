"""A read-only snapshot of a project for exporters: labels, studies, annotations and masks.

Annotations are read as the schema's ``engine.annotations.Annotation`` (``from_record``), so
exporters read points, values and names as the app does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.annotations import Annotation, Review
from engine.errors import ProjectError
from engine.frames import parse_frames
from engine.io.cine import Cine
from engine.project import AnnotationRecord, LabelRecord, MaskRecord, ProjectStore, StudyRecord, from_record
from engine.project.store import DB_NAME


@dataclass(frozen=True)
class StudyData:
    """One study with everything stored about it.

    Attributes:
        record: the study row.
        path: the study's file on this machine.
        annotations: the annotations ``load_project`` kept, in stored order.
        masks: label planes ``[H, W]`` uint8 by frame index (values are label ids).
    """

    record: StudyRecord
    path: Path
    annotations: tuple[Annotation, ...]
    masks: dict[int, MaskRecord]

    @property
    def stem(self) -> str:
        """A file-name-safe name for the study, unique within a project (``<id>_<file stem>``)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.path.stem)
        return f"{self.record.id:04d}_{safe}"

    def open(self) -> Cine:
        """Open the study's clip (frames as displayed, per-frame calibration)."""
        from engine.io.open import open_cine

        return open_cine(self.path)


@dataclass(frozen=True)
class ProjectData:
    """A project's label schema and the studies chosen for export."""

    folder: Path
    labels: tuple[LabelRecord, ...]
    studies: tuple[StudyData, ...]

    def label(self, label_id: int) -> LabelRecord:
        """The label with this id, or a placeholder named after the id."""
        for lab in self.labels:
            if lab.id == label_id:
                return lab
        return LabelRecord(label_id, f"label {label_id}", (160, 160, 160))


@contextmanager
def open_store(folder: str | Path) -> Iterator[ProjectStore]:
    """Open an existing project; never creates one and leaves another session's lock alone.

    Raises:
        ProjectError: ``folder`` holds no EchoCare project.
    """
    folder = Path(folder)
    if not (folder / DB_NAME).is_file():
        raise ProjectError(folder, f"not an EchoCare project (no {DB_NAME})")
    in_use = ProjectStore.was_left_open(folder)
    store = ProjectStore(folder)
    try:
        yield store
    finally:
        if not in_use:  # an open app keeps its lock; our connection closes when collected
            store.close()


def load_project(folder: str | Path, study_id: int | None = None, frames: str | None = None) -> ProjectData:
    """Read the label schema and the studies (one, or all) of the project in ``folder``.

    Annotations and masks a reviewer rejected are left out; AI drafts keep their origin.
    ``frames`` (the frame grammar of ``engine.frames``, e.g. ``"0,5,10-20"``) keeps only the
    masks and annotations on those frames, and the study-wide ones.

    Raises:
        ProjectError: not a project, no label schema, no studies, no study ``study_id``, or a
            stored annotation that breaks the schema.
        ConfigError: ``frames`` is malformed or names a frame a study lacks.
    """
    with open_store(folder) as store:
        labels = tuple(store.labels())
        if not labels:
            raise ProjectError(store.folder, "the project has no labels; define a label schema first")
        records = [store.study(study_id)] if study_id is not None else store.studies()
        if not records:
            raise ProjectError(store.folder, "the project has no studies")
        studies = []
        for r in records:
            path = store.resolve(r)
            keep = None if frames is None else set(parse_frames(frames, r.frames, path))
            annotations = (_annotation(store.folder, a) for a in store.annotations(r.id))
            studies.append(
                StudyData(
                    r,
                    path,
                    tuple(
                        a
                        for a in annotations
                        if a.review != Review.REJECTED and (keep is None or a.frame < 0 or a.frame in keep)
                    ),
                    {
                        f: m
                        for f, m in store.masks(r.id).items()
                        if m.review != Review.REJECTED and (keep is None or f in keep)
                    },
                )
            )
        return ProjectData(store.folder, labels, tuple(studies))


def _annotation(folder: Path, record: AnnotationRecord) -> Annotation:
    try:
        return from_record(record)
    except ValueError as err:
        raise ProjectError(folder, f"annotation {record.id} breaks the annotation schema: {err}") from None
