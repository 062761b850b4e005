"""``python -m training.recipes.polish --model M --config C --out DIR``: train one head of a
stored model again, on its frozen encoder, with a demo recipe's data and ``polish`` phase.

The demo recipe's own ``start_from`` builds the model its config describes, so it cannot polish
a model that later stages gave more heads (the exam and prompt heads, their calibration and
out-of-distribution statistics). This recipe loads the stored model whole instead: it renders
the config's training frames (``data``: counts, sizes, randomised share and ``domain``, from
``seed``), trains the one head ``polish.heads`` names for ``polish.steps`` steps with every
other tensor frozen, and writes ``DIR/<name>``: the source's tensors bit for bit but that
head's, the card with ``notes.<head>_head`` (what ran, where, how long) and the held-out
simulated figures of the config's ``eval`` (the demo recipe's test, ``training.recipes.evaluate``)
in place of the old ones; the other heads' figures are kept. ``python -m
training.recipes.stages`` accepts such a stage as a head trained again on the model before.

The config's ``pretrain``, ``heads`` and ``full`` phases must have no steps, and ``start_from`` is
not read (``--model`` is the start): a config for this recipe says what it trains in one place.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from training.recipes import extend
from training.recipes.config import DemoRecipe, load_recipe
from training.recipes.demo import CHECKPOINT_EVERY, _logger, _progress, claim, prepare_torch, render

NOTES = "{}_head"  # the card's notes of the head trained again (as an added head's)


def _command(model: Path, config: Path) -> str:
    return f"python -m training.recipes.polish --model {model} --config {config} --out DIR"


def polished_head(recipe: DemoRecipe, config: Path, heads: Sequence[str]) -> str:
    """The one head ``recipe`` polishes, after checking it trains nothing else.

    Raises:
        ConfigError: a phase before ``polish`` with steps, no polish steps, or not exactly one
            polished head that the model (``heads``) has.
    """
    early = [name for name in ("pretrain", "heads", "full") if getattr(recipe, name).steps > 0]
    if early:
        phases = ", ".join(early)
        raise ConfigError(config, f"trains the {phases} phase(s); a polish recipe trains one head only")
    if recipe.polish.steps <= 0 or len(recipe.polish.heads) != 1:
        raise ConfigError(config, "needs polish.steps > 0 and exactly one head in polish.heads")
    head = recipe.polish.heads[0]
    if head not in heads:
        has = ", ".join(heads)
        raise ConfigError(config, f"polishes the {head} head, which the model lacks (it has {has})")
    return head


def run_recipe(model: Path, recipe: DemoRecipe, out: Path, config: Path, command: str = "") -> Path:
    """Train ``model``'s polished head again (module docstring); returns ``out/<name>``.

    Raises:
        ConfigError: see :func:`polished_head`; ``out`` is the model's own folder.
    """
    import torch

    from engine.config_files import to_dict
    from engine.factory import load_model
    from training.recipes.data import RecipeSet, encode_reports
    from training.recipes.evaluate import evaluate
    from training.recipes.multitask import WeightedHeads, run_phase

    log = _logger(out)
    start = time.monotonic()
    source = load_model(model, device="cpu")
    cfg = source.cfg
    head = polished_head(recipe, config, [h.name for h in cfg.heads])
    folder = out / cfg.name
    if folder.resolve() == Path(source.folder).resolve():
        raise ConfigError(folder, "the output folder is the model being polished; choose another --out")
    recipe = prepare_torch(recipe)
    claim(out, {"recipe": to_dict(recipe), "model": source.ref.sha256}, False)
    log(f"polishing the {head} head of {cfg.name} v{cfg.version} ({source.folder}) on {extend.machine()}")
    t = time.monotonic()
    report = cfg.heads_by_name.get("report")
    samples = render(recipe, log)
    if report is not None:
        samples = encode_reports(samples, tuple(report.labels), recipe.report_len)
    data_minutes = (time.monotonic() - t) / 60
    net = source.module.float().train()
    net.requires_grad_(False)
    params = {head: dict(cfg.heads_by_name[head].params)}
    module = WeightedHeads(net, params, recipe.loss_weights, frozen_encoder=True, only=(head,))
    t = time.monotonic()
    result = run_phase(
        module,
        RecipeSet(samples, cfg.mean, cfg.std),
        recipe.polish,
        out_dir=str(out / "polish"),
        seed=recipe.seed,
        scene_weights=recipe.polish.scene_weights or recipe.scene_weights,
        deadline=time.monotonic() + recipe.max_minutes * 60 if recipe.max_minutes else None,
        progress=_progress(log, "polish"),
        device=recipe.device,
        checkpoint_every=CHECKPOINT_EVERY,
    )
    net.requires_grad_(False)
    net.eval()
    log(f"polish phase: {result.status} after {result.steps} steps")
    notes: dict[str, Any] = {
        "retrained": f"{head} head trained again on the frozen encoder of {cfg.name} v{cfg.version} "
        f"(weights {source.ref.sha256}); every other tensor is unchanged",
        "reproduce": command or _command(model, config),
        "recipe": to_dict(recipe),
        "config_file": str(config),
        "config_sha256": hashlib.sha256(config.read_bytes()).hexdigest(),
        "machine": extend.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": result.steps,
        "status": result.status,
        "data_minutes": round(data_minutes, 2),
        "fit_minutes": round((time.monotonic() - t) / 60, 2),
    }
    key = NOTES.format(head)
    card = extend.write_model(
        Path(source.folder), folder, net.heads[head], cfg.heads_by_name[head], {}, key, notes
    )
    kept = extend.check_unchanged(Path(source.folder), folder, head)
    log(f"wrote {folder}: {kept} tensors unchanged, the {head} head trained again")
    metrics = evaluate(folder, recipe.eval, recipe.test_seed, log)
    notes["total_minutes"] = round((time.monotonic() - start) / 60, 2)
    card["notes"] = json.dumps({**json.loads(card["notes"]), key: notes}, sort_keys=True)
    own = {f"test.{k}": round(float(v), 6) for k, v in sorted(metrics.items())}
    card["metrics"] = dict(sorted({**source.card.metrics, **own}.items()))
    extend.rewrite_card(folder, card)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log(f"done in {notes['total_minutes']:.1f} min: {folder}")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(prog="python -m training.recipes.polish", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the model folder whose head to train again")
    p.add_argument("--config", required=True, help="a demo recipe with a polish phase of one head")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--install", default=None, help="copy the finished model files here")
    args = p.parse_args(argv)
    model, config = Path(args.model), Path(args.config)
    return extend.run_and_install(
        lambda: run_recipe(model, load_recipe(config), Path(args.out), config, _command(model, config)),
        args.install,
    )


if __name__ == "__main__":
    sys.exit(main())
