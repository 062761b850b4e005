"""``python -m training.recipes.demo --config configs/demo.yaml --out DIR``: train the demo model.

Stages: render the simulated training scenes once; pretrain the encoder with masked image
modelling (``training.ssl``), or start from a stored model's weights (``start_from``); train
all seven heads with the encoder frozen, then the whole model, then the heads once more on the
final encoder (``polish``); write
``DIR/<name>/{model.safetensors, card.json}``; score it on the held-out simulated test set
and record the figures, the recipe, the seed and what was actually run in the card.
``--install resources/models/echocare-demo`` copies the finished model folder there.

Every training phase writes a checkpoint every ``CHECKPOINT_EVERY`` steps. ``--resume`` continues
a run that was stopped (killed, ``max_minutes``, a power cut) in the same ``--out`` folder with
the same recipe: the data are rendered again (the same seeds give the same frames), finished
phases read back their final weights, and the interrupted phase goes on from its newest
checkpoint, so at most ``CHECKPOINT_EVERY`` steps are trained twice. The evaluation and the
exam and prompt stages run again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from engine.errors import ConfigError
from engine.progress import Progress
from training.recipes import extend
from training.recipes.config import SCENES, DemoRecipe, load_recipe

CHECKPOINT_EVERY = 50  # optimiser steps between a training phase's checkpoints
RECIPE_FILE = "recipe.json"  # the recipe a run folder was started with (what --resume checks)


def _claim(recipe: DemoRecipe, out: Path, resume: bool) -> None:
    """Record ``recipe`` in ``out``; with ``resume``, refuse a folder started with another recipe."""
    from engine.config_files import to_dict

    claim(out, to_dict(recipe), resume)


def claim(out: Path, recipe: Mapping[str, Any], resume: bool) -> None:
    """Record what a run folder was started with (``recipe``, JSON-ready) in ``out``; with
    ``resume``, refuse a folder that was started with something else (ConfigError)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / RECIPE_FILE
    text = json.dumps(recipe, indent=2, sort_keys=True) + "\n"
    if resume and path.is_file() and path.read_text(encoding="utf-8") != text:
        raise ConfigError(
            out, "was started with another recipe; run it again without --resume, or into a new --out folder"
        )
    path.write_text(text, encoding="utf-8")


def _logger(out: Path) -> Callable[[str], None]:
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / "recipe.log"
    start = time.monotonic()

    def log(msg: str) -> None:
        line = f"[{(time.monotonic() - start) / 60:6.2f} min] {msg}"
        print(line, flush=True)
        with log_file.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    return log


def _progress(log: Callable[[str], None], name: str, every: int = 50) -> Callable[[Progress], None]:
    def report(p: Progress) -> None:
        if p.done % every == 0 or p.done == p.total:
            log(f"{name} step {p.done}/{p.total} {p.message}")

    return report


def render(recipe: DemoRecipe, log: Callable[[str], None]) -> list[Any]:
    """Every scene's training frames (simulator seeds from ``recipe.seed``)."""
    from training.recipes.data import render_scene
    from training.sim.domain import ranges_with

    ranges = ranges_with(recipe.data.domain)
    samples: list[Any] = []
    for k, scene in enumerate(SCENES):
        t = time.monotonic()
        got = render_scene(
            scene,
            recipe.data.per_scene[scene],
            recipe.seed * 10 + k,
            recipe.data.sizes,
            recipe.input_size,
            recipe.data.cardiac_frames,
            recipe.data.randomised,
            ranges,
        )
        samples += got
        log(f"rendered {len(got)} {scene} frames in {time.monotonic() - t:.1f} s")
    return samples


class _Start(NamedTuple):
    """The stored model a recipe starts from: its report vocabulary, weights and identity."""

    vocab: tuple[str, ...]
    weights: dict[str, Any]
    identity: dict[str, str]


def _start(name_or_dir: str) -> _Start:
    """Read the model a recipe starts from (``start_from``)."""
    from engine.errors import ModelError
    from engine.model_store import locate, read_weights

    folder, card = locate(name_or_dir)
    report = [h for h in card.model.heads if h.kind == "report"]
    if not report:
        raise ModelError(folder, "has no report head to take the vocabulary from (start_from)")
    who = {"name": card.name, "version": card.version, "weights_sha256": card.weights_sha256}
    return _Start(tuple(report[0].labels), read_weights(folder, card), who)


def prepare_torch(recipe: DemoRecipe) -> DemoRecipe:
    """Seed torch, make it deterministic and set the recipe's threads; returns the recipe with its
    device resolved (``cuda`` to the device picked)."""
    import torch

    from training.seed import set_determinism

    if recipe.device != "cpu":
        from training.distributed import pick_device

        recipe = replace(recipe, device=pick_device(recipe.device))
    set_determinism(recipe.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    return recipe


def train(
    recipe: DemoRecipe, out: Path, log: Callable[[str], None], resume: bool = False
) -> tuple[Any, dict[str, Any]]:
    """Pretrain and fine-tune; returns the model and a record of what ran.

    ``resume`` continues the phases that ``out`` holds checkpoints of (see the module's notes).
    """
    import torch

    from engine.factory import create_model
    from training.checkpointing import load_weights
    from training.recipes.card import model_cfg
    from training.recipes.data import RecipeSet, encode_reports, report_vocab
    from training.recipes.multitask import WeightedHeads, run_phase
    from training.recipes.pretrain import pretrain_frames, run_mim
    from training.seed import set_determinism

    recipe = prepare_torch(recipe)
    ran: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    ran |= {"device": recipe.device, "machine": extend.machine()}
    if recipe.device.startswith("cuda"):
        ran["gpu"] = torch.cuda.get_device_name(torch.device(recipe.device))
    start = _start(recipe.start_from) if recipe.start_from else None  # before the minutes of rendering
    t = time.monotonic()
    samples = render(recipe, log)
    ran["data_minutes"] = round((time.monotonic() - t) / 60, 2)
    ran["frames"] = {s: sum(x.scene == s for x in samples) for s in SCENES}
    vocab = start.vocab if start else report_vocab(samples)
    samples = encode_reports(samples, vocab, recipe.report_len)

    t = time.monotonic()
    encoder = None
    if start is None:  # a start model's weights would replace the pretrained encoder
        encoder = run_mim(
            recipe,
            pretrain_frames(samples, recipe.data.pretrain_frames),
            out / "pretrain",
            _progress(log, "pretrain"),
            resume=resume,
            checkpoint_every=CHECKPOINT_EVERY,
        )
    steps = 0 if start else recipe.pretrain.steps
    ran["pretrain"] = {"steps": steps, "minutes": round((time.monotonic() - t) / 60, 2)}
    set_determinism(recipe.seed)
    model = create_model(model_cfg(recipe, vocab))
    if encoder is not None:
        load_weights(encoder, model.encoder)
    if start:
        from training.finetune.setup import load_matching

        fresh = load_matching(model, start.weights)
        ran["start_from"] = {**start.identity, "tensors_as_built": len(fresh)}
        who = start.identity
        log(f"started from {who['name']} {who['version']}; {len(fresh)} tensors as built")
    params = {h.name: dict(h.params) for h in model.cfg.heads}
    data = RecipeSet(samples, model.cfg.mean, model.cfg.std)
    deadline = time.monotonic() + recipe.max_minutes * 60 if recipe.max_minutes else None
    phases = (("heads", recipe.heads, True), ("full", recipe.full, False), ("polish", recipe.polish, True))
    for phase_name, phase, frozen in phases:
        if phase.steps <= 0:
            continue
        t = time.monotonic()
        model.encoder.requires_grad_(not frozen)
        module = WeightedHeads(model, params, recipe.loss_weights, frozen_encoder=frozen, only=phase.heads)
        result = run_phase(
            module,
            data,
            phase,
            out_dir=str(out / phase_name),
            seed=recipe.seed,
            scene_weights=phase.scene_weights or recipe.scene_weights,
            deadline=deadline,
            progress=_progress(log, phase_name),
            device=recipe.device,
            resume=resume,
            checkpoint_every=CHECKPOINT_EVERY,
        )
        ran[phase_name] = {
            "steps": result.steps,
            "planned_steps": phase.steps,
            "status": result.status,
            "minutes": round((time.monotonic() - t) / 60, 2),
        }
        log(f"{phase_name} phase: {result.status} after {result.steps} steps")
    model.requires_grad_(False)
    return model.eval(), ran


def run_recipe(recipe: DemoRecipe, out: Path, config_path: Path | None = None, resume: bool = False) -> Path:
    """The whole recipe; returns the model folder ``out/<name>``.

    Raises:
        ConfigError: ``resume`` on a folder that was started with another recipe.
    """
    from engine.config_files import to_dict
    from training.recipes.card import save_model, with_metrics, write_card
    from training.recipes.evaluate import evaluate

    _claim(recipe, out, resume)
    log = _logger(out)
    if resume:
        log("resuming: finished phases are read back, the interrupted one continues")
    start = time.monotonic()
    model, ran = train(recipe, out, log, resume)
    if resume:
        ran["resumed"] = True
    ran["train_minutes"] = round((time.monotonic() - start) / 60, 2)
    notes = {
        "recipe": to_dict(recipe),
        "config_file": str(config_path) if config_path else None,
        "config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest() if config_path else None,
        "seed": recipe.seed,
        "ran": ran,
        "test_set": {
            "scenes": "lesion, vessels, organs, fetal_head, enhance, cardiac cines",
            "simulator_seeds": f"({recipe.test_seed} * 10 + part) * 1000003 + i; training used "
            f"({recipe.seed} * 10 + scene) * 1000003 + i",
            "size": list(recipe.eval.size),
        },
        "reproduce": f"python -m training.recipes.demo --config {config_path} --out DIR",
    }
    folder = out / recipe.name
    card = save_model(model, folder, notes)
    log(f"saved {folder} ({(folder / 'model.safetensors').stat().st_size / 1e6:.2f} MB)")
    t = time.monotonic()
    metrics = evaluate(folder, recipe.eval, recipe.test_seed, log)
    ran["eval_minutes"] = round((time.monotonic() - t) / 60, 2)
    write_card(with_metrics(card, metrics), folder)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    folder = add_head_stages(recipe, folder, out, config_path)
    log(f"done in {(time.monotonic() - start) / 60:.1f} min: {folder}")
    return folder


def head_stage_settings(recipe: DemoRecipe, quick: bool | None = None) -> tuple[Any, Any]:
    """The exam and prompt recipes' settings for heads on an encoder that ``recipe`` trained (or
    whose heads it trains): their smoke settings when ``quick`` (None: each stage's own ``quick``),
    the randomised share of the recipe's ``exam`` and ``prompt`` stages (the head recipes' own
    where the recipe has none), and the recipe's ``data.domain``, so that each head sees the
    data its encoder was trained on."""
    from training.recipes import exam, prompt

    settings = []
    for module, stage, full in (
        (exam, recipe.exam, exam.ExamRecipe),
        (prompt, recipe.prompt, prompt.PromptRecipe),
    ):
        small = (stage is not None and stage.quick) if quick is None else quick
        base = module.SMOKE if small else full()
        base = replace(base, domain=recipe.data.domain)
        if stage is not None:
            base = replace(base, randomised=stage.randomised)
            if stage.steps and hasattr(base, "steps"):  # the prompt head's training steps
                base = replace(base, steps=stage.steps)
        settings.append(base)
    return settings[0], settings[1]


def add_head_stages(recipe: DemoRecipe, folder: Path, out: Path, config_path: Path | None) -> Path:
    """The recipe's ``exam`` and ``prompt`` stages on ``folder`` in turn; returns the last folder."""
    from training.recipes import exam, prompt

    command = f"python -m training.recipes.demo --config {config_path} --out DIR"
    exam_settings, prompt_settings = head_stage_settings(recipe)
    if recipe.exam is not None:
        folder = exam.run_recipe(folder, out / "exam", exam_settings, command)
    if recipe.prompt is not None:
        folder = prompt.run_recipe(folder, out / "prompt", prompt_settings, command)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    import os

    # threads that wait passively: a shared, loaded machine otherwise burns its cores spinning
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(prog="python -m training.recipes.demo", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="recipe file, e.g. configs/demo.yaml")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--seed", type=int, default=None, help="override the recipe's seed")
    p.add_argument("--install", default=None, help="copy the finished model folder here")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped run in the same --out folder from its newest checkpoints",
    )
    args = p.parse_args(argv)

    def run() -> Path:
        recipe = load_recipe(args.config, {"seed": args.seed} if args.seed is not None else None)
        return run_recipe(recipe, Path(args.out), Path(args.config), args.resume)

    return extend.run_and_install(run, args.install)


if __name__ == "__main__":
    sys.exit(main())
