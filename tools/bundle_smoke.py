"""Smoke-test the PyInstaller bundles built by ``make bundle``; report their sizes.

    python tools/bundle_smoke.py [--dist build/dist] [--model DIR] [--sizes-only]

For each flavour it runs ``<bundle>/<name> --smoke --model DIR`` offscreen from an empty folder
with a clean environment (so nothing from the source tree or the venv can be imported), and
checks the JSON line: the sample opened, every task of the model ran, through torch in the full
bundle and through ONNX Runtime in the viewer bundle (which must hold no torch). When
``resources/models/echocare-demo`` exists, each bundle runs its own bundled copy of the demo model
(the viewer's holds the ONNX export that ``make bundle`` made), so a bundle that lacks a file of it
fails; without a demo model, both run a small all-heads model made with
``python -m app.smoke --prepare`` (torch from the venv). A bundle also fails when it is over
its size target. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAVOURS = {
    "full": ("echocare-studio", "torch", 1200),
    "viewer": ("echocare-studio-viewer", "onnxruntime", 500),
}
DEMO = REPO / "resources" / "models" / "echocare-demo"


def folder_mb(folder: Path) -> float:
    """Size of every file under ``folder``, in MB (10**6 bytes)."""
    return round(
        sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6, 1
    )


def bundled_demo(folder: Path) -> Path:
    """The demo model inside a one-folder bundle (PyInstaller's ``_internal``, or the folder itself)."""
    for base in (folder / "_internal", folder):
        if (base / "resources").is_dir():
            return base / DEMO.relative_to(REPO)
    return folder / "_internal" / DEMO.relative_to(REPO)


def smoke_model(model: Path | None) -> tuple[Path | None, str]:
    """The model folder every bundle runs (None: each its bundled demo model), and where it came from."""
    if model is not None:
        return model, "given"
    if (DEMO / "card.json").is_file():
        return None, "the demo model bundled inside each bundle"
    made = REPO / "build" / "smoke-model"
    if not (made / "card.json").is_file():
        subprocess.run([sys.executable, "-m", "app.smoke", "--prepare", str(made)], cwd=REPO, check=True)
    return made, "no demo model in resources/models: a small all-heads model made by app.smoke --prepare"


def run_smoke(exe: Path, model: Path) -> dict[str, object]:
    """Run one bundle's smoke check from an empty folder; its JSON, or the failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "ECHOCARE"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory() as cwd:
        env["HOME"] = cwd
        proc = subprocess.run(
            [str(exe.resolve()), "--smoke", "--model", str(model.resolve())],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"ok": False, "returncode": proc.returncode, "stderr": proc.stderr[-3000:]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    """Smoke-test both bundles; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "build" / "dist")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes-only", action="store_true", help="report sizes without running")
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    failed = False
    run = not args.sizes_only
    model, source = smoke_model(args.model) if run else (None, "")
    if run:
        report["model"] = {"path": str(model) if model else None, "source": source}
    for flavour, (name, backend, target_mb) in FLAVOURS.items():
        folder = args.dist / name
        exe = folder / name
        if not exe.is_file():
            report[flavour] = {"ok": False, "error": f"{exe} missing (run make bundle)"}
            failed = True
            continue
        entry: dict[str, object] = {"size_mb": folder_mb(folder), "target_mb": target_mb}
        entry["within_target"] = entry["size_mb"] <= target_mb
        torch_inside = any(folder.rglob("torch/__init__.py*")) or any(folder.rglob("libtorch*.so*"))
        entry["has_torch"] = torch_inside
        if run:
            bundle_model = model or bundled_demo(folder)
            entry["model"] = str(bundle_model)
            if not (bundle_model / "card.json").is_file():
                result = {"ok": False, "error": f"{bundle_model}: no model card"}
            elif backend == "onnxruntime" and not (bundle_model / "onnx" / "encoder.onnx").is_file():
                result = {"ok": False, "error": f"{bundle_model}: no ONNX export (make bundle makes it)"}
            else:
                result = run_smoke(exe, bundle_model)
            ran = result.get("model", {}) if isinstance(result.get("model"), dict) else {}
            result_ok = (
                bool(result.get("ok")) and ran.get("backend") == backend and len(ran.get("tasks", [])) > 0
            )
            entry["smoke"] = result
            entry["ok"] = result_ok and (flavour == "full") == torch_inside and bool(entry["within_target"])
            failed |= not entry["ok"]
        report[flavour] = entry
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
