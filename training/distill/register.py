"""Store a distilled student as a new model version whose parent is the teacher."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, replace

from engine import model_store
from engine.model_card import Lineage, ModelCard
from training.distill.config import DistillCfg
from training.distill.trainer import DistillResult

TRAINED_ON = "distilled from {teacher} on simulated ultrasound frames (EchoCare Studio simulator)"


def register(
    result: DistillResult, cfg: DistillCfg, metrics: Mapping[str, float] | None = None, activate: bool = True
) -> ModelCard:
    """Save the student in the model store; returns its card.

    The card's lineage names the teacher (``name@version``) as the parent and holds
    the teacher's weights sha256, the run settings, the frames' hash and the final losses.
    """
    t = result.teacher.card
    parent = f"{t.name}@{t.version}"
    lineage = {
        "method": "distillation",
        "teacher": parent,
        "teacher_sha256": t.weights_sha256,
        "config": asdict(cfg),
        "frames_sha256": hashlib.sha256("\n".join(result.frames).encode()).hexdigest(),
        "steps": result.steps,
        "initialised_from_teacher": result.initialised,
        "final_loss": result.final_loss,
        "losses": result.losses,
        "minutes": round(result.seconds / 60, 2),
    }
    model_cfg = replace(result.student.cfg, version="", trained_on=TRAINED_ON.format(teacher=parent))
    card = ModelCard(
        model_cfg,
        lineage=Lineage.from_dict({"parent": parent, **lineage}),
        metrics={k: float(v) for k, v in (metrics or {}).items()},
    )
    return model_store.save_version(card, result.student.state_dict(), activate=activate)
