"""Write the recipe's model as a bundled model folder: ``model.safetensors`` plus ``card.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config import HeadCfg, ModelCfg
from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard
from engine.model_store import sha256_file
from training.recipes.config import DemoRecipe
from training.recipes.labels import (
    CLASSES,
    DETECTION,
    LANDMARKS,
    MEASUREMENTS,
    REGRESSION,
    REGRESSION_UNITS,
    SEG_LABELS,
)

MAX_BYTES = 10 * 1024 * 1024
TRAINED_ON = "simulated ultrasound only (EchoCare Studio simulator); demo model, not for clinical use"


def model_cfg(recipe: DemoRecipe, vocab: tuple[str, ...]) -> ModelCfg:
    """The demo model: the recipe's encoder with all seven heads over the shared label space."""
    w = recipe.head_width
    cls: dict[str, Any] = {"num_classes": len(CLASSES), "hidden": 128}
    cls.update({k: list(v) if k == "levels" else v for k, v in recipe.classification_head.items()})
    heads = (
        HeadCfg("classification", "classification", CLASSES, cls),
        HeadCfg("segmentation", "segmentation", SEG_LABELS, {"num_classes": len(SEG_LABELS), "width": w}),
        # strides 4, 8 and 16: at 128 px a cyst or a small mass is an 8-20 px box, too small
        # for the default stride-8 start to place more than a point or two inside it; organs
        # never overlap, so a box yields to a better one of another label on the same outline
        HeadCfg(
            "detection",
            "detection",
            DETECTION,
            {"num_classes": len(DETECTION), "width": 2 * w, "levels": [1, 2, 3], "cross_label_iou": 0.6},
        ),
        HeadCfg("landmarks", "landmarks", LANDMARKS, {"num_landmarks": len(LANDMARKS), "width": 2 * w}),
        HeadCfg(
            "regression",
            "regression",
            REGRESSION,
            {"num_outputs": len(REGRESSION), "hidden": 128, "units": list(REGRESSION_UNITS)},
        ),
        HeadCfg("enhancement", "enhancement", (), {"width": w}),
        HeadCfg("report", "report", vocab, {"vocab_size": len(vocab), "max_len": recipe.report_len}),
    )
    return ModelCfg(
        name=recipe.name,
        arch=recipe.arch,
        version=recipe.version,
        input_size=recipe.input_size,
        heads=heads,
        measurements=MEASUREMENTS,
        trained_on=TRAINED_ON,
        clinical_use=False,
    )


def save_model(model: Any, folder: Path, notes: Mapping[str, Any], trained_on: str = TRAINED_ON) -> ModelCard:
    """Write weights (float16 when float32 would pass ``MAX_BYTES``) and a card without metrics."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    size = sum(v.numel() * v.element_size() for v in state.values())
    half = size > MAX_BYTES * 0.95
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    del torch
    card = ModelCard(
        replace(model.cfg, trained_on=trained_on, clinical_use=False),
        weights_sha256=sha256_file(folder / WEIGHTS_FILE),
        notes=json.dumps({**notes, "weights_dtype": "float16" if half else "float32"}, sort_keys=True),
    )
    write_card(card, folder)
    return card


def write_card(card: ModelCard, folder: Path) -> None:
    """Write ``card.json`` (checked by parsing it back)."""
    text = card.to_json()
    ModelCard.from_json(text, folder / CARD_FILE)
    (folder / CARD_FILE).write_text(text, encoding="utf-8")


def with_metrics(card: ModelCard, metrics: Mapping[str, float]) -> ModelCard:
    """The card with held-out test figures as ``test.<name>``."""
    return replace(card, metrics={f"test.{k}": round(float(v), 6) for k, v in sorted(metrics.items())})
