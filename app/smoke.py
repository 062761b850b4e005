"""Smoke run of an installed (or bundled) EchoCare Studio: start offscreen, open a sample, run a model.

    echocare-studio --smoke --model MODEL_DIR [--sample PATH]      (inside the bundle)
    python -m app.smoke --prepare MODEL_DIR                          (with torch: make a model)

``--prepare`` saves a small all-heads model version (card + safetensors) into MODEL_DIR and exports
its graphs to MODEL_DIR/onnx, for when no demo model is bundled. The smoke run starts the main
window offscreen in a temporary project, opens the sample, then runs every task of the model on
keyframes of the opened cine: through torch when it is installed, else through ONNX Runtime
(the viewer-only bundle). It prints one JSON line and exits 0 when everything worked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = "samples/cardiac_lv_cine.dcm"
KEYFRAMES = 4


def resources_root() -> Path:
    """``resources/`` of the bundle (``sys._MEIPASS``) or of the source tree."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / "resources" if base else Path(__file__).resolve().parents[1] / "resources"


def prepare(folder: Path) -> None:
    """Save a small all-heads model version into ``folder`` and export it to ONNX (needs torch)."""
    from dataclasses import replace

    import torch

    from engine.export.onnx import export_model
    from engine.factory import create_model
    from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard
    from engine.model_store import sha256_file
    from engine.tasks.presets import all_heads_cfg

    torch.manual_seed(0)
    cfg = replace(all_heads_cfg(name="echocare-smoke"), version="1")
    model = create_model(cfg).eval()
    folder.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
    card = replace(ModelCard.from_cfg(cfg), weights_sha256=sha256_file(folder / WEIGHTS_FILE))
    (folder / CARD_FILE).write_text(card.to_json(), encoding="utf-8")
    export_model(model, folder / "onnx")


class OnnxHeads:
    """Encoder and heads of an exported model through ONNX Runtime only (no torch)."""

    def __init__(self, onnx_dir: Path) -> None:
        from engine.backends.onnx_backend import OnnxBackend

        self.encoder = OnnxBackend(onnx_dir / "encoder.onnx", device="cpu")
        self.heads = {
            p.stem.removeprefix("head_"): OnnxBackend(p, device="cpu") for p in onnx_dir.glob("head_*.onnx")
        }

    def run_heads(self, keys: object, images: object, names: object) -> dict[str, dict[str, object]]:
        """``{head: {output: [B, ...]}}`` of ``images`` ``[B, C, H, W]``."""
        del keys
        inputs = dict(self.encoder.run({self.encoder.input_names[0]: images}))
        inputs[self.encoder.input_names[0]] = images
        return {name: self.heads[name].run(inputs) for name in names}  # type: ignore[attr-defined]


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_model(cine: object, model_dir: Path) -> dict[str, object]:
    """Every task of the model on keyframes of ``cine``; what ran and through which backend."""
    from engine.model_card import read_card
    from engine.provenance import ModelRef
    from engine.tasks.runner import run_tasks

    card = read_card(model_dir)
    frames = tuple(range(0, cine.n_frames, max(1, cine.n_frames // KEYFRAMES)))[:KEYFRAMES]  # type: ignore[attr-defined]
    if _has_torch():
        from engine.inference import predictor_for

        runner = predictor_for(model_dir, backend="torch", device="cpu")
        backend = "torch"
    else:
        runner = OnnxHeads(model_dir / "onnx")
        backend = "onnxruntime"
    ref = ModelRef(card.name, card.version, card.weights_sha256)
    result = run_tasks(cine, runner, card.model, ref, "all", frames)  # type: ignore[arg-type]
    return {"backend": backend, "model": f"{card.name}@{card.version}", "frames": list(frames),
            "tasks": sorted(result.tasks)}  # fmt: skip


def smoke(model_dir: Path, sample: Path) -> dict[str, object]:
    """Start the main window offscreen, open ``sample`` and run the model on it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.model.settings import AppSettings
    from app.qt.main_window import MainWindow

    t0 = time.perf_counter()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ECHOCARE_HOME", str(Path(tmp) / "home"))
        window = MainWindow(str(Path(tmp) / "project"), settings=AppSettings())
        window.show()
        if not window.open_path(str(sample)):
            raise RuntimeError(f"the main window could not open {sample}")
        app.processEvents()
        doc = window.doc
        opened = {"path": str(sample), "frames": doc.n_frames, "shape": list(doc.shape)}
        ran = run_model(doc.cine, model_dir)
        window.close()
        app.processEvents()
    return {
        "ok": True,
        "opened": opened,
        "model": ran,
        "torch": _has_torch(),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """``--prepare DIR`` or the smoke run; returns the exit status."""
    parser = argparse.ArgumentParser(prog="echocare-studio --smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="(the flag that selects this entry)")
    parser.add_argument("--prepare", type=Path, help="write a small model version to this folder and exit")
    parser.add_argument("--model", type=Path, help="a model version folder (card.json, weights, onnx/)")
    parser.add_argument(
        "--sample", type=Path, default=None, help=f"file to open (default: resources/{SAMPLE})"
    )
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.prepare)
        return 0
    model_dir = args.model or resources_root() / "models" / "echocare-demo"
    if not (model_dir / "card.json").is_file():
        print(f"error: {model_dir}: no model card (make one with --prepare)", file=sys.stderr)
        return 2
    print(json.dumps(smoke(model_dir.resolve(), args.sample or resources_root() / SAMPLE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
