"""Engine benchmark: the full-size EchoCare encoder through each backend, and the feature cache.

Prints progress lines, then one JSON object as the last line:

* ``torch_ms``: eager PyTorch fp32, one frame (median);
* ``torch_sdpa_ms``: the same with MONAI's fused scaled-dot-product attention switched on;
* ``torch_bf16_ms``: PyTorch with bf16 autocast (``torch_fp16_ms`` too on CUDA);
* ``onnx_ms``: ONNX Runtime fp32 with the predictor's session setting (every core, no
  spinning, subnormals as zero; ``onnx_ms_by_setting`` lists it with the others tried), timed
  in alternation with torch fp32 (``torch_ms_interleaved``) over ``--rounds`` rounds, so each
  round's runs see the same machine; both are medians of their runs. ``onnx_speedup`` is the
  median of the rounds' own torch / ONNX Runtime ratios (``onnx_speedup_per_round``), as in
  ``bench/pipeline.py``: on a shared host a single run of either backend can lose a third of
  its speed to other tenants within a minute, so ratios of runs from different moments (the
  medians' ratio, ``onnx_speedup_of_medians``, or the best run of each, ``onnx_speedup_best``)
  swing more; every run is printed (``torch_runs_ms``, ``onnx_runs_ms``);
* ``max_abs_diff``: torch fp32 vs ONNX Runtime over the five feature levels;
* ``onnx_int8_ms``: the encoder quantised to dynamic int8 (MatMul/Gemm,
  ``engine.export.quantize``), timed in the same alternation; ``onnx_int8_speedup`` over torch
  (round by round); its accuracy loss against ONNX fp32: ``int8_max_abs_diff`` /
  ``int8_max_rel_diff`` (largest absolute difference over the feature levels, and relative to
  each level's range), and ``int8_class_agreement`` / ``int8_regression_max_diff`` of the two
  heads on those features (random weights: a check of the numerics, not of clinical accuracy);
* ``cache_hit_ms``: a second head on a frame whose features are cached;
* ``fastest``: the quickest fp32-exact path of the timings above;
* ``auto``: the path ``auto`` chooses by measurement (``engine.backends.measured``) on
  ``--auto-frames`` frames of a synthetic cine, through the tasks of the bench model's heads,
  with ``auto_trials`` (each candidate's milliseconds per frame, encoder and heads, and whether
  its task results agree with fp32) and ``auto_rule``, what the rule picks without measuring
  (the baseline); ``--auto-only`` runs this part alone;
* with ``--fps-batch N``: ``frames_per_s`` of the encoder at batch N with autocast, and
  ``frames_per_s_all_heads`` of the encoder plus all seven heads (``all_heads_cfg``, width 16)
  at batch N with autocast (target >= 300 on an H100 for the full-size encoder).

Usage: ``python bench/engine.py [--arch echocare_swin_b] [--size 256] [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends.base import choose_backend
from engine.backends.device import resolve_device, use_all_cores
from engine.backends.measured import ChoiceCache
from engine.backends.onnx_backend import OnnxBackend
from engine.backends.torch_backend import TorchBackend
from engine.config import HeadCfg, ModelCfg
from engine.export.graphs import FEATURES, EncoderGraph
from engine.export.onnx import export_graph
from engine.export.quantize import max_abs_diffs, quantize_int8
from engine.factory import LoadedModel, create_model
from engine.inference import Predictor
from engine.model_card import ModelCard
from engine.provenance import ModelRef


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(fn, repeat: int, warmup: int = 1) -> float:
    """Median milliseconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def set_sdpa(model, on: bool) -> None:
    for module in model.modules():
        if hasattr(module, "use_flash_attention"):
            module.use_flash_attention = on


def build(arch: str, size: int) -> LoadedModel:
    cfg = ModelCfg(
        name="bench",
        arch=arch,
        input_size=(size, size),
        heads=(
            HeadCfg("classification", "classification", labels=("a", "b"), params={"num_classes": 2}),
            HeadCfg("regression", "regression", labels=("ef",), params={"num_outputs": 1}),
        ),
    )
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    card = ModelCard.from_cfg(cfg)
    return LoadedModel(card, model, ModelRef("bench", "1", "bench"), torch.device("cpu"), Path())


def bench_torch(loaded: LoadedModel, image: np.ndarray, device: str, repeat: int) -> dict:
    out: dict = {}
    graph = EncoderGraph(loaded.module)
    fp32 = TorchBackend(graph, device=device)
    out["torch_ms"] = timed(lambda: fp32.run({"image": image}), repeat)
    log(f"torch fp32: {out['torch_ms']} ms")
    ref = fp32.run({"image": image})
    set_sdpa(loaded.module, True)
    out["torch_sdpa_ms"] = timed(lambda: fp32.run({"image": image}), repeat)
    sdpa = fp32.run({"image": image})
    out["torch_sdpa_max_abs_diff"] = float(max(np.abs(sdpa[k] - ref[k]).max() for k in FEATURES))
    log(f"torch fp32 + sdpa: {out['torch_sdpa_ms']} ms (diff {out['torch_sdpa_max_abs_diff']:.1e})")
    set_sdpa(loaded.module, False)
    precisions = ["bf16", "fp16"] if device.startswith("cuda") else ["bf16"]
    for p in precisions:
        low = TorchBackend(graph, device=device, precision=p)
        out[f"torch_{p}_ms"] = timed(lambda low=low: low.run({"image": image}), repeat)
        got = low.run({"image": image})
        out[f"torch_{p}_max_abs_diff"] = float(max(np.abs(got[k] - ref[k]).max() for k in FEATURES))
        log(f"torch {p} autocast: {out[f'torch_{p}_ms']} ms (diff {out[f'torch_{p}_max_abs_diff']:.2f})")
    loaded.module.cpu()
    return out | {"_ref": ref}


def bench_onnx(loaded: LoadedModel, image: np.ndarray, ref: dict, folder: Path, rounds: int) -> dict:
    """Export, then time ONNX Runtime settings and torch fp32 in alternation (same load)."""
    out: dict = {}
    path = folder / "encoder.onnx"
    start = time.perf_counter()
    export_graph(EncoderGraph(loaded.module), path, (torch.from_numpy(image),))
    out["export_s"] = round(time.perf_counter() - start, 1)
    log(f"onnx export: {out['export_s']} s")
    cores = use_all_cores()
    int8_path = quantize_int8(path, folder / "encoder.int8.onnx")
    runs = {"torch": TorchBackend(EncoderGraph(loaded.module), device="cpu")}
    for threads in sorted({cores, max(1, cores // 2)}, reverse=True):
        runs[f"threads={threads}"] = OnnxBackend(path, device="cpu", threads=threads)
    runs[f"threads={cores},spin"] = OnnxBackend(path, device="cpu", threads=cores, spin=True)
    runs["int8"] = OnnxBackend(int8_path, device="cpu")
    for name, backend in runs.items():  # warm-up
        got = backend.run({"image": image})
        if name == f"threads={cores}":
            out["max_abs_diff"] = float(max(np.abs(got[k] - ref[k]).max() for k in FEATURES))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, backend in runs.items():
            start = time.perf_counter()
            backend.run({"image": image})
            times[name].append(round((time.perf_counter() - start) * 1000, 1))
    medians = {name: round(statistics.median(t), 1) for name, t in times.items()}
    log(f"interleaved runs (ms): {times}")

    def paired(name: str) -> list[float]:
        return [t / o for t, o in zip(times["torch"], times[name], strict=True)]

    predictor = f"threads={cores}"  # what the predictor uses: every core, no spinning
    out["torch_ms_interleaved"] = medians.pop("torch")
    out["onnx_int8_ms"] = medians.pop("int8")
    out["onnx_int8_speedup"] = round(statistics.median(paired("int8")), 2)
    out["onnx_ms_by_setting"] = medians
    out["onnx_ms"] = medians[predictor]
    out["onnx_speedup"] = round(statistics.median(paired(predictor)), 2)
    out["onnx_speedup_per_round"] = [round(r, 2) for r in paired(predictor)]
    out["onnx_speedup_of_medians"] = round(out["torch_ms_interleaved"] / out["onnx_ms"], 2)
    out["onnx_speedup_best"] = round(min(times["torch"]) / min(times[predictor]), 2)
    out["torch_runs_ms"], out["onnx_runs_ms"] = times["torch"], times[predictor]
    out |= int8_accuracy(loaded, runs[f"threads={cores}"], runs["int8"], image.shape[-1])
    return out


def int8_accuracy(loaded: LoadedModel, fp32: OnnxBackend, int8: OnnxBackend, size: int, n: int = 4) -> dict:
    """Feature differences and head agreement of the int8 encoder against ONNX fp32 on ``n`` frames."""
    rng = np.random.default_rng(1)
    images = rng.random((n, 3, size, size), dtype=np.float32)
    want = {k: [] for k in FEATURES}
    got = {k: [] for k in FEATURES}
    for i in range(n):  # one frame at a time: the timed batch size
        for store, backend in ((want, fp32), (got, int8)):
            for k, v in backend.run({"image": images[i : i + 1]}).items():
                store[k].append(v)
    want = {k: np.concatenate(v) for k, v in want.items()}
    got = {k: np.concatenate(v) for k, v in got.items()}
    diffs = max_abs_diffs(want, got)
    model = loaded.module.cpu().eval()
    with torch.no_grad():
        heads = [
            model.forward_heads([torch.from_numpy(f[k]) for k in FEATURES], torch.from_numpy(images))
            for f in (want, got)
        ]
    cls = [h["classification"]["logits"].argmax(-1) for h in heads]
    reg = [h["regression"]["values"] for h in heads]
    out = {
        "int8_max_abs_diff": round(max(diffs[k] for k in FEATURES), 4),
        "int8_max_rel_diff": round(max(diffs[f"{k}_relative"] for k in FEATURES), 4),
        "int8_class_agreement": float((cls[0] == cls[1]).float().mean()),
        "int8_regression_max_diff": round(float((reg[0] - reg[1]).abs().max()), 4),
        "int8_frames": n,
    }
    log(f"int8 vs fp32: {out}")
    return out


def bench_cache(loaded: LoadedModel, image: np.ndarray, backend: str, device: str, folder: Path) -> dict:
    pred = Predictor(loaded, backend=backend, device=device, onnx_dir=folder)
    start = time.perf_counter()
    pred.run_heads(["frame"], image, ["classification"])
    miss = (time.perf_counter() - start) * 1000
    hit = timed(lambda: pred.run_heads(["frame"], image, ["regression"]), 5, warmup=1)
    log(f"cache miss (encode + head): {miss:.0f} ms, hit (second head): {hit} ms")
    return {"cache_miss_ms": round(miss, 1), "cache_hit_ms": hit, "cache_backend": backend}


def bench_auto(loaded: LoadedModel, size: int, frames: int, device: str, folder: Path) -> dict:
    """What ``auto`` measures and chooses here, on ``frames`` frames (a fresh choice cache)."""
    from engine.io.memory import ArrayCine
    from engine.tasks.runner import run_tasks

    rule = choose_backend("auto", device)
    cine = ArrayCine(np.random.default_rng(2).integers(0, 255, (frames, size, size), dtype=np.uint8))
    pred = Predictor(
        loaded, backend="auto", device=device, batch_size=frames, onnx_dir=folder,
        choices=ChoiceCache(folder / "backend-choice.json"),
    )  # fmt: skip
    run_tasks(cine, pred, loaded.cfg, loaded.ref, "all", batch_size=frames)
    loaded.module.cpu()

    def name(c) -> str:
        return f"{c.kind} {c.precision}"

    trials = pred.measurement.trials if pred.measurement else ()
    out = {
        "auto": pred.choice.kind,
        "auto_choice": name(pred.choice),
        "auto_rule": name(rule),
        "auto_frames": frames,
        "auto_trials": [
            {"path": name(t.choice), "ms_per_frame": t.ms_per_frame, "agrees": t.agrees, "note": t.note}
            for t in trials
        ],
    }
    log(f"auto: {out['auto_choice']} (rule: {out['auto_rule']}); trials {out['auto_trials']}")
    return out


def bench_fps(loaded: LoadedModel, size: int, batch: int, device: str) -> dict:
    choice = choose_backend("torch", device)
    precision = choice.precision if choice.precision != "fp32" else "bf16"
    backend = TorchBackend(EncoderGraph(loaded.module), device=device, precision=precision)
    x = torch.rand(batch, 3, size, size, device=backend.device)
    ms = timed(lambda: backend.run_tensors(x), 3)
    out = {"frames_per_s": round(batch * 1000 / ms, 1), "fps_batch": batch, "fps_precision": precision}
    log(f"encoder at batch {batch} ({precision}): {out['frames_per_s']} frames/s")
    loaded.module.cpu()
    out["frames_per_s_all_heads"] = all_heads_fps(loaded.cfg.arch, size, batch, backend.device, precision)
    log(f"encoder + all heads at batch {batch}: {out['frames_per_s_all_heads']} frames/s")
    return out


def all_heads_fps(arch: str, size: int, batch: int, device: torch.device, precision: str) -> float:
    """Frames/s of the encoder and all seven heads (demo widths) at ``batch`` under autocast."""
    from engine.tasks.presets import all_heads_cfg

    torch.manual_seed(0)
    model = create_model(all_heads_cfg(arch=arch, input_size=(size, size), width=16)).to(device).eval()
    x = torch.rand(batch, 3, size, size, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def once() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype):
            model(x)

    ms = timed(once, 3)
    model.cpu()
    return round(batch * 1000 / ms, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="echocare_swin_b")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved torch/ONNX Runtime rounds")
    parser.add_argument("--fps-batch", type=int, default=0)
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--auto-frames", type=int, default=4, help="frames auto measures on")
    parser.add_argument("--auto-only", action="store_true", help="only what auto measures and chooses")
    args = parser.parse_args()

    device = str(resolve_device(args.device))
    threads = use_all_cores()
    loaded = build(args.arch, args.size)
    image = np.random.default_rng(0).random((1, 3, args.size, args.size), dtype=np.float32)
    result: dict = {
        "arch": args.arch,
        "input": [1, 3, args.size, args.size],
        "device": device,
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": threads,
        "torch": torch.__version__,
    }
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name(0)
    if args.auto_only:
        with tempfile.TemporaryDirectory() as tmp:
            result |= bench_auto(loaded, args.size, args.auto_frames, device, Path(tmp))
        print(json.dumps(result))
        return
    result |= bench_torch(loaded, image, device, args.repeat)
    ref = result.pop("_ref")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_onnx:
            result |= bench_onnx(loaded, image, ref, Path(tmp), args.rounds)
        exact = {"torch": result["torch_ms"], "onnx": result.get("onnx_ms", float("inf"))}
        result["fastest"] = min(exact, key=exact.get)
        result |= bench_auto(loaded, args.size, args.auto_frames, device, Path(tmp))
        result |= bench_cache(loaded, image, result["auto"], device, Path(tmp))
    if args.fps_batch:
        result |= bench_fps(loaded, args.size, args.fps_batch, device)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
