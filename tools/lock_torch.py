"""Write ``requirements/torch-cpu.txt``: the exact torch wheel ``make`` installs first, with its hash.

    python tools/lock_torch.py WHEEL_DIR [--out requirements/torch-cpu.txt]

``make lock`` downloads the torch build named in ``requirements/torch.in`` (the CPU build, which
pip finds on the local wheel path or the PyTorch CPU index) into WHEEL_DIR and calls this script,
so that ``pip install --require-hashes --no-deps -r requirements/torch-cpu.txt`` installs exactly
that file. torch's own dependencies are pinned, with hashes, in ``requirements/lock.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

HEADER = """\
# The torch build every make target installs first (--require-hashes --no-deps); its dependencies
# are in requirements/lock.txt. Written by `make lock` (tools/lock_torch.py); do not edit.
# A CUDA build replaces this file: make run TORCH_SPEC=torch==VERSION TORCH_INDEX=--index-url=URL
"""


def wheel_requirement(wheel: Path) -> str:
    """``torch==VERSION --hash=sha256:...`` for one wheel file (version taken from its name)."""
    name, version = wheel.name.split("-")[:2]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{name}=={version} \\\n    --hash=sha256:{digest}\n"


def main(argv: list[str] | None = None) -> int:
    """Write the torch requirement for the single torch wheel in the given folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", type=Path, help="folder holding exactly one torch wheel")
    parser.add_argument("--out", type=Path, default=Path("requirements/torch-cpu.txt"))
    args = parser.parse_args(argv)
    found = sorted(args.wheels.glob("torch-*.whl"))
    if len(found) != 1:
        raise SystemExit(f"error: {args.wheels}: expected one torch wheel, found {len(found)}")
    args.out.write_text(HEADER + wheel_requirement(found[0]))
    print(f"wrote {args.out} ({found[0].name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
