"""Site adaptation: does fine-tuning on 50 corrected frames from a new site raise held-out Dice?

The new site is the simulator's ``site_shift`` (another probe geometry, gain, speckle size,
dynamic range, noise and texture). Steps:

1. score the starting model (the bundled demo model by default) on ``--test`` held-out frames
   of the shifted site (seeds never used for training);
2. fine-tune its segmentation head on ``--frames`` shifted frames (their exact simulator
   labels stand in for a clinician's corrections), in a throw-away model store;
3. score the adapted version on the same held-out frames.

Prints one JSON object as its last line: ``dice_before``, ``dice_after``, ``dice_gain`` (target
>= 0.10) and the run's settings. Record the figures in docs/BENCHMARKS.md.

Usage: ``python bench/adapt.py [--model echocare-demo] [--scene lesion] [--frames 50] [--mode heads]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, ahead of bench/ (bench/engine.py)

SITE = {"probe": "convex", "gain_db": -6.0, "psf_scale": 1.6, "dynamic_range_db": 40.0, "noise": 0.05}


def held_out_dice(model, scene: str, count: int, seed: int, site: dict) -> float:
    from training.api import evaluate_model
    from training.finetune.remap import align_to_model
    from training.finetune.samples import InputSpec, PreparedSet
    from training.finetune.sources import simulated_samples

    cfg = model.cfg
    samples, labels = simulated_samples(scene, ("segmentation",), count, seed, tuple(cfg.input_size), site)
    samples, labels = align_to_model(samples, labels, cfg, ("segmentation",))  # into the model's label ids
    spec = InputSpec.of_model(cfg)
    return evaluate_model(model, PreparedSet(samples, spec, ("segmentation",)), ("segmentation",), labels)[
        "segmentation.dice"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="echocare-demo", help="store name, NAME@VERSION or a version folder")
    ap.add_argument("--scene", default="lesion")
    ap.add_argument("--frames", type=int, default=50, help="corrected frames from the new site")
    ap.add_argument("--test", type=int, default=100, help="held-out frames from the new site")
    ap.add_argument("--mode", default="heads", choices=("heads", "lora", "full"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--site", default=json.dumps(SITE), help="site_shift arguments as JSON")
    args = ap.parse_args()
    site = json.loads(args.site)

    from engine.factory import load_model

    start = load_model(args.model, device="cpu")
    before = held_out_dice(start.module, args.scene, args.test, 777, site)

    home = tempfile.mkdtemp(prefix="echocare-adapt-")
    os.environ["ECHOCARE_HOME"] = home  # the adapted version never touches the user's store
    from training.api import finetune
    from training.config import DataCfg, FinetuneCfg, OptimCfg, RunCfg, SplitCfg

    cfg = FinetuneCfg(
        model=str(start.folder),
        name="adapted",
        heads=("segmentation",),
        mode=args.mode,
        input_size=tuple(start.cfg.input_size),
        data=DataCfg(source="sim", scene=args.scene, count=args.frames, site=site, seed=555),
        split=SplitCfg(test=0.1, val=0.1),
        optim=OptimCfg(lr=args.lr, batch_size=8),
        run=RunCfg(out_dir=str(Path(home) / "run"), epochs=args.epochs, patience=8, device="cpu"),
        activate="never",
    )
    t0 = time.perf_counter()
    result = finetune(cfg)
    after = held_out_dice(result.model, args.scene, args.test, 777, site)
    print(
        json.dumps(
            {
                "model": f"{start.card.name}@{start.card.version}",
                "scene": args.scene,
                "site": site,
                "mode": args.mode,
                "frames": args.frames,
                "test_frames": args.test,
                "dice_before": round(before, 4),
                "dice_after": round(after, 4),
                "dice_gain": round(after - before, 4),
                "train_s": round(time.perf_counter() - t0, 1),
                "steps": result.loop.steps,
            }
        )
    )


if __name__ == "__main__":
    main()
