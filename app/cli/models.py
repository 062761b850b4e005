"""``echocare models``: import, list, show, remove and export model versions."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``models`` and its actions."""
    parser = sub.add_parser(
        "models", help="manage model versions (import, list, show, compare, remove, export-onnx)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    imp = actions.add_parser("import", help="import an encoder checkpoint (.pth/.pt/.safetensors)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="model name in the store (default: the file name)")
    imp.add_argument("--arch", help="encoder variant (default: detected, else echocare_swin_b)")
    imp.set_defaults(func=_import)

    lst = actions.add_parser("list", help="list bundled models and stored versions")
    lst.set_defaults(func=_list)

    show = actions.add_parser("show", help="print a version's model card")
    show.add_argument("model", help="NAME, NAME@VERSION or a version folder")
    show.set_defaults(func=_show)

    rm = actions.add_parser("remove", help="delete a stored version (or every version of a name)")
    rm.add_argument("model", help="NAME or NAME@VERSION")
    rm.set_defaults(func=_remove)

    exp = actions.add_parser("export-onnx", help="export encoder and heads to ONNX with a parity check")
    exp.add_argument("model", help="NAME, NAME@VERSION or a version folder")
    exp.add_argument("--out", type=Path, required=True, help="output folder")
    exp.add_argument("--opset", type=int, default=17)
    exp.set_defaults(func=_export)

    cmp = actions.add_parser("compare", help="two versions side by side: lineage, labels, test metrics")
    cmp.add_argument("a", help="NAME@VERSION (or NAME for its active version)")
    cmp.add_argument("b", help="NAME@VERSION (or NAME for its active version)")
    cmp.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from training.api import compare_text

    print(compare_text(args.a, args.b))
    return 0


def _import(args: argparse.Namespace) -> int:
    from engine.model_import import import_checkpoint

    result = import_checkpoint(args.file, name=args.name, arch=args.arch)
    print(f"architecture: {result.arch}")
    for line in result.report.lines():
        print(line)
    card = result.card
    print(f"stored {card.name} v{card.version} (weights sha256 {card.weights_sha256[:16]}...)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from engine import model_store

    cards = model_store.list_cards()
    if not cards:
        print(f"no models (user store: {model_store.user_root()})")
    for card in cards:
        active = model_store.active_version(card.name)
        mark = "*" if active == card.version else " "
        heads = ",".join(h.name for h in card.model.heads) or "encoder only"
        print(f"{mark} {card.name}@{card.version}  {card.model.arch}  {heads}  {card.created}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from engine import model_store

    folder, card = model_store.locate(args.model)
    print(f"# {folder}")
    print(card.to_json(), end="")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from engine import model_store

    name, _, version = args.model.partition("@")
    removed = model_store.remove_version(name, version or None)
    print(f"removed {name} version(s) {', '.join(removed)}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from engine.export.onnx import export_model
    from engine.factory import load_model

    loaded = load_model(args.model, device="cpu")
    exported = export_model(loaded.module, args.out, opset=args.opset)
    for path in exported.files:
        print(f"wrote {path}")
    print(f"parity torch vs onnx (relative above 1): max diff {exported.max_diff:.2e}")
    return 0
