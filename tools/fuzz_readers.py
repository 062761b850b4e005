"""The long fuzz pass over the DICOM, video and image readers.

    python tools/fuzz_readers.py --cases 10000 [--seed 1] [--only 1234] [--keep out/fuzz]

Every case runs in a memory-capped worker process with a time limit (see tests/fuzz). Prints a
JSON summary (cases, outcome counts, findings, slowest case, wall time); exits 1 on any finding,
whose file is kept under ``--keep`` for replay with ``--only``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz_campaign import Report, run_campaign


def _progress(report: Report) -> None:
    print(f"{report.cases} cases, {dict(report.outcomes)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the pass; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", type=int, help="replay one case index")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds one case may take")
    parser.add_argument("--keep", type=Path, help="folder for the files of findings")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pydicom warns about each invalid value written on purpose
    cases = [args.only] if args.only is not None else range(args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = run_campaign(cases, args.seed, workdir, progress=_progress, timeout_s=args.timeout)
    summary = {
        "cases": report.cases,
        "seed": args.seed,
        "outcomes": dict(report.outcomes),
        "findings": [
            {"case": i, "seed_file": name, "recipe": recipe, "kind": o.kind, "detail": o.detail[-2000:]}
            for i, name, recipe, o in report.findings
        ],
        "slowest_case_s": round(report.slowest_s, 3),
        "seconds": round(report.seconds, 1),
    }
    print(json.dumps(summary, indent=2))
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
