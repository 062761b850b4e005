"""The distillation run's settings, one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DistillCfg:
    """How a student is distilled from a stored teacher.

    Attributes:
        teacher: the teacher: a store name, ``name@version`` or a model folder.
        student: the student's encoder variant (``engine.models.echocare.ENCODERS``).
        name: the student's store name; ``<teacher name>-lite`` when empty.
        head_scale: the student's dense-head widths relative to the teacher's (at least 4).
        frames: unlabeled simulated training frames (spread over ``scenes``).
        steps: optimiser steps.
        batch_size: frames per step.
        lr: peak AdamW learning rate (cosine decay after a short warm-up).
        temperature: softening of class, mask and token distributions in the KL terms.
        feature_weight: weight of the per-level feature-matching term.
        label_weight: weight of the supervised terms on frames that carry simulator labels
            (segmentation masks, scene class); 0 distils from the teacher alone.
        scenes: simulator scenes the frames come from.
        sizes: frame sizes (H, W) rendered in turn.
        teacher_init: start the student from the teacher's weights wherever names and shapes
            match (``training.distill.student.init_from_teacher``); the rest starts random.
        seed: seed of the simulated frames, the order and the initialisation.
        threads: torch CPU threads; 0 keeps torch's default.
    """

    teacher: str
    student: str = "echocare_test"
    name: str = ""
    head_scale: float = 0.5
    frames: int = 384
    steps: int = 400
    batch_size: int = 8
    lr: float = 2e-3
    temperature: float = 2.0
    feature_weight: float = 1.0
    label_weight: float = 0.5
    scenes: tuple[str, ...] = field(
        default=("lesion", "organs", "vessels", "fetal_head", "cardiac", "enhance")
    )
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (240, 320))
    teacher_init: bool = True
    seed: int = 0
    threads: int = 0
