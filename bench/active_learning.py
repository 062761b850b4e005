"""Active learning against random selection on simulated lesion frames.

    python bench/active_learning.py [--pool 300] [--test 100] [--budget 100] [--step 10] [--seeds 3]

Protocol (small and fast, CPU):

* A pool of ``--pool`` simulated breast-lesion frames (64x64) and ``--test`` held-out ones, with
  exact masks. Encoder features are computed once and cached: the demo model's encoder when it
  is installed, else an untrained ``echocare_test`` encoder (seeded).
* A segmentation head (two convolutions with dropout over the 1/2 and 1/4 levels) is trained
  from scratch, heads only, for a fixed number of steps on whatever is labelled.
* **Random**: ``--budget`` frames drawn at random (mean test Dice over ``--seeds`` draws).
* **Ranked**: start from the same ``--step`` random frames; each round the current head scores
  the unlabelled pool (MC-dropout mutual information and softmax entropy) and
  ``training.active.rank`` adds the next ``--step`` frames (uncertainty plus k-center diversity
  on pooled features), up to the budget.

``label_fraction_to_match_random`` is the smallest ranked budget whose test Dice reaches
random's Dice with the whole budget, divided by the budget (1.0 if never; target <= 0.6).
``random_fraction_to_match_itself`` is the same figure for the random curve: where random's
own curve flattens early, the two are close and the ranked figure says little.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.active import DIVERSITY, mutual_information, pool_features, rank, softmax_entropy  # noqa: E402
from training.sim import SimConfig, simulate  # noqa: E402

TARGET = 0.6
SIZE = 64
DEMO = "echocare-demo"


def frames_and_masks(seeds: range) -> tuple[np.ndarray, np.ndarray]:
    frames, masks = [], []
    for s in seeds:
        r = simulate("lesion", seed=s, cfg=SimConfig(height=SIZE, width=SIZE))
        frames.append(r.frames[0])
        masks.append((r.truth.masks[0] > 0).astype(np.int64))
    return np.stack(frames), np.stack(masks)


def encoder() -> tuple[str, nn.Module, object]:
    """(description, encoder, model cfg): the demo model's if installed, else an untrained tiny one."""
    from engine.errors import ModelError
    from engine.factory import create_model, load_model
    from engine.tasks.presets import all_heads_cfg

    try:
        model = load_model(DEMO, device="cpu").module
        return f"{DEMO} encoder (frozen)", model.encoder, model.cfg
    except ModelError:
        torch.manual_seed(0)
        model = create_model(all_heads_cfg(arch="echocare_test", input_size=(SIZE, SIZE)))
        return "untrained echocare_test encoder (frozen, seeded)", model.encoder, model.cfg


def cached_features(enc: nn.Module, cfg: object, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Levels 0 and 1 of the frozen encoder for every frame, computed once."""
    from engine.transforms.preprocess import preprocess

    enc.eval()
    l0, l1 = [], []
    with torch.no_grad():
        for start in range(0, len(frames), 32):
            batch = np.stack([preprocess(f, cfg).image for f in frames[start : start + 32]])
            maps = enc(torch.from_numpy(batch).float())
            l0.append(maps[0])
            l1.append(maps[1])
    return torch.cat(l0), torch.cat(l1)


class Head(nn.Module):
    """A small segmentation head on two cached levels, with dropout for MC sampling."""

    def __init__(self, c0: int, c1: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c0 + c1, 32, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.2), nn.Conv2d(32, 2, 1)
        )

    def forward(self, f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(f1, size=f0.shape[-2:], mode="bilinear", align_corners=False)
        logits = self.body(torch.cat([f0, up], 1))
        return nn.functional.interpolate(logits, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def train(feats: tuple[torch.Tensor, torch.Tensor], masks: torch.Tensor, idx: list[int], steps: int) -> Head:
    torch.manual_seed(1)
    head = Head(feats[0].shape[1], feats[1].shape[1])
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(2)
    sel = torch.tensor(idx)
    for _ in range(steps):
        b = sel[torch.randint(len(sel), (min(16, len(sel)),), generator=g)]
        logits = head(feats[0][b], feats[1][b])
        loss = nn.functional.cross_entropy(logits, masks[b])
        probs = logits.softmax(1)[:, 1]
        tgt = masks[b].float()
        loss = loss + 1 - (2 * (probs * tgt).sum() + 1) / (probs.sum() + tgt.sum() + 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def test_dice(head: Head, feats: tuple[torch.Tensor, torch.Tensor], masks: torch.Tensor) -> float:
    with torch.no_grad():
        pred = head(*feats).argmax(1)
    inter = ((pred == 1) & (masks == 1)).flatten(1).sum(1).float()
    total = ((pred == 1).flatten(1).sum(1) + (masks == 1).flatten(1).sum(1)).float()
    return float(torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total)).mean())


def uncertainty(head: Head, feats: tuple[torch.Tensor, torch.Tensor], passes: int = 8) -> np.ndarray:
    """MC-dropout mutual information plus softmax entropy of the mean, per frame."""
    head.train()
    torch.manual_seed(3)
    with torch.no_grad():
        samples = np.stack([head(*feats).softmax(1).numpy() for _ in range(passes)])
    head.eval()
    return mutual_information(samples) + softmax_entropy(samples.mean(0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=300)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per training")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--diversity", type=float, default=DIVERSITY, help="the app's default")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    pool_x, pool_y = frames_and_masks(range(args.pool))
    test_x, test_y = frames_and_masks(range(100_000, 100_000 + args.test))
    name, enc, cfg = encoder()
    pool_f, test_f = cached_features(enc, cfg, pool_x), cached_features(enc, cfg, test_x)
    pool_m, test_m = torch.from_numpy(pool_y), torch.from_numpy(test_y)
    descriptors = pool_features(pool_f[1].numpy())
    budgets = list(range(args.step, args.budget + 1, args.step))
    random_curves, ranked_curves = [], []
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(args.pool).tolist()
        random_curves.append(
            [test_dice(train(pool_f, pool_m, order[:b], args.steps), test_f, test_m) for b in budgets]
        )
        labelled = order[: args.step]
        curve = []
        for b in budgets:
            head = train(pool_f, pool_m, labelled, args.steps)
            curve.append(test_dice(head, test_f, test_m))
            if b < args.budget:
                u = uncertainty(head, pool_f)
                labelled = labelled + rank(u, descriptors, args.step, labelled, args.diversity)
        ranked_curves.append(curve)
    random_mean = np.mean(random_curves, 0)
    ranked_mean = np.mean(ranked_curves, 0)
    goal = float(random_mean[-1])
    reached = [b for b, d in zip(budgets, ranked_mean, strict=True) if d >= goal]
    fraction = reached[0] / args.budget if reached else 1.0
    itself = next(b for b, d in zip(budgets, random_mean, strict=True) if d >= goal) / args.budget
    print(
        json.dumps(
            {
                "label_fraction_to_match_random": round(fraction, 3),
                "target": TARGET,
                "random_dice_at_budget": round(goal, 4),
                "random_fraction_to_match_itself": round(itself, 3),
                "budget": args.budget,
                "budgets": budgets,
                "random_dice": [round(float(d), 4) for d in random_mean],
                "ranked_dice": [round(float(d), 4) for d in ranked_mean],
                "pool": args.pool,
                "test": args.test,
                "seeds": args.seeds,
                "encoder": name,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
