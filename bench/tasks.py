"""Cost of the seven task heads over the full-size EchoCare encoder, and per-task post-processing.

    python bench/tasks.py [--width 16] [--repeats 3] [--size 256]

Builds ``echocare_swin_b`` (random weights) with all seven heads at the demo-recipe widths and
times, on one CPU thread, the encoder alone and the encoder plus every head on one 256x256 frame.
``all_heads_over_encoder`` is (encoder + all heads) / encoder, from CPU time (meaningful on a
shared machine; target <= 1.25); the FLOP ratio is printed too. Post-processing is timed per task
on a 600x800 frame from those heads' outputs. The last line printed is one JSON object.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.factory import create_model  # noqa: E402
from engine.io.calibration import Calibration, Region  # noqa: E402
from engine.provenance import ModelRef  # noqa: E402
from engine.tasks.base import TASKS, CineContext, FrameContext  # noqa: E402
from engine.tasks.presets import all_heads_cfg  # noqa: E402
from engine.transforms.preprocess import preprocess  # noqa: E402
from engine.types import TaskResult  # noqa: E402

TARGET = 1.25


def cpu_seconds(fn, repeats: int) -> float:
    """Median CPU time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def postprocess_ms(cfg, outputs: dict, frame: np.ndarray, repeats: int) -> dict[str, float]:
    """Milliseconds of each task's post-processing (and summary) for one frame."""
    ref = ModelRef(cfg.name, cfg.version)
    cal = Calibration(regions=(Region(0, 0, 799, 599, 0.2, 0.2, "mm", "mm", "tissue"),), source="regions")
    prep = preprocess(frame, cfg)
    ctx = FrameContext(0, frame, prep.geometry, cal)
    cine = CineContext((0.0,), cal, (0,))
    out: dict[str, float] = {}
    done: dict[str, TaskResult] = {}
    for name in (
        "classification",
        "segmentation",
        "detection",
        "landmarks",
        "regression",
        "enhancement",
        "report",
    ):
        task = TASKS.get(name)(cfg, ref)
        one = {k: v[0] for k, v in outputs[name].items()}
        t0 = time.perf_counter()
        for _ in range(repeats):
            result = task.postprocess(one, ctx)
            summary = task.summarize([result], done, cine)
        out[name] = round(1000 * (time.perf_counter() - t0) / repeats, 2)
        done[name] = TaskResult(name, (result,), tuple(summary))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16, help="dense heads' width (all_heads_cfg)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--arch", default="echocare_swin_b")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = all_heads_cfg("bench", args.arch, (args.size, args.size), args.width)
    model = create_model(cfg).eval()
    frame = np.random.default_rng(0).integers(0, 255, (600, 800)).astype(np.uint8)
    x = torch.from_numpy(preprocess(frame, cfg).image[None])
    with torch.inference_mode():
        feats = model.forward_features(x)
        encoder = cpu_seconds(lambda: model.forward_features(x), args.repeats)
        heads = cpu_seconds(lambda: model.forward_heads(feats, x), args.repeats)
        per_head = {
            n: round(cpu_seconds(lambda n=n: model.forward_heads(feats, x, [n]), 1), 4)
            for n in cfg.heads_by_name
        }
        enc_flops = flops(lambda: model.forward_features(x))
        head_flops = flops(lambda: model.forward_heads(feats, x))
        outputs = {h: {k: v.numpy() for k, v in o.items()} for h, o in model.forward_heads(feats, x).items()}
    enc_params = sum(p.numel() for p in model.encoder.parameters())
    head_params = {n: sum(p.numel() for p in h.parameters()) for n, h in model.heads.items()}
    result = {
        "arch": args.arch,
        "input": [args.size, args.size],
        "head_width": args.width,
        "threads": 1,
        "encoder_cpu_s": round(encoder, 3),
        "all_heads_cpu_s": round(heads, 3),
        "all_heads_over_encoder": round((encoder + heads) / encoder, 3),
        "target": TARGET,
        "met": (encoder + heads) / encoder <= TARGET,
        "flops_all_heads_over_encoder": round((enc_flops + head_flops) / enc_flops, 3),
        "encoder_gflops": round(enc_flops / 1e9, 1),
        "heads_gflops": round(head_flops / 1e9, 2),
        "per_head_cpu_s": per_head,
        "encoder_params_m": round(enc_params / 1e6, 1),
        "head_params_m": {n: round(v / 1e6, 3) for n, v in head_params.items()},
        "postprocess_ms_600x800": postprocess_ms(cfg, outputs, frame, args.repeats),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
