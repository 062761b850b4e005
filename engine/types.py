"""Frozen, numpy-only results of the clinical tasks (no torch, no Qt).

Every spatial quantity is in pixels of the *original* frame: continuous coordinates in which
the centre of pixel (row r, column c) is (x=c, y=r). Physical values (mm, mm2) are present
only where the frame's calibration gives a spatial scale at that place; otherwise they are
``None`` and ``calibrated`` is False, and pixel values must be shown instead. Every result
carries the ``ModelRef`` of the model version that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.provenance import ModelRef


@dataclass(frozen=True)
class Quantity:
    """One named scalar with its unit.

    Attributes:
        name: e.g. "BPD", "ef", "lv area".
        value: the number, in ``unit``.
        unit: "mm", "mm2", "deg", "%", "px", "px2", or a regression head's unit.
        calibrated: False when a physical unit was wanted but only pixels were available.
        frame: the frame it was measured on, None for a cine-level value.
    """

    name: str
    value: float
    unit: str
    calibrated: bool = True
    frame: int | None = None


@dataclass(frozen=True)
class ClassScores:
    """Class probabilities of one frame (``frame`` set) or of a whole cine (``frame`` None).

    Attributes:
        labels: class names from the model card.
        probs: ``[K]`` float32, summing to 1.
    """

    labels: tuple[str, ...]
    probs: np.ndarray
    model: ModelRef
    frame: int | None = None

    def top_k(self, k: int = 3) -> tuple[tuple[str, float], ...]:
        """The ``k`` most probable (label, probability) pairs, best first."""
        order = np.argsort(-self.probs, kind="stable")[:k]
        return tuple((self.labels[i], float(self.probs[i])) for i in order)


@dataclass(frozen=True)
class SegmentationResult:
    """A multi-class mask of one frame at original resolution.

    Attributes:
        labels: structure names; label id ``i + 1`` in ``mask`` is ``labels[i]``, 0 is background.
        mask: ``[H, W]`` uint8 label map in original-frame pixels.
        areas: per structure, "<label> area" in mm2 (calibrated) or px2 (flagged uncalibrated).
        pixel_counts: ``[K]`` pixels per structure.
    """

    frame: int
    labels: tuple[str, ...]
    mask: np.ndarray
    areas: tuple[Quantity, ...]
    pixel_counts: np.ndarray
    model: ModelRef

    @property
    def calibrated(self) -> bool:
        return all(a.calibrated for a in self.areas)


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame, after NMS.

    Attributes:
        boxes: ``[N, 4]`` float64 (x0, y0, x1, y1) in original-frame pixels.
        scores: ``[N]`` float32 in [0, 1].
        label_ids: ``[N]`` int64 indices into ``labels``.
        sizes_mm: ``[N, 2]`` (width, height) in mm, NaN where the box is not calibrated.
    """

    frame: int
    labels: tuple[str, ...]
    boxes: np.ndarray
    scores: np.ndarray
    label_ids: np.ndarray
    sizes_mm: np.ndarray
    model: ModelRef

    @property
    def calibrated(self) -> bool:
        return bool(np.isfinite(self.sizes_mm).all())


@dataclass(frozen=True)
class Landmarks:
    """Named points of one frame and the measurements declared between them.

    Attributes:
        names: landmark names from the model card.
        points: ``[L, 2]`` float64 (x, y) in original-frame pixels, sub-pixel.
        scores: ``[L]`` float32 peak confidence in [0, 1].
        measurements: distances ("mm" or "px") and angles ("deg") from ``ModelCfg.measurements``.
    """

    frame: int
    names: tuple[str, ...]
    points: np.ndarray
    scores: np.ndarray
    measurements: tuple[Quantity, ...]
    model: ModelRef


@dataclass(frozen=True)
class Regression:
    """Scalars predicted for one frame by the regression head."""

    frame: int
    values: tuple[Quantity, ...]
    model: ModelRef


@dataclass(frozen=True)
class EjectionFraction:
    """Ejection fraction from a cine's segmented ventricle over time.

    Attributes:
        structure: the segmentation label used (e.g. "lv").
        ef_percent: mean over the beats found, %.
        ed_frames, es_frames: end-diastolic / end-systolic frame of each beat.
        volumes: ``[N]`` per analysed frame, area-length volume in ml (calibrated) or px3.
        frames: ``[N]`` frame indices of ``volumes``.
        calibrated: volumes are in ml; EF itself is unitless either way.
    """

    structure: str
    ef_percent: float
    ed_frames: tuple[int, ...]
    es_frames: tuple[int, ...]
    volumes: np.ndarray
    frames: np.ndarray
    volume_unit: str
    calibrated: bool
    model: ModelRef


@dataclass(frozen=True)
class EnhancedFrame:
    """A despeckled/denoised frame with the original geometry and dtype.

    Attributes:
        image: ``[H, W]`` same dtype as the grey original; pixels outside the crop are unchanged.
    """

    frame: int
    image: np.ndarray
    model: ModelRef


@dataclass(frozen=True)
class Report:
    """A report whose every number comes from a structured result.

    Attributes:
        text: the final report (structured findings, then the impression).
        findings: the (key, value-with-unit) lines of the structured template, in order.
        impression: the text decoder's sentence with any number-like words removed.
    """

    text: str
    findings: tuple[tuple[str, str], ...]
    impression: str
    model: ModelRef


@dataclass(frozen=True)
class TaskResult:
    """One task over a frame range: per-frame results and the cine-level summary.

    Attributes:
        task: one of ``engine.config.TASK_NAMES``.
        frames: per-frame results, in frame order.
        summary: cine-level results (e.g. mean probabilities, ejection fraction, report).
    """

    task: str
    frames: tuple[object, ...] = ()
    summary: tuple[object, ...] = field(default_factory=tuple)
