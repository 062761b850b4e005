"""Entry point of ``echocare``: one sub-command per module, errors as one line on stderr.

Each sub-command module exposes ``add_parser(subparsers)``, which registers its parser and
sets ``func(args) -> int`` as its default. Modules are imported lazily by name so that
``echocare info`` never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine.errors import EchoCareError

# sub-command modules under app.cli, in the order `echocare --help` lists them
COMMANDS: tuple[str, ...] = (
    "info",
    "frames",
    "models",
    "train",
    "distill",
    "infer",
    "segment",
    "export",
    "listen",
    "pacs",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="echocare", description="EchoCare Studio command line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"app.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except EchoCareError as err:
        if args.debug:
            raise
        print(f"error: {err.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
