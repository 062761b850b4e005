"""Memory of a large cine: 2000 frames of 1024x768 RGB opened, played end to end and inferred on keyframes.

    python bench/memory.py [--frames 2000] [--every 50] [--model NAME] [--keep clip.avi]

The clip is written as an MJPG .avi in a temporary folder by a child process (so writing it does
not count), then this process opens it with ``engine.io.open_cine``, reads every frame in order as
the viewer's playback does, and runs every task of a model on every ``--every``-th frame through
``engine.tasks.runner.run_tasks``. The model is ``--model`` from the store, else a tiny all-heads
model (``echocare_test`` encoder, 64x64) saved to a temporary store. The last line printed is one
JSON object; ``rss_mb`` is the peak resident memory of the whole run (target <= 1500).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_MB = 1500
ROWS, COLUMNS = 768, 1024


def rss_mb() -> float:
    """Current resident memory of this process, in MiB."""
    with Path("/proc/self/statm").open() as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_clip(path: Path, frames: int) -> None:
    """Write ``frames`` frames of a moving fan-like RGB pattern as MJPG."""
    import cv2

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float32)
    speckle = rng.integers(0, 60, (ROWS, COLUMNS), dtype=np.uint8)
    fan = ((np.abs(xx - COLUMNS / 2) < (yy + 20) * 0.6) & (yy > 40)).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (COLUMNS, ROWS))
    radius = np.hypot(xx - COLUMNS / 2, yy - 300)
    walls = [((np.abs(radius - (150 + 30 * np.sin(k / 5))) < 12) * 180).astype(np.uint8) for k in range(31)]
    for i in range(frames):
        grey = (
            np.minimum(np.roll(speckle, i, axis=0).astype(np.uint16) + walls[i % 31], 255).astype(np.uint8)
            * fan
        )
        frame = np.dstack([grey, grey, np.minimum(grey.astype(np.int16) + 20, 255).astype(np.uint8)])
        writer.write(frame)
    writer.release()


def tiny_model() -> str:
    """Save a tiny all-heads model to the store (ECHOCARE_HOME) and return its name."""
    from dataclasses import replace

    from engine import model_store
    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.tasks.presets import all_heads_cfg

    cfg = replace(all_heads_cfg(name="memory-bench"), version="")
    model_store.save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    return cfg.name


def measure(clip: Path, every: int, model: str) -> dict[str, object]:
    """Open, play and infer; the figures of each stage."""
    import torch

    from engine.factory import load_model
    from engine.inference import Predictor
    from engine.io import open_cine
    from engine.tasks.runner import run_tasks

    torch.set_num_threads(2)
    out: dict[str, object] = {"rss_after_imports_mb": round(rss_mb(), 1)}
    t0 = time.perf_counter()
    with open_cine(clip) as cine:
        out["opened"] = {"frames": cine.n_frames, "rows": cine.info.rows, "columns": cine.info.columns}
        out["rss_after_open_mb"] = round(rss_mb(), 1)
        t1 = time.perf_counter()
        for i in range(cine.n_frames):
            cine.frame(i)
        out["play_fps"] = round(cine.n_frames / (time.perf_counter() - t1), 1)
        out["rss_after_play_mb"] = round(rss_mb(), 1)
        loaded = load_model(model, device="cpu")
        predictor = Predictor(loaded, backend="torch", device="cpu")
        keyframes = tuple(range(0, cine.n_frames, every))
        t2 = time.perf_counter()
        result = run_tasks(cine, predictor, loaded.cfg, loaded.ref, "all", keyframes)
        out["infer"] = {"model": model, "keyframes": len(keyframes), "tasks": sorted(result.tasks)}
        out["infer_s"] = round(time.perf_counter() - t2, 1)
        out["rss_after_infer_mb"] = round(rss_mb(), 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exits 1 when the peak is above the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--every", type=int, default=50, help="infer on every N-th frame")
    parser.add_argument("--model", help="a model in the store (default: a tiny all-heads model)")
    parser.add_argument("--keep", type=Path, help="reuse or keep the clip at this path")
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # child: write the clip only
    args = parser.parse_args(argv)
    if args.make:
        make_clip(args.make, args.frames)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.keep or Path(tmp) / "large_cine.avi"
        if not clip.exists():
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--make", str(clip), "--frames", str(args.frames)], check=True
            )
            print(
                f"wrote {clip} ({clip.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
            )
        os.environ.setdefault("ECHOCARE_HOME", str(Path(tmp) / "home"))
        model = args.model or tiny_model()
        figures = measure(clip, args.every, model)
    peak = round(peak_mb(), 1)
    print(
        json.dumps(
            {
                "rss_mb": peak,
                "target_mb": TARGET_MB,
                "clip": "2000x1024x768 RGB MJPG avi"
                if args.frames == 2000
                else f"{args.frames}x1024x768 RGB MJPG avi",
                **figures,
            }
        )
    )
    return 0 if peak <= TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
