"""Simulator throughput: frames per second per scene at 256x256 on one core.

    python bench/simulator.py [--size 256] [--seconds 2]

Beside the fixed 256x256 acquisition, ``randomised_frames_per_s`` gives each scene under
domain randomisation (``training.sim.domain``: images of 200-800 pixels, any geometry, JPEG
and Doppler exports), the way the demo recipe renders its training data.

Pins itself to one CPU and one OpenCV/BLAS thread. ``frames_per_s`` divides frames by the
process's CPU time (one thread, so CPU seconds are core-seconds), which stays meaningful on
a shared machine; ``frames_per_s_wall`` is the wall-clock figure. The last line printed is
one JSON object.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.sim import SimConfig, list_scenes, simulate  # noqa: E402
from training.sim.domain import simulate_randomised  # noqa: E402

TARGET_FPS = 50.0


def pin_one_core() -> int | None:
    """Run on a single CPU where the OS allows it; returns that CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def frames_per_second(scene: str, cfg: SimConfig | None, seconds: float) -> tuple[float, float]:
    """Whole-scene throughput (anatomy, rendering, labels, overlay) over several seeds.

    ``cfg=None`` draws a randomised acquisition per seed (``simulate_randomised``).

    Returns:
        ``(frames per CPU second, frames per wall-clock second)``.
    """

    def run(seed: int) -> int:
        result = simulate_randomised(scene, seed) if cfg is None else simulate(scene, seed, cfg)
        return int(result.frames.shape[0])

    run(0)
    frames, seed = 0, 1
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        frames += run(seed)
        seed += 1
        cpu = time.process_time() - cpu0
        if cpu >= seconds and seed > 3:
            return frames / cpu, frames / (time.perf_counter() - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    cpu = pin_one_core()
    cv2.setNumThreads(1)
    cfg = SimConfig(height=args.size, width=args.size)
    rates = {name: frames_per_second(name, cfg, args.seconds) for name in list_scenes()}
    fps = {name: round(r[0], 1) for name, r in rates.items()}
    out = {
        "bench": "simulator",
        "size": [args.size, args.size],
        "cpu": cpu,
        "threads": 1,
        "frames_per_s": fps,
        "frames_per_s_wall": {name: round(r[1], 1) for name, r in rates.items()},
        "min_frames_per_s": min(fps.values()),
        "target_frames_per_s": TARGET_FPS,
        "meets_target": min(fps.values()) >= TARGET_FPS,
        "randomised_frames_per_s": {
            name: round(frames_per_second(name, None, args.seconds)[0], 1) for name in list_scenes()
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
