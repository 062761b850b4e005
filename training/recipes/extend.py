"""Extend a stored model with one head: the source's stored tensors copied bit for bit, the new
head's added under ``heads.<name>.``, the card gaining the head and any new model fields.

Used by the recipes that train a head on a frozen encoder (``training.recipes.exam``,
``training.recipes.prompt``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any


def card_json(
    raw: Mapping[str, Any], head: Mapping[str, Any], extra: Mapping[str, Any], first: bool = False
) -> dict[str, Any]:
    """The input card (either layout) with ``head`` in place of a head of its name (first, or
    last, when ``first`` is set or there was none) and ``extra`` model fields beside
    ``measurements``."""
    flat = "model" not in raw
    model = dict(raw if flat else raw["model"])
    heads = [dict(h) for h in model.get("heads", [])]
    names = [h.get("name") for h in heads]
    if head["name"] in names and not first:
        heads[names.index(head["name"])] = dict(head)
    else:
        others = [h for h in heads if h.get("name") != head["name"]]
        heads = [dict(head), *others] if first else [*others, dict(head)]
    model["heads"] = heads
    placed: dict[str, Any] = {}
    for key, value in model.items():
        if key in extra:
            continue
        placed[key] = value
        if key == "measurements":
            placed.update(extra)
    placed.update({k: v for k, v in extra.items() if k not in placed})
    return placed if flat else {**raw, "model": placed}


def write_model(
    source: Path,
    folder: Path,
    head: Any,
    head_cfg: Any,
    extra: Mapping[str, Any],
    notes_key: str,
    notes: Mapping[str, Any],
    first: bool = False,
) -> dict[str, Any]:
    """Write ``folder`` (weights and card): the source's stored tensors unchanged plus ``head``'s,
    the card with ``head_cfg`` (``card_json``) and ``notes`` under ``notes_key`` of its notes."""
    from safetensors.torch import load_file, save_file

    from engine.model_card import CARD_FILE, WEIGHTS_FILE
    from engine.model_store import sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"heads.{head_cfg.name}."
    stored = load_file(str(source / WEIGHTS_FILE))
    state = {k: v for k, v in stored.items() if not k.startswith(prefix)}
    state.update({prefix + k: v.detach().float().contiguous().clone() for k, v in head.state_dict().items()})
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    raw = json.loads((source / CARD_FILE).read_text(encoding="utf-8"))
    entry = {
        "name": head_cfg.name,
        "kind": head_cfg.kind,
        "labels": list(head_cfg.labels),
        "params": dict(head_cfg.params),
    }
    card = card_json(raw, entry, extra, first)
    card["weights_sha256"] = sha256_file(folder / WEIGHTS_FILE)
    old_notes = raw.get("notes") or ""
    try:
        kept = json.loads(old_notes) if old_notes else {}
    except ValueError:
        kept = {"previous_notes": old_notes}
    card["notes"] = json.dumps({**kept, notes_key: dict(notes)}, sort_keys=True)
    rewrite_card(folder, card)
    return card


def check_unchanged(source: Path, folder: Path, head_name: str) -> int:
    """Every tensor of the source model but ``head_name``'s is stored bit-identically in the new
    one; returns their count."""
    import torch
    from safetensors.torch import load_file

    old, new = load_file(str(source / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    kept = [k for k in old if not k.startswith(f"heads.{head_name}.")]
    for k in kept:
        if k not in new or new[k].dtype != old[k].dtype or not torch.equal(new[k], old[k]):
            raise RuntimeError(f"{k} changed while adding the {head_name} head")
    return len(kept)


def rewrite_card(folder: Path, card: Mapping[str, Any]) -> None:
    """Write ``card`` as the folder's card, after checking it parses."""
    from engine.model_card import CARD_FILE, ModelCard

    text = json.dumps(card, indent=2) + "\n"
    ModelCard.from_json(text, folder / CARD_FILE)
    (folder / CARD_FILE).write_text(text, encoding="utf-8")


def machine() -> str:
    """The CPU model and the cores this process may use."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {cores} cores"


def install(folder: Path, dest: str | Path) -> None:
    """Copy a finished model's files (weights and card) into ``dest``."""
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "card.json"):
        shutil.copy2(folder / name, target / name)
    print(f"installed {target}")


def run_and_install(run: Callable[[], Path], dest: str | None) -> int:
    """Run a recipe (``run`` returns its model folder) and copy the folder to ``dest`` when given;
    returns the exit status: 2, with one line on stderr, for an EchoCareError."""
    from engine.errors import EchoCareError

    try:
        folder = run()
    except EchoCareError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    if dest:
        install(folder, dest)
    return 0


def main(
    argv: Sequence[str] | None,
    module: str,
    doc: str,
    recipes: tuple[Any, Any],
    run: Callable[..., Path],
    resumable: bool = False,
    variants: Mapping[str, tuple[str, Callable[[Any], Any]]] | None = None,
) -> int:
    """The command line of a recipe that adds a head: ``--model``, ``--out``, ``--smoke``,
    ``--install``, and ``--resume`` where the recipe is ``resumable`` (``run`` then takes
    ``resume=``); ``recipes`` is (full, smoke). Each of ``variants`` (name: help, change) is a
    flag ``--name`` that applies ``change`` to the recipe before the other options. Returns the
    exit status."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from engine.errors import EchoCareError

    variants = variants or {}

    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    p.add_argument(
        "--model", required=True, help="the model folder to extend, e.g. resources/models/echocare-demo"
    )
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--smoke", action="store_true", help="tiny counts: every stage in seconds")
    p.add_argument("--install", default=None, help="copy the finished model files here")
    p.add_argument(
        "--randomised",
        type=float,
        default=None,
        help="share of the simulations under domain randomisation (0-1; default: the recipe's)",
    )
    p.add_argument(
        "--domain",
        default=None,
        metavar="CONFIG",
        help="draw the randomised simulations from the ranges of this demo recipe's data.domain "
        "(the config that trained the encoder; default: docs/simulator.md's ranges)",
    )
    trains_in = "steps" if hasattr(recipes[0], "steps") else "epochs"
    p.add_argument(
        f"--{trains_in}",
        type=int,
        default=None,
        dest="length",
        help=f"training {trains_in} (default: the recipe's)",
    )
    if resumable:
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue the training from the run folder's newest checkpoint",
        )
    for name, (text, _) in variants.items():
        p.add_argument(f"--{name}", action="store_true", help=text)
    args = p.parse_args(argv)
    recipe = recipes[1] if args.smoke else recipes[0]
    chosen = [name for name in variants if getattr(args, name)]
    for name in chosen:
        recipe = variants[name][1](recipe)
    if args.randomised is not None:
        if not 0.0 <= args.randomised <= 1.0:
            p.error(f"--randomised {args.randomised}: a share between 0 and 1")
        recipe = replace(recipe, randomised=args.randomised)
    if args.domain is not None:
        from training.recipes.config import load_recipe

        try:
            recipe = replace(recipe, domain=dict(load_recipe(args.domain).data.domain))
        except EchoCareError as err:
            print(f"error: {err.one_line()}", file=sys.stderr)
            return 2
    if args.length is not None:
        if args.length < 1:
            p.error(f"--{trains_in} {args.length}: at least 1")
        recipe = replace(recipe, **{trains_in: args.length})
    flags = (
        f"--model {args.model}",
        "--out DIR",
        "--smoke" if args.smoke else "",
        *(f"--{name}" for name in chosen),
        f"--randomised {args.randomised:g}" if args.randomised is not None else "",
        f"--domain {args.domain}" if args.domain is not None else "",
        f"--{trains_in} {args.length}" if args.length is not None else "",
    )
    command = f"python -m {module} " + " ".join(a for a in flags if a)
    more = {"resume": args.resume} if resumable else {}
    return run_and_install(
        lambda: run(Path(args.model), Path(args.out), recipe, command, **more), args.install
    )
