"""Run every ``bench/*.py`` on this machine and merge their JSON into ``bench/out/summary.json``.

Each benchmark prints one JSON object as its last line of stdout. A benchmark that fails is
recorded with its exit status and the tail of its stderr; the others still run.

Usage: ``python bench/run_all.py [--only NAME ...] [--timeout S]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out" / "summary.json"
SKIP = {"run_all.py"}


def machine() -> dict[str, object]:
    """Name the machine the figures came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_one(script: Path, timeout: float) -> dict[str, object]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=BENCH_DIR.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    wall = round(time.perf_counter() - start, 1)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"ok": False, "exit": proc.returncode, "wall_s": wall, "stderr": proc.stderr[-800:]}
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"ok": False, "wall_s": wall, "error": "last line is not JSON", "line": lines[-1][:200]}
    return {"ok": True, "wall_s": wall, "figures": figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="benchmark names without .py")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    scripts = sorted(p for p in BENCH_DIR.glob("*.py") if p.name not in SKIP and not p.name.startswith("_"))
    if args.only:
        scripts = [p for p in scripts if p.stem in set(args.only)]
    summary: dict[str, object] = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    results: dict[str, object] = {}
    for script in scripts:
        print(f"bench: {script.stem} ...", file=sys.stderr, flush=True)
        results[script.stem] = run_one(script, args.timeout)
    summary["results"] = results
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2))
    failed = [k for k, v in results.items() if not v["ok"]]  # type: ignore[index]
    print(json.dumps({"summary": str(OUT), "benchmarks": len(results), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
