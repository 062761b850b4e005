"""The Document: one open study, its annotations, masks and view state; owns the History.

Besides annotations and masks, a study has an exam: the one the last model run used
(``found_exam``) and the one a person set (``exam_override``, None for automatic); both change
only through commands and are saved with the study. ``scores`` decides which AI drafts are
hidden for scoring below their calibrated threshold (``app.model.scores``); they stay in the
document, ``shown`` and ``hidden`` tell them apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.model.annotations import FRAME_MARKS, STUDY_WIDE, Annotation, MaskMeta
from app.model.events import Signal
from app.model.exam import StudyExam
from app.model.history import Command, History
from app.model.labels import LabelSet
from app.model.scores import CardThresholds, ScoreFilter
from engine.io.calibration import Calibration
from engine.io.cine import Cine

NO_MODEL = "no model loaded"
SCORE_VIEW = ("min_score", "thresholds")  # view changes that show or hide drafts by score


@dataclass
class ViewState:
    """What the viewer shows; ``changed(name, value)`` fires when a field changes.

    Attributes:
        frame_index: the frame on screen.
        window: display levels (low, high) in pixel values.
        active_label: the label new edits use.
        tool: the active tool's name.
        selected: id of the selected annotation, if any.
        speed: playback speed factor.
        loop: restart playback at the end of the cine.
        playing: playback is running.
        enhancement: how enhanced frames show: "off", "on" (instead of the frame) or "side"
            (next to it).
        min_score: the minimum score of the AI drafts shown; None: each label's calibrated
            threshold from the model card.
    """

    frame_index: int = 0
    window: tuple[float, float] = (0.0, 255.0)
    active_label: int = 1
    tool: str = "navigate"
    selected: str | None = None
    speed: float = 1.0
    loop: bool = True
    playing: bool = False
    enhancement: str = "off"
    min_score: float | None = None
    changed: Signal = field(default_factory=Signal, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if name != "changed" and old is not _MISSING and old != value:
            self.changed.emit(name, value)


_MISSING = object()


def default_window(cine: Cine) -> tuple[float, float]:
    """Full range of the pixel type: 0..255 for 8 bits, 0..65535 for 16."""
    return (0.0, 255.0) if cine.info.bits <= 8 else (0.0, float(2**cine.info.bits - 1))


class Document:
    """One study being reviewed and edited.

    Args:
        cine: the opened clip.
        labels: the project's label schema.
        study_id: the study's id in the project store (0 when not stored).
    """

    def __init__(self, cine: Cine, labels: LabelSet | None = None, study_id: int = 0) -> None:
        self.cine = cine
        self.labels = labels or LabelSet()
        self.study_id = study_id
        self.annotations: dict[str, Annotation] = {}
        self.masks: dict[int, np.ndarray] = {}
        self.mask_meta: dict[int, MaskMeta] = {}
        self.enhanced: dict[int, np.ndarray] = {}  # a model's enhanced frames: a display layer
        self.view = ViewState(window=default_window(cine))
        self.model_card = NO_MODEL
        self.exam_override: str | None = None  # a leaf or "unknown" a person set; None: automatic
        self.found_exam: StudyExam | None = None  # the exam the last model run used
        self.scores = ScoreFilter()
        self.history = History(self)
        # events (past-tense nouns)
        self.annotations_changed = Signal()  # (ids,)
        self.mask_changed = Signal()  # (frame,)
        self.model_card_changed = Signal()  # (text,)
        self.enhanced_changed = Signal()  # (frames,)
        self.exam_changed = Signal()  # ()
        self._held: tuple[list[str], list[int]] | None = None  # changes held back by ``bulk``

    # -- reading ------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.cine.info.rows, self.cine.info.columns

    @property
    def n_frames(self) -> int:
        return self.cine.n_frames

    def frame_image(self, index: int | None = None) -> np.ndarray:
        return self.cine.frame(self.view.frame_index if index is None else index)

    def calibration(self, index: int | None = None) -> Calibration:
        return self.cine.calibration_for(self.view.frame_index if index is None else index)

    def mask(self, frame: int) -> np.ndarray:
        """The frame's label plane [H, W] uint8 (a zero plane, not stored, when none exists)."""
        plane = self.masks.get(frame)
        return plane if plane is not None else np.zeros(self.shape, dtype=np.uint8)

    def mask_plane(self, frame: int) -> np.ndarray:
        """The frame's label plane for editing in place, created when missing."""
        if frame not in self.masks:
            self.masks[frame] = np.zeros(self.shape, dtype=np.uint8)
        return self.masks[frame]

    def on_frame(self, frame: int) -> list[Annotation]:
        """Annotations drawn on ``frame``."""
        return [a for a in self.annotations.values() if a.frame == frame]

    def of_kind(self, kind: str) -> list[Annotation]:
        return [a for a in self.annotations.values() if a.kind == kind]

    def study_value(self, kind: str, name: str = "") -> Annotation | None:
        """The study-wide annotation of ``kind`` (and ``name``), e.g. the report or class."""
        for a in self.annotations.values():
            if a.kind == kind and a.frame == STUDY_WIDE and a.name == name:
                return a
        return None

    def shown(self, a: Annotation) -> bool:
        """Whether the app shows ``a`` (an AI draft scored below its limit is hidden)."""
        return not self.scores.hides(a)

    def hidden(self) -> list[Annotation]:
        """The annotations hidden for their score."""
        return [a for a in self.annotations.values() if self.scores.hides(a)]

    def frame_marks(self) -> dict[str, list[int]]:
        """ED and ES frame indices from the frame-mark annotations, sorted."""
        marks: dict[str, list[int]] = {m: [] for m in FRAME_MARKS}
        for a in self.of_kind("frame_mark"):
            marks.setdefault(str(a.value), []).append(a.frame)
        return {k: sorted(v) for k, v in marks.items()}

    # -- editing ------------------------------------------------------------------------------
    def apply(self, cmd: Command | None) -> None:
        """Do ``cmd`` and record it for undo; None is ignored."""
        if cmd is not None:
            self.history.push(cmd)

    def set_frame(self, index: int) -> None:
        self.view.frame_index = int(min(max(index, 0), self.n_frames - 1))

    def set_model_card(self, text: str) -> None:
        self.model_card = text
        self.model_card_changed.emit(text)

    def set_min_score(self, value: float | None) -> None:
        """Show AI drafts scored at least ``value`` (None: the card thresholds)."""
        self.scores.minimum = None if value is None else float(value)
        self.view.min_score = self.scores.minimum

    def set_thresholds(self, cards: dict[tuple[str, str], CardThresholds]) -> None:
        """Each model version's calibrated thresholds, keyed by (name, version)."""
        if cards != self.scores.cards:
            self.scores.cards = dict(cards)
            self.view.changed.emit("thresholds", cards)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Announce the annotation and mask changes made inside the block once, at its end.

        A model run adds hundreds of drafts in one step; listeners then refresh once instead
        of once per draft.
        """
        if self._held is not None:
            yield
            return
        self._held = ([], [])
        try:
            yield
        finally:
            ids, frames = self._held
            self._held = None
            if ids:
                self.annotations_changed.emit(tuple(dict.fromkeys(ids)))
            for frame in dict.fromkeys(frames):
                self.mask_changed.emit(frame)

    def _announce(self, ann_id: str) -> None:
        if self._held is None:
            self.annotations_changed.emit((ann_id,))
        else:
            self._held[0].append(ann_id)

    # -- mutators used by commands only -----------------------------------------------------
    def set_exam_override(self, leaf: str | None) -> None:
        self.exam_override = leaf
        self.exam_changed.emit()

    def set_found_exam(self, exam: StudyExam | None) -> None:
        self.found_exam = exam
        self.exam_changed.emit()

    def put_annotation(self, annotation: Annotation) -> None:
        self.annotations[annotation.id] = annotation
        self._announce(annotation.id)

    def remove_annotation(self, ann_id: str) -> None:
        if self.annotations.pop(ann_id, None) is not None:
            if self.view.selected == ann_id:
                self.view.selected = None
            self._announce(ann_id)

    def put_enhanced(self, frames: dict[int, np.ndarray | None]) -> None:
        """Set (array) or drop (None) the enhanced image of each frame in ``frames``."""
        for frame, image in frames.items():
            if image is None:
                self.enhanced.pop(frame, None)
            else:
                self.enhanced[frame] = image
        self.enhanced_changed.emit(tuple(frames))

    def write_mask(self, frame: int, index: np.ndarray, values: np.ndarray, meta: MaskMeta | None) -> None:
        plane = self.mask_plane(frame)
        plane.ravel()[index] = values
        if meta is None:
            self.mask_meta.pop(frame, None)
        else:
            self.mask_meta[frame] = meta
        if meta is None and not plane.any():
            del self.masks[frame]
        if self._held is None:
            self.mask_changed.emit(frame)
        else:
            self._held[1].append(frame)
