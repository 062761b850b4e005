"""Ground truth of a simulated scene: exact labels, geometry and values, known by construction."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.io.calibration import Calibration, Region
from engine.io.memory import ArrayCine
from training.sim.patient import PatientInfo


@dataclass(frozen=True)
class Quantity:
    """A scalar with its unit, e.g. ``Quantity(55.2, "%")``."""

    value: float
    unit: str

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True, eq=False)
class SceneTruth:
    """Everything known about a simulated scene.

    Pixel coordinates follow the image convention: ``(x, y)`` = (column, row), pixel
    centres at integers. Boxes are ``(x0, y0, x1, y1)`` with inclusive corner pixels, the
    tight bounds of the object's mask.

    Attributes:
        scene: registry name of the scene generator.
        seed: the seed it was generated from, when one was given.
        spacing_mm: ``(x, y)`` mm per pixel.
        labels: mask label id -> name (0 is background and not listed).
        masks: ``[N, H, W]`` uint8 label maps.
        boxes: per frame, ``[M, 4]`` float32 boxes in pixels.
        box_labels: per frame, ``[M]`` int64 indices into ``box_classes``.
        box_classes: detection class names.
        landmarks: ``[N, K, 2]`` float32 landmark positions (x, y) in pixels.
        landmark_names: the K landmark names.
        class_index: scene class (index into ``class_names``), or ``None``.
        class_names: the classes of the scene's classification task.
        values: scene-level scalars with units (EF, head circumference, ...).
        frame_values: per-frame series with units, each ``[N]`` (e.g. LV area).
        report: report text written from the values above.
        clean: ``[N, H, W]`` uint8 high-quality counterpart of the frames, or ``None``.
        fan_mask: ``[H, W]`` bool, the imaged sector or rectangle.
        text_mask: ``[H, W]`` bool, pixels covered by burned-in annotations.
        burned_text: the strings burned into the image.
        patient: the synthetic patient shown on screen.
        domain: the randomised acquisition that made the frames (``training.sim.domain``);
            empty for a plain ``simulate`` call.
    """

    scene: str
    seed: int | None
    spacing_mm: tuple[float, float]
    labels: dict[int, str]
    masks: np.ndarray
    boxes: tuple[np.ndarray, ...]
    box_labels: tuple[np.ndarray, ...]
    box_classes: tuple[str, ...]
    landmarks: np.ndarray
    landmark_names: tuple[str, ...]
    class_index: int | None
    class_names: tuple[str, ...]
    values: dict[str, Quantity]
    frame_values: dict[str, tuple[np.ndarray, str]]
    report: str
    clean: np.ndarray | None
    fan_mask: np.ndarray
    text_mask: np.ndarray
    burned_text: tuple[str, ...]
    patient: PatientInfo = field(default_factory=PatientInfo)
    domain: dict[str, object] = field(default_factory=dict)

    @property
    def class_name(self) -> str | None:
        return None if self.class_index is None else self.class_names[self.class_index]

    def as_json(self) -> dict[str, object]:
        """JSON-ready summary: every value, box, landmark and class, but not the masks."""
        return {
            "scene": self.scene,
            "seed": self.seed,
            "spacing_mm": list(self.spacing_mm),
            "labels": {str(k): v for k, v in self.labels.items()},
            "class_index": self.class_index,
            "class_name": self.class_name,
            "class_names": list(self.class_names),
            "values": {k: q.as_dict() for k, q in self.values.items()},
            "frame_values": {
                k: {"unit": u, "values": [round(float(v), 4) for v in arr]}
                for k, (arr, u) in self.frame_values.items()
            },
            "box_classes": list(self.box_classes),
            "boxes": [b.round(2).tolist() for b in self.boxes],
            "box_labels": [b.tolist() for b in self.box_labels],
            "landmark_names": list(self.landmark_names),
            "landmarks": self.landmarks.round(3).tolist(),
            "report": self.report,
            "burned_text": list(self.burned_text),
            **({"domain": self.domain} if self.domain else {}),
        }


@dataclass(frozen=True, eq=False)
class SimResult:
    """A simulated acquisition: frames, timing, calibration and exact ground truth.

    Attributes:
        frames: ``[N, H, W]`` uint8 B-mode frames with burned-in annotations.
        fps: frame rate (frames per second).
        truth: the ground truth.
        fan_bbox: inclusive ``(x0, y0, x1, y1)`` pixel bounds of the fan.
        probe_kind: ``"linear"``, ``"convex"`` or ``"phased"``.
        origin_px: image coordinates ``(x, y)`` of the physical origin, the centre of the
            transducer face (x = 0 mm, depth 0 mm).
    """

    frames: np.ndarray
    fps: float
    truth: SceneTruth
    fan_bbox: tuple[int, int, int, int]
    probe_kind: str
    origin_px: tuple[float, float] = (0.0, 0.0)

    @property
    def spacing_mm(self) -> tuple[float, float]:
        return self.truth.spacing_mm

    def calibration(self) -> Calibration:
        """One tissue region over the fan with the simulator's exact mm spacing."""
        x0, y0, x1, y1 = self.fan_bbox
        sx, sy = self.spacing_mm
        region = Region(x0, y0, x1, y1, sx, sy, "mm", "mm", data_type="tissue", spatial_format=1)
        return Calibration(regions=(region,), source="regions")

    def cine(self) -> ArrayCine:
        """The frames as an engine Cine, calibrated."""
        return ArrayCine(
            self.frames, fps=self.fps, calibration=self.calibration(), path=f"<simulated {self.truth.scene}>"
        )
