"""``python -m training.recipes.graft --model M --donor D --head prompt --out FOLDER``: give a model
a head that was trained on the same frozen encoder in another model.

The head recipes (``training.recipes.exam``, ``training.recipes.prompt``) train one head on a
frozen encoder, and the demo recipe's polish phases retrain heads with the encoder frozen, so
several models can share one encoder bit for bit. A head trained on one of them works unchanged
on the others; this writes ``FOLDER`` as ``M`` with ``D``'s head (its tensors, its card entry, its
``test.<head>.`` figures and its notes), and records where the head came from in the card's
notes (``<head>_head.grafted_from``). It is refused in one line when the two encoders differ in
any tensor: a head answers only the features it was trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.recipes import extend

ENCODER_PREFIX = "encoder."


def encoder_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The encoder tensors (``encoder.*``) that differ between two stored state dicts, by name."""
    import torch

    names = sorted({k for k in (*a, *b) if k.startswith(ENCODER_PREFIX)})
    return [
        k
        for k in names
        if k not in a or k not in b or a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])
    ]


class _StoredHead:
    """A head's stored tensors, in the shape ``extend.write_model`` takes."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        self.tensors = tensors

    def state_dict(self) -> dict[str, Any]:
        return self.tensors


def graft(model: Path, donor: Path, head: str, folder: Path) -> dict[str, Any]:
    """Write ``folder``: ``model`` with ``donor``'s head ``head``; returns the written card.

    Raises:
        ConfigError: the donor has no such head, the encoders differ, or ``folder`` is one of
            the two models.
    """
    from safetensors.torch import load_file

    from engine.errors import ConfigError
    from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard
    from engine.model_store import sha256_file

    for given in (model, donor):
        missing = [f for f in (WEIGHTS_FILE, CARD_FILE) if not (given / f).is_file()]
        if missing:
            raise ConfigError(given, f"is not a model folder (no {' or '.join(missing)})")
    if folder.resolve() in (model.resolve(), donor.resolve()):
        raise ConfigError(folder, "the output folder is one of the two models; choose another --out")
    donor_card = ModelCard.from_json((donor / CARD_FILE).read_text(encoding="utf-8"), donor / CARD_FILE)
    entry = donor_card.model.heads_by_name.get(head)
    if entry is None:
        raise ConfigError(
            donor, f"has no {head!r} head (it has: {', '.join(donor_card.model.heads_by_name)})"
        )
    given = load_file(str(donor / WEIGHTS_FILE))
    differ = encoder_differences(load_file(str(model / WEIGHTS_FILE)), given)
    if differ:
        raise ConfigError(
            donor,
            f"its encoder differs from {model}'s in {len(differ)} tensors (first {differ[0]}); "
            "a head works only on the encoder it was trained on",
        )
    prefix = f"heads.{head}."
    tensors = {k[len(prefix) :]: v for k, v in given.items() if k.startswith(prefix)}
    donor_notes = json.loads(donor_card.notes) if donor_card.notes.startswith("{") else {}
    notes = dict(donor_notes.get(f"{head}_head", {}))
    notes["grafted_from"] = {
        "name": donor_card.model.name,
        "version": donor_card.model.version,
        "weights_sha256": sha256_file(donor / WEIGHTS_FILE),
        "rule": "the head's tensors copied bit for bit from a model whose encoder is bit-identical",
    }
    card = extend.write_model(model, folder, _StoredHead(tensors), entry, {}, f"{head}_head", notes)
    extend.check_unchanged(model, folder, head)
    own = f"test.{head}."
    kept = {k: v for k, v in card.get("metrics", {}).items() if not k.startswith(own)}
    card["metrics"] = dict(
        sorted({**kept, **{k: v for k, v in donor_card.metrics.items() if k.startswith(own)}}.items())
    )
    extend.rewrite_card(folder, card)
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    from engine.errors import EchoCareError

    p = argparse.ArgumentParser(prog="python -m training.recipes.graft", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the model folder that gains the head")
    p.add_argument("--donor", required=True, help="the model folder whose head it gains (same encoder)")
    p.add_argument("--head", required=True, help="the head's name, e.g. prompt")
    p.add_argument("--out", required=True, help="the folder to write the model to")
    args = p.parse_args(argv)
    try:
        graft(Path(args.model), Path(args.donor), args.head, Path(args.out))
    except EchoCareError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {args.model} with the {args.head} head of {args.donor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
