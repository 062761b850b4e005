"""Fine-tuning speed on the demo-size model ("echocare_small"): step time per mode and the
feature-cache speedup of heads-only training.

Prints one JSON object as its last line:
    step_ms_heads_only, step_ms_lora, step_ms_full: one optimiser step (batch ``--batch``)
        of the segmentation head (decoder width 8, as the demo model), mean of ``--steps`` after
        one warm-up step;
    epoch_s_heads_uncached, epoch_s_heads_cached: one heads-only epoch over ``--frames``
        simulated frames, running the frozen encoder every step vs on cached features;
    feature_cache_speedup: their ratio (the cache itself is built once per run, timed as
        cache_build_s).

Usage: ``python bench/train.py [--size 128] [--batch 4] [--steps 5] [--frames 32] [--threads N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, ahead of bench/ (bench/engine.py)

import torch

from engine.config import HeadCfg, ModelCfg
from engine.factory import create_model
from training.finetune.lora import add_lora
from training.finetune.module import FinetuneModule, cache_features
from training.finetune.samples import InputSpec, PreparedSet, collate
from training.finetune.sources import simulated_samples


def build(size: int, mode: str) -> FinetuneModule:
    heads = (HeadCfg("segmentation", "segmentation", ("lesion",), {"num_classes": 1, "width": 8}),)
    model = create_model(ModelCfg(name="bench", arch="echocare_small", input_size=(size, size), heads=heads))
    for p in model.parameters():
        p.requires_grad_(mode == "full")
    if mode == "lora":
        add_lora(model.encoder, 4)
    model.heads["segmentation"].requires_grad_(True)
    return FinetuneModule(model, {"segmentation": {"num_classes": 1, "width": 8}})


def step_time(module: FinetuneModule, batches: list[dict], steps: int) -> float:
    """Mean seconds of forward + backward + AdamW step over ``steps`` batches (after a warm-up)."""
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    module.train()
    times = []
    for i in range(steps + 1):
        batch = batches[i % len(batches)]
        t0 = time.perf_counter()
        out = module(batch)
        out["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - t0)
    return sum(times) / len(times)


def epoch_time(module: FinetuneModule, data: PreparedSet, batch: int, cached: bool) -> float:
    """Seconds for one heads-only epoch, with or without cached encoder features."""
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    module.train()
    t0 = time.perf_counter()
    for start in range(0, len(data) - batch + 1, batch):
        b = collate([data[i] for i in range(start, start + batch)])
        if not cached:
            b.pop("feats", None)
            with torch.no_grad():
                b["feats"] = module.model.encoder(b["image"])
        out = module(b)
        out["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    samples, _ = simulated_samples("lesion", ("segmentation",), args.frames, 0, (args.size, args.size), {})
    data = PreparedSet(samples, InputSpec((args.size, args.size)), ("segmentation",))
    batches = [
        collate([data[i] for i in range(s, s + args.batch)]) for s in range(0, 2 * args.batch, args.batch)
    ]

    result: dict[str, object] = {
        "model": "echocare_small",
        "input": [args.size, args.size],
        "batch": args.batch,
    }
    for mode in ("lora", "full"):
        result[f"step_ms_{mode}"] = round(1000 * step_time(build(args.size, mode), batches, args.steps), 2)
    heads = build(args.size, "heads")
    with torch.no_grad():
        cached_batches = [{**b, "feats": heads.model.encoder(b["image"])} for b in batches]
    result["step_ms_heads_only"] = round(1000 * step_time(heads, cached_batches, args.steps), 2)

    uncached = epoch_time(heads, data, args.batch, cached=False)
    t0 = time.perf_counter()
    cache_features(data, heads.model.encoder, "cpu")
    result["cache_build_s"] = round(time.perf_counter() - t0, 3)
    cached = epoch_time(heads, data, args.batch, cached=True)
    result["epoch_s_heads_uncached"] = round(uncached, 3)
    result["epoch_s_heads_cached"] = round(cached, 3)
    result["feature_cache_speedup"] = round(uncached / cached, 2)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
