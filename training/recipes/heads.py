"""``echocare train heads --encoder NAME --recipe configs/demo.yaml``: every head on a stored encoder.

A site that imports the official EchoCare encoder (``echocare models import``) holds an
encoder-only model, which runs no task. This recipe gives it every head, trained on the
EchoCare Studio simulator as a starting point for the site's own fine-tuning, with the encoder
frozen and untouched (its tensors are stored bit for bit):

1. the demo recipe's training scenes (``--recipe``), rendered at its input size;
2. the encoder's maps of every frame computed once and cached (``cache_features``), then the
   recipe's ``heads`` phase and its ``polish`` phase on those maps (no encoder pass per step);
3. the exam head with its out-of-distribution statistics and calibration
   (``training.recipes.exam``), then the prompt head (``training.recipes.prompt``), with the
   recipe's settings for them (``training.recipes.demo.head_stage_settings``: the randomised
   share of its ``exam`` and ``prompt`` stages and its ``data.domain``);
4. the held-out simulated test set scored as for the demo model, the figures in the card;
5. the result stored as the next version of the encoder's name, active, with its lineage
   (parent: the encoder's version) and a card that says the heads know simulated data only.

``--quick`` uses the exam and prompt recipes' smoke settings (a try-out or a test, minutes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HEADS_TRAINED_ON = (
    "heads trained on simulated ultrasound only (EchoCare Studio simulator); not for clinical use"
)


@dataclass(frozen=True)
class HeadsResult:
    """The stored model: its card and folder, and the minutes each stage took."""

    card: Any
    folder: Path
    minutes: dict[str, float]


def _trained_on(card: Any) -> str:
    source = card.model.trained_on.strip() or "unknown data"
    return f"encoder {card.name} v{card.version} ({source}); {HEADS_TRAINED_ON}"


def _stage(minutes: dict[str, float], name: str, start: float) -> float:
    now = time.monotonic()
    minutes[name] = round((now - start) / 60, 2)
    return now


def train_heads(
    encoder: str,
    recipe_path: str | Path,
    out: Path,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> HeadsResult:
    """Train every head on the stored encoder ``encoder`` and store the result as its next version.

    Args:
        encoder: a model name, ``name@version`` or a version folder; its encoder is used frozen.
        recipe_path: the demo recipe file whose scenes, input size and heads phases are used.
        out: working folder (the stages' model folders and logs; kept for inspection).
        quick: the exam and prompt recipes' smoke settings.

    Raises:
        ModelError: no such model, or its weights do not fit the encoder its card names.
        ConfigError: a bad recipe file.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from engine import model_store
    from engine.config_files import to_dict
    from engine.errors import ModelError
    from engine.factory import create_model
    from engine.model_card import WEIGHTS_FILE, Lineage, ModelCard, read_card
    from training.finetune.module import cache_features
    from training.recipes import demo, exam, prompt
    from training.recipes.card import model_cfg, write_card
    from training.recipes.config import load_recipe
    from training.recipes.data import RecipeSet, encode_reports, report_vocab
    from training.recipes.evaluate import evaluate
    from training.recipes.multitask import WeightedHeads, run_phase
    from training.seed import set_determinism

    start = stage = time.monotonic()
    minutes: dict[str, float] = {}
    source_folder, source = model_store.locate(encoder)
    recipe = load_recipe(recipe_path)
    recipe = replace(recipe, arch=source.model.arch, name=source.name)
    torch.set_num_threads(recipe.threads or torch.get_num_threads())
    set_determinism(recipe.seed)
    log(f"encoder {source.name} v{source.version} ({source.model.arch}); heads at {recipe.input_size}")

    samples = demo.render(recipe, log)
    vocab = report_vocab(samples)
    samples = encode_reports(samples, vocab, recipe.report_len)
    cfg = replace(
        model_cfg(recipe, vocab),
        version="",
        mean=source.model.mean,
        std=source.model.std,
        in_chans=source.model.in_chans,
        trained_on=_trained_on(source),
    )
    model = create_model(cfg)
    state = {
        k: v for k, v in model_store.read_weights(source_folder, source).items() if k.startswith("encoder.")
    }
    encoder_state = {k[len("encoder.") :]: v for k, v in state.items()}
    try:
        model.encoder.load_state_dict(encoder_state, strict=True)
    except RuntimeError as err:
        raise ModelError(
            source_folder, f"its weights do not fit a {source.model.arch} encoder ({err})"
        ) from None
    model.encoder.requires_grad_(False)
    stage = _stage(minutes, "render_and_build", stage)

    data = RecipeSet(samples, cfg.mean, cfg.std)
    cache_features(data, model.encoder, "cpu", half=True)
    stage = _stage(minutes, "encode", stage)
    log(f"encoded {len(data)} frames once ({minutes['encode']} min)")
    params = {h.name: dict(h.params) for h in cfg.heads}
    for name, phase in (("heads", recipe.heads), ("polish", recipe.polish)):
        if phase.steps <= 0:
            continue
        module = WeightedHeads(model, params, recipe.loss_weights, frozen_encoder=True, only=phase.heads)
        result = run_phase(
            module, data, phase, out_dir=str(out / "runs" / name), seed=recipe.seed,
            scene_weights=phase.scene_weights or recipe.scene_weights,
        )  # fmt: skip
        log(f"{name}: {result.status} after {result.steps} steps")
    stage = _stage(minutes, "heads", stage)

    stage1 = out / "heads" / cfg.name
    stage1.mkdir(parents=True, exist_ok=True)
    model.eval()
    merged = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    for key, value in state.items():  # the encoder exactly as stored (dtype and bits)
        merged[key] = value
    save_file(merged, str(stage1 / WEIGHTS_FILE), metadata={"format": "pt"})
    write_card(ModelCard(cfg, weights_sha256=model_store.sha256_file(stage1 / WEIGHTS_FILE)), stage1)
    exam_settings, prompt_settings = demo.head_stage_settings(recipe, quick)
    with_exam = exam.run_recipe(stage1, out / "exam", exam_settings)
    stage = _stage(minutes, "exam", stage)
    with_prompt = prompt.run_recipe(with_exam, out / "prompt", prompt_settings)
    stage = _stage(minutes, "prompt", stage)

    metrics = evaluate(with_prompt, recipe.eval, recipe.test_seed, log)
    _stage(minutes, "evaluate", stage)
    minutes["total"] = round((time.monotonic() - start) / 60, 2)
    built = read_card(with_prompt)
    weights = load_file(str(with_prompt / WEIGHTS_FILE))
    changed = [k for k, v in state.items() if not torch.equal(weights[k], v)]
    if changed:
        raise ModelError(with_prompt, f"the encoder changed while training heads ({len(changed)} tensors)")
    lineage = Lineage(
        parent=source.version if built.name == source.name else f"{source.name}@{source.version}",
        method="heads for a stored encoder",
        mode="heads",
        config={
            "recipe": to_dict(recipe),
            "recipe_file": str(recipe_path),
            "quick": quick,
            "frames": len(data),
            "minutes": minutes,
        },
    )
    notes = {"heads_on_encoder": f"{source.name}@{source.version}", "minutes": minutes}
    card = ModelCard(
        replace(built.model, version=""),
        lineage=lineage,
        metrics={f"test.{k}": round(float(v), 6) for k, v in sorted(metrics.items())},
        source_sha256=source.weights_sha256,
        notes=json.dumps(notes, sort_keys=True),
    )
    stored = model_store.save_version(card, weights)
    folder, _ = model_store.locate(f"{stored.name}@{stored.version}")
    log(f"stored {stored.name} v{stored.version} with heads {', '.join(h.name for h in stored.model.heads)}")
    return HeadsResult(stored, folder, minutes)
