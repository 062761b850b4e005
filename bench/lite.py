"""EchoCare-Lite benchmark: a distilled student against its teacher, speed and held-out accuracy.

    python bench/lite.py [--teacher NAME|FOLDER] [--student VARIANT] [--steps 300] [--per-scene 24]

The teacher is the bundled demo model (``resources/models/echocare-demo``) when it is there,
else a quickly trained stand-in (``echocare_small`` at 128x128 with the demo's seven heads and
label space, trained for ``--teacher-steps`` on simulator labels for segmentation and
classification only) kept in ``bench/out/lite-home``. The student (``echocare_mini`` encoder:
the teacher's ``echocare_small`` with one block per stage instead of two, started from the
teacher's weights; dense heads at ``--head-scale`` of the teacher's widths) is distilled with
``training.distill`` and cached in the same store, keyed by the teacher's sha256 and the run
settings. The last line printed is one JSON object:

* ``lite_fps``: 256x256 frames per second through preprocessing and all heads of the student
  (ONNX Runtime, the ``auto`` CPU backend, batch 4, every core this process may use);
  ``teacher_fps`` the same for the teacher, ``lite_speedup`` their ratio;
* ``lite_dice_ratio``: student / teacher mean Dice on held-out simulated frames (target
  >= 0.95); ``lite_auc_gap``: teacher - student classification AUC (target <= 0.02);
* ``teacher``: which teacher gave these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOME = ROOT / "bench" / "out" / "lite-home"
DEMO = ROOT / "resources" / "models" / "echocare-demo"
SEG_LABELS = ("lesion", "vessel", "lv_cavity", "lv_myocardium", "head")
CLASSES = ("benign", "malignant")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stand_in_cfg(size: int, width: int = 8):
    from engine.config import HeadCfg
    from engine.tasks.presets import all_heads_cfg

    base = all_heads_cfg(
        name="lite-bench-teacher", arch="echocare_small", input_size=(size, size), width=width
    )
    labels = {"segmentation": SEG_LABELS, "classification": CLASSES}
    heads = []
    for h in base.heads:
        params = dict(h.params)
        if h.kind in labels:
            params["num_classes"] = len(labels[h.kind])
        heads.append(HeadCfg(h.name, h.kind, labels.get(h.kind, h.labels), params))
    return replace(
        base, heads=tuple(heads), version="", measurements=(), trained_on="simulated frames (bench)"
    )


def train_stand_in(steps: int, size: int, seed: int = 0) -> str:
    """Train the stand-in teacher on simulator labels (segmentation, classification); returns its name."""
    import torch
    import torch.nn.functional as nnf

    from engine import model_store
    from engine.factory import create_model
    from engine.model_card import ModelCard
    from training.distill.data import simulated_frames

    cfg = stand_in_cfg(size)
    if model_store.active_version(cfg.name):
        return cfg.name
    torch.manual_seed(seed)
    model = create_model(cfg).train()
    frames = simulated_frames(cfg, 320, ("lesion", "vessels", "cardiac", "fetal_head"), ((256, 256),), seed)
    x_all = torch.from_numpy(np.stack([f.image for f in frames]))
    m_all = torch.from_numpy(
        np.stack([f.mask if f.mask is not None else np.full((size, size), -1) for f in frames])
    )
    y_all = torch.tensor([f.label for f in frames])
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    for step in range(steps):
        idx = torch.from_numpy(rng.choice(len(frames), 8, replace=False))
        x, m, y = x_all[idx], m_all[idx].long(), y_all[idx]
        feats = model.encoder(x)
        loss = nnf.cross_entropy(model.heads["segmentation"](feats, x)["logits"], m, ignore_index=-1)
        if (y >= 0).any():
            loss = loss + nnf.cross_entropy(
                model.heads["classification"](feats, x)["logits"], y, ignore_index=-1
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 25 == 0:
            log(f"stand-in teacher step {step}/{steps} loss {float(loss.detach()):.3f}")
    log(f"stand-in teacher trained in {(time.monotonic() - start) / 60:.1f} min")
    card = ModelCard.from_cfg(cfg, notes=json.dumps({"bench": "lite", "steps": steps, "seed": seed}))
    model_store.save_version(card, model.eval().state_dict())
    return cfg.name


def student_for(cfg) -> str:
    """The cached student of ``cfg`` (same teacher weights and settings), distilled when missing."""
    from engine import model_store
    from engine.factory import load_model
    from training.distill.register import register
    from training.distill.trainer import distill

    teacher = load_model(cfg.teacher)
    config = json.loads(json.dumps(asdict(cfg)))
    name = cfg.name or f"{teacher.card.name}-lite"
    for card in model_store.list_cards():
        lineage = card.lineage
        same = lineage.details.get("teacher_sha256") == teacher.ref.sha256 and lineage.config == config
        if card.name == name and same:
            log(f"student: cached {card.name}@{card.version}")
            return f"{card.name}@{card.version}"
    every = max(1, cfg.steps // 10)
    result = distill(
        cfg, progress=lambda p: p.done % every == 0 and log(f"distill step {p.done} {p.message}")
    )
    log(f"distilled in {result.seconds / 60:.1f} min, final loss {result.final_loss:.4f}")
    card = register(result, cfg)
    return f"{card.name}@{card.version}"


def frames_per_s(predictor, size: int, repeat: int, batch: int = 4) -> float:
    """256x256 frames/s through preprocessing and every head (fresh frames: no cache hits)."""
    from engine.transforms.preprocess import preprocess

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (repeat + 1, batch, size, size), dtype=np.uint8)
    cfg = predictor.loaded.cfg

    def once(k: int) -> None:
        images = np.stack([preprocess(f, cfg).image for f in frames[k]])
        predictor.run_heads([(k, i) for i in range(batch)], images)

    once(repeat)  # warm-up (export, session start)
    times = []
    for k in range(repeat):
        t = time.perf_counter()
        once(k)
        times.append(time.perf_counter() - t)
    return round(batch / statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--teacher", default="", help="store name or model folder (default: demo or stand-in)"
    )
    parser.add_argument("--student", default="echocare_mini")
    parser.add_argument("--head-scale", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--frames", type=int, default=384)
    parser.add_argument("--no-teacher-init", action="store_true", help="student from random weights")
    parser.add_argument("--teacher-steps", type=int, default=150)
    parser.add_argument("--per-scene", type=int, default=24)
    parser.add_argument("--size", type=int, default=256, help="frame size for the speed figure")
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("ECHOCARE_HOME", str(HOME))

    from engine.backends.device import use_all_cores
    from engine.factory import load_model
    from engine.inference import Predictor
    from training.distill.config import DistillCfg
    from training.distill.evaluate import compare

    threads = use_all_cores()
    if args.teacher:
        teacher, which = args.teacher, args.teacher
    elif (DEMO / "card.json").is_file():
        teacher, which = str(DEMO), "demo model (resources/models/echocare-demo)"
    else:
        teacher = train_stand_in(args.teacher_steps, 128)
        which = (
            f"stand-in echocare_small 128x128 trained {args.teacher_steps} steps (demo model not in the tree)"
        )
    log(f"teacher: {which}")
    cfg = DistillCfg(
        teacher=teacher,
        student=args.student,
        head_scale=args.head_scale,
        steps=args.steps,
        frames=args.frames,
        teacher_init=not args.no_teacher_init,
    )
    student = student_for(cfg)
    t_loaded, s_loaded = load_model(teacher, device="cpu"), load_model(student, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        t_pred = Predictor(t_loaded, backend="auto", device="cpu", onnx_dir=Path(tmp) / "t", cache_bytes=0)
        s_pred = Predictor(s_loaded, backend="auto", device="cpu", onnx_dir=Path(tmp) / "s", cache_bytes=0)
        lite_fps = frames_per_s(s_pred, args.size, args.repeat)
        teacher_fps = frames_per_s(t_pred, args.size, args.repeat)
        log(f"frames/s all heads: student {lite_fps}, teacher {teacher_fps}")
        t_pred.cache.max_bytes = s_pred.cache.max_bytes = 256 << 20
        figures = compare(t_pred, s_pred, per_scene=args.per_scene)
    log(json.dumps(figures))
    params = {m: sum(p.numel() for p in x.module.parameters()) for m, x in (("t", t_loaded), ("s", s_loaded))}
    print(
        json.dumps(
            {
                "teacher": which,
                "student": student,
                "student_arch": s_loaded.cfg.arch,
                "model_input": list(s_loaded.cfg.input_size),
                "frame_size": [args.size, args.size],
                "threads": threads,
                "backend": s_pred.choice.kind,
                "lite_fps": lite_fps,
                "teacher_fps": teacher_fps,
                "lite_speedup": round(lite_fps / teacher_fps, 2),
                "lite_params_m": round(params["s"] / 1e6, 2),
                "teacher_params_m": round(params["t"] / 1e6, 2),
                "lite_dice_ratio": round(figures["dice_ratio"], 4),
                "lite_auc_gap": round(figures["auc_gap"], 4),
                "teacher_dice": round(figures["teacher.dice"], 4),
                "student_dice": round(figures["student.dice"], 4),
                "teacher_auc": round(figures["teacher.auc"], 4),
                "student_auc": round(figures["student.auc"], 4),
                "held_out_frames": int(figures["frames"]),
                "targets": {"lite_fps": 25, "lite_dice_ratio": 0.95, "lite_auc_gap": 0.02},
            }
        )
    )


if __name__ == "__main__":
    main()
