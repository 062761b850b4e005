"""``python -m training.recipes.stages MODEL STAGE [STAGE ...]``: write into ``MODEL``'s card the
stages that trained it, after checking that each one starts from the one before.

A model trained in stages (the demo recipe, then the demo recipe again from that model's weights
with ``start_from``, then heads added on its frozen encoder by ``training.recipes.exam`` and
``training.recipes.prompt``) carries in its card the notes of its last demo stage and of each
added head, but not the stages before. Given the stage folders in order (each a model folder:
``model.safetensors`` and ``card.json``), this checks the chain:

* a demo-recipe stage that starts from another model names that model's weights sha256
  (``notes.ran.start_from``): it must be the previous stage's;
* a stage that added a head (a new ``<head>_head`` entry in its notes) stores every tensor of the
  previous stage but that head's bit for bit;

and writes under ``notes.stages`` of ``MODEL``'s card, per stage: the folder, the command, the
config file and its sha256 (demo stages), the machine, torch and thread count, the minutes and
the weights' sha256. ``MODEL``'s weights must be the last stage's (the folder itself, or the
installed copy of it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

HEAD_NOTES = "_head"  # an added head's notes: ``exam_head``, ``prompt_head``


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The card, its notes and the weights' sha256 of a stage folder."""
    from engine.model_card import CARD_FILE, WEIGHTS_FILE
    from engine.model_store import sha256_file

    card_path, weights = folder / CARD_FILE, folder / WEIGHTS_FILE
    if not card_path.is_file() or not weights.is_file():
        raise ConfigError(folder, f"is not a model folder (needs {CARD_FILE} and {WEIGHTS_FILE})")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    try:
        notes = json.loads(card.get("notes") or "{}")
    except ValueError:
        notes = {}
    return card, notes if isinstance(notes, dict) else {}, sha256_file(weights)


def _added_head(notes: dict[str, Any], before: dict[str, Any]) -> str | None:
    """The head a stage added: the ``<head>_head`` note it has and the stage before lacked, or
    whose entry changed (a head trained again)."""
    for key, value in notes.items():
        if key.endswith(HEAD_NOTES) and isinstance(value, dict) and before.get(key) != value:
            return key.removesuffix(HEAD_NOTES)
    return None


def describe(folders: Sequence[Path]) -> list[dict[str, Any]]:
    """Check the chain of stage ``folders`` (in training order) and describe each stage.

    Raises:
        ConfigError: a folder that is not a model, or a stage that does not start from the one
            before (the message names the stage and what differs).
    """
    from training.recipes.extend import check_unchanged

    stages: list[dict[str, Any]] = []
    before: tuple[Path, dict[str, Any], str] | None = None
    for folder in folders:
        _, notes, sha = _read(folder)
        head = _added_head(notes, before[1]) if before is not None else None
        entry: dict[str, Any] = {"folder": str(folder), "weights_sha256": sha}
        if head is not None and before is not None:
            try:
                kept = check_unchanged(before[0], folder, head)
            except RuntimeError as err:
                raise ConfigError(folder, f"does not start from {before[0]}: {err}") from None
            added = notes[head + HEAD_NOTES]
            entry.update(
                kind=f"{head} head on the frozen model before",
                command=added.get("reproduce", ""),
                machine=added.get("machine", ""),
                torch=added.get("torch", ""),
                threads=added.get("threads"),
                minutes=added.get("total_minutes"),
                tensors_unchanged=kept,
            )
        else:
            ran = notes.get("ran", {})
            start = ran.get("start_from") or {}
            if before is not None and start.get("weights_sha256") != before[2]:
                raise ConfigError(
                    folder,
                    f"does not start from {before[0]} (its start_from weights are "
                    f"{start.get('weights_sha256') or 'none'}, that model's {before[2]})",
                )
            entry.update(
                kind="demo recipe" + (" from the model before" if before is not None else ""),
                command=notes.get("reproduce", ""),
                config_file=notes.get("config_file"),
                config_sha256=notes.get("config_sha256"),
                machine=ran.get("machine", ""),
                torch=ran.get("torch", ""),
                threads=ran.get("threads"),
                minutes=ran.get("train_minutes"),
            )
            if before is None and start:
                entry["start_from"] = start
        stages.append(entry)
        before = (folder, notes, sha)
    return stages


def record(model: Path, folders: Sequence[Path]) -> list[dict[str, Any]]:
    """Write the checked stages of ``folders`` into ``model``'s card (``notes.stages``).

    Raises:
        ConfigError: a broken chain (see :func:`describe`), or ``model``'s weights are not the
            last stage's.
    """
    from training.recipes.extend import rewrite_card

    if not folders:
        raise ConfigError(model, "no stages given")
    stages = describe(folders)
    card, notes, sha = _read(model)
    if sha != stages[-1]["weights_sha256"]:
        raise ConfigError(model, f"its weights are not those of the last stage, {folders[-1]}")
    notes["stages"] = stages
    card["notes"] = json.dumps(notes, sort_keys=True)
    rewrite_card(model, card)
    return stages


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m training.recipes.stages", description=__doc__.splitlines()[0])
    p.add_argument("model", help="the model folder whose card gains the stages")
    p.add_argument("stages", nargs="+", help="the stage folders, first to last")
    args = p.parse_args(argv)
    try:
        stages = record(Path(args.model), [Path(s) for s in args.stages])
    except ConfigError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    for s in stages:
        print(f"{s['folder']}: {s['kind']}, {s['minutes']} min on {s['machine']}, {s['weights_sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
