"""Session: the open project, the study being edited, and saving it to the project store.

Opening a study reads the file first; only a file that opened cleanly is added to the project,
so a bad file changes nothing. ``save`` writes only when the document changed since the last
save, in one transaction; the Qt layer calls it from a debounced autosave timer. The study's
exam (the one a person set, and the one the last model run used) is saved with it as study
settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.model.annotations import MaskMeta, Review
from app.model.document import Document
from app.model.exam import SETTING_FOUND, SETTING_OVERRIDE, StudyExam
from app.model.labels import Label, LabelSet
from engine.errors import EchoCareError
from engine.io.cine import Cine
from engine.project import LabelRecord, MaskRecord, ProjectStore, StudyRecord, from_record, to_record

Opener = Callable[[Path], Cine]


def open_cine(path: Path) -> Cine:
    """``engine.io.open.open_cine``, imported on first use so start-up skips the readers."""
    from engine.io.open import open_cine as engine_open_cine

    return engine_open_cine(path)


class Session:
    """The project being worked on and its current document.

    Args:
        store: the open project.
        opener: reads a file as a Cine (``open_cine`` unless a test injects another).
    """

    def __init__(self, store: ProjectStore, opener: Opener = open_cine) -> None:
        self.store = store
        self.opener = opener
        self.document: Document | None = None
        self.study: StudyRecord | None = None
        self._saved_generation = 0
        self._dirty_masks: set[int] = set()
        if not store.labels():
            self.save_labels(LabelSet())

    def labels(self) -> LabelSet:
        return LabelSet(tuple(Label(r.id, r.name, r.color, r.opacity) for r in self.store.labels()))

    def save_labels(self, labels: LabelSet) -> None:
        """Store the label schema (names, colours, opacity) in the project."""
        self.store.set_labels([LabelRecord(lab.id, lab.name, lab.color, lab.opacity) for lab in labels])

    def open_path(self, path: str | Path) -> Document:
        """Open a file as the current study, adding it to the project.

        Raises:
            EchoCareError: the file cannot be read; the project is left untouched.
        """
        cine = self.opener(Path(path))
        try:
            cine.frame(0)  # decode one frame now, so a damaged file fails before it is added
        except EchoCareError:
            cine.close()
            raise
        info = cine.info
        study = self.store.add_study(path, info.frames, info.rows, info.columns)
        return self._load(study, cine)

    def open_study(self, study_id: int) -> Document:
        """Open a study already in the project (its file found relative to the project)."""
        study = self.store.study(study_id)
        return self._load(study, self.opener(self.store.resolve(study)))

    def _load(self, study: StudyRecord, cine: Cine) -> Document:
        self.save()
        doc = Document(cine, self.labels(), study.id)
        for rec in self.store.annotations(study.id):
            ann = from_record(rec)
            doc.annotations[ann.id] = ann
        for frame, mask in self.store.masks(study.id).items():
            doc.masks[frame] = mask.plane
            doc.mask_meta[frame] = MaskMeta(mask.origin, mask.model, Review(mask.review))
        settings = self.store.study_settings(study.id)
        doc.exam_override = settings.get(SETTING_OVERRIDE) or None
        found = settings.get(SETTING_FOUND)
        doc.found_exam = StudyExam.from_json(found) if found else None
        doc.mask_changed.connect(self._dirty_masks.add)
        if self.document is not None:
            self.document.cine.close()
        self.document, self.study = doc, study
        self._saved_generation = doc.history.generation
        self._dirty_masks.clear()
        return doc

    @property
    def dirty(self) -> bool:
        doc = self.document
        return doc is not None and (
            doc.history.generation != self._saved_generation or bool(self._dirty_masks)
        )

    def save(self) -> bool:
        """Write the current document to the project if it changed; True when it wrote."""
        doc = self.document
        if doc is None or not self.dirty:
            return False
        masks: dict[int, MaskRecord | None] = {}
        for frame in sorted(self._dirty_masks):
            plane = doc.masks.get(frame)
            meta = doc.mask_meta.get(frame, MaskMeta())
            keep = plane is not None and (plane.any() or frame in doc.mask_meta)
            masks[frame] = (
                MaskRecord(frame, plane.copy(), meta.origin, meta.model, meta.review.value) if keep else None
            )
        records = [to_record(a) for a in doc.annotations.values()]
        self.save_labels(doc.labels)  # a model run may have added labels; unchanged is a no-op
        found = doc.found_exam.to_json() if doc.found_exam is not None else None
        settings = {SETTING_OVERRIDE: doc.exam_override, SETTING_FOUND: found}
        self.store.save_study(doc.study_id, records, masks, settings)
        self._saved_generation = doc.history.generation
        self._dirty_masks.clear()
        return True

    def close(self, save: bool = True) -> None:
        """Save (unless ``save`` is False: the user chose to discard) and close the project cleanly."""
        if save:
            self.save()
        if self.document is not None:
            self.document.cine.close()
        self.store.close()
