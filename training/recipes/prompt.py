"""``python -m training.recipes.prompt --model resources/models/echocare-demo --out DIR [--smoke]``:
add the prompt head (click or box to a mask) to a model, trained on its frozen encoder.

The model's encoder and every head it has stay bit-identical; a ``prompt`` head is added (an
existing one is replaced):

1. Simulate every scene (``training.sim``) at several sizes with each scene's own probe, in a
   training and a test split with their own simulator seeds (the test split uses the demo
   recipe's held-out seed). Every connected part of every labelled structure of at least
   ``min_area`` model-input pixels is one target, whatever its name: the head is
   class-agnostic; its larger reading, the structure around it filled
   (``engine.heads.kinds.prompt.whole``: the whole LV around the cavity), is the target of the
   head's second output. Frames go through the engine's preprocessing and ``Predictor``; the
   training frames' features are computed once and kept in memory (float16).
2. Train the head with random prompts, as interactive segmentation is trained: a batch is one
   positive click (the structure's centre or a random interior point), a box (the tight box,
   each side jittered), or a click followed by one to ``max_corrections`` correction clicks,
   each at the centre of the largest error region of the head's own answer so far
   (positive on a miss, negative on a false alarm) with that answer as the previous mask.
3. Write ``DIR/<name>/{model.safetensors, card.json}`` with the prompt head.
4. Score the written model through the engine (``engine.heads.kinds.prompt.segment``, original
   frame pixels) on the test split with the standard protocol (:func:`evaluate_prompts`): IoU
   after one click at the structure's centre, clicks to reach IoU 0.85 (at most
   ``max_clicks``), IoU with the tight box; per structure name and overall; and, where the
   structure lies inside a larger one, the IoU of the first click's alternative with that one.

``--smoke`` runs every stage with tiny counts (the test uses it); ``--install DEST`` copies
the finished model files to ``DEST``. The training writes a checkpoint every
``CHECKPOINT_EVERY`` steps into the run folder; ``--resume`` continues a stopped run from the
newest one (the features are computed again) and ends as the run would have ended unstopped.

``--refine`` trains the model's own prompt head further instead of a fresh one (:func:`refine`:
a new training split, a shorter, lower schedule, and batches of carried masks, the prompts that
propagation gives the next frame); the model must have a prompt head of the recipe's shape.
Everything else stays bit-identical, as in a fresh run.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.heads.kinds.prompt import DISTINCT, iou, tight_box, whole
from engine.tasks.prompting import centre
from training.recipes import extend
from training.recipes.config import SCENES
from training.recipes.data import SEED_STRIDE
from training.recipes.demo import _logger, claim
from training.recipes.exam import SimFrame, scene_batches

IOU_TARGET = 0.85
CHECKPOINT_EVERY = 100  # training steps between checkpoints (``--resume`` continues from the newest)


@dataclass(frozen=True)
class PromptRecipe:
    """Counts, seeds and settings of the prompt recipe.

    Attributes:
        per_scene: frames per scene in each split (cardiac frames come ``cardiac_frames`` per cine).
        sizes: render sizes (H, W) used in turn.
        train_seed, test_seed: the splits' simulator seed bases.
        width: the head's decoder width.
        stride: the head's output stride (``PromptHead``); 0 picks 2 for a model input of 256
            pixels or more (the last block then runs at 128 px or finer, as at a 128 px input)
            and 1 below that.
        steps, batch_size, lr, weight_decay: training (AdamW, cosine decay).
        box_share, correction_share: shares of batches prompted with a box, and with a click
            followed by correction clicks.
        carry_share: share of batches prompted as propagation prompts the next frame
            (``PromptSession.propagate``) from the structure's mask moved, scaled and grown or
            shrunk a little, as a neighbouring frame's answer (the rest: one click).
        max_corrections: most correction clicks in a training batch.
        min_area: smallest structure part, in model-input pixels.
        max_clicks: the most clicks the test protocol gives a structure.
        seed: torch and sampling seed.
        threads: torch threads.
        batch: frames per encoder pass.
        randomised: share of the simulations under domain randomisation (``--randomised``).
        domain: the randomisation's ranges that differ from the defaults (``--domain``: a demo
            recipe's ``data.domain``, so the head sees the data its encoder was trained on).
        warm_start: start from the model's own prompt head instead of a fresh one (``--refine``).
    """

    per_scene: Mapping[str, int] = field(default_factory=lambda: {"train": 320, "test": 40})
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (240, 320), (400, 480), (480, 640))
    cardiac_frames: int = 8
    train_seed: int = 3
    test_seed: int = 9001
    width: int = 32
    stride: int = 0
    steps: int = 6000
    batch_size: int = 12
    lr: float = 2e-3
    weight_decay: float = 1e-4
    box_share: float = 0.25
    correction_share: float = 0.45
    carry_share: float = 0.0
    max_corrections: int = 5
    min_area: int = 6
    max_clicks: int = 20
    seed: int = 0
    threads: int = 2
    batch: int = 32
    randomised: float = 0.0
    domain: Mapping[str, Any] = field(default_factory=dict)
    warm_start: bool = False


SMOKE = PromptRecipe(
    per_scene={"train": 4, "test": 2},
    sizes=((256, 256),),
    steps=8,
    batch_size=4,
    max_clicks=3,
    cardiac_frames=2,
)


def refine(recipe: PromptRecipe) -> PromptRecipe:
    """``--refine``: train the model's own prompt head further, on a new training split (seed
    ``train_seed + 1``) with half the steps at half the peak learning rate; a box still prompts a
    quarter of the batches, correction clicks (the clicks that ``noc_85`` counts) half, carried
    masks (propagation's prompts, which correction clicks alone teach the head to copy) 0.15 and
    one click the rest."""
    return replace(
        recipe,
        warm_start=True,
        train_seed=recipe.train_seed + 1,
        steps=max(1, recipe.steps // 2),
        lr=recipe.lr / 2,
        box_share=0.25,
        correction_share=0.5,
        carry_share=0.15,
    )


def carried(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``truth`` as a neighbouring frame's answer: moved by about 4 % of its size (standard
    deviation), scaled by 0.9-1.1 about its centroid, then grown or shrunk by a pixel or kept
    (``truth`` itself if that leaves nothing)."""
    ys, xs = np.nonzero(truth)
    if len(xs) == 0:
        return truth
    w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    cx, cy = xs.mean(), ys.mean()
    scale = rng.uniform(0.9, 1.1)
    dx, dy = rng.normal(0.0, 0.04, 2) * (w, h)
    warp = np.array([[scale, 0.0, cx * (1 - scale) + dx], [0.0, scale, cy * (1 - scale) + dy]], np.float32)
    moved = cv2.warpAffine(truth.astype(np.uint8), warp, truth.shape[::-1], flags=cv2.INTER_NEAREST)
    k = int(rng.integers(-1, 2))
    if k:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(k) + 1, 2 * abs(k) + 1))
        moved = (cv2.dilate if k > 0 else cv2.erode)(moved, kernel)
    return moved.astype(bool) if moved.any() else truth


@dataclass(frozen=True)
class Structure:
    """One connected part of one labelled structure of a simulated frame."""

    name: str
    scene: str
    frame: int  # index into the split's frames
    mask: np.ndarray  # original-frame bool
    model_mask: np.ndarray  # model-input bool of the view the head is trained on
    view: int = -1  # index into the training set's stored features (-1: not stored)
    around: np.ndarray | None = None  # original-frame bool: the structure around it (``whole``)
    model_around: np.ndarray | None = None  # model-input bool of ``around`` in the trained view

    def targets(self) -> np.ndarray:
        """``[2, h, w]`` model-input targets of the head's two outputs."""
        around = self.model_mask if self.model_around is None else self.model_around
        return np.stack([self.model_mask, around])


def parts(frame: SimFrame, geometry: Any, min_area: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(name, original mask, model-input mask) of every connected part of every labelled structure."""
    labels = np.asarray(frame.result.truth.masks[frame.index])
    for value, name in sorted(frame.result.truth.labels.items()):
        count, comp = cv2.connectedComponents((labels == value).astype(np.uint8), connectivity=8)
        for c in range(1, count):
            mask = comp == c
            small = geometry.image_to_model(mask.astype(np.float32)) >= 0.5
            if small.sum() >= min_area:
                yield name, mask, small


def structures(frame: SimFrame, geometry: Any, min_area: int, index: int, view: int = -1) -> list[Structure]:
    """Every part of ``frame`` (:func:`parts`) as a :class:`Structure` with the structure around
    it (``whole``)."""
    labels = np.asarray(frame.result.truth.masks[frame.index])
    found = []
    for name, mask, small in parts(frame, geometry, min_area):
        around = whole(mask, labels)
        model_around = geometry.image_to_model(around.astype(np.float32)) >= 0.5
        found.append(Structure(name, frame.scene, index, mask, small, view, around, model_around))
    return found


def next_click(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, bool] | None:
    """The standard correction click: at the centre of the larger error region, positive where
    the structure was missed and negative on a false alarm (None when there is no error)."""
    best: tuple[float, float, float, bool] | None = None
    for region, positive in ((truth & ~pred, True), (pred & ~truth, False)):
        if not region.any():
            continue
        padded = np.pad(region.astype(np.uint8), 1)
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
        y, x = np.unravel_index(int(dist.argmax()), dist.shape)
        if best is None or dist[y, x] > best[0]:
            best = (float(dist[y, x]), float(x), float(y), positive)
    return None if best is None else (best[1], best[2], best[3])


@dataclass
class TrainSet:
    """The training split at model-input size: features per level (float16), images, targets."""

    levels: list[list[np.ndarray]] = field(default_factory=list)  # per frame, per level
    images: list[np.ndarray] = field(default_factory=list)
    structures: list[Structure] = field(default_factory=list)


def encode_split(
    predictor: Any,
    cfg: Any,
    recipe: PromptRecipe,
    split: str,
    keep_features: bool,
    log: Callable[[str], None],
) -> tuple[TrainSet, list[tuple[SimFrame, Any]]]:
    """Every frame of ``split`` preprocessed (and encoded when ``keep_features``), with its parts."""
    from engine.transforms.preprocess import preprocess

    seed = {"train": recipe.train_seed, "test": recipe.test_seed}[split]
    data = TrainSet()
    frames: list[tuple[SimFrame, Any]] = []
    t = time.monotonic()
    for batch in scene_batches(recipe, split, seed):
        _add(predictor, [(f, preprocess(f.frame, cfg)) for f in batch], data, frames, recipe, keep_features)
    log(f"{split}: {len(frames)} frames, {len(data.structures)} structures in {time.monotonic() - t:.1f} s")
    return data, frames


def _add(
    predictor: Any,
    batch: list[tuple[SimFrame, Any]],
    data: TrainSet,
    frames: list[tuple[SimFrame, Any]],
    recipe: PromptRecipe,
    keep_features: bool,
) -> None:
    """Add a batch of frames; with ``keep_features`` each frame and each structure's zoomed crop
    (``zoom_crop`` of its box, as the head sees it after a first answer) are encoded and kept."""
    from engine.heads.kinds.prompt import Prompt, zoom_crop
    from engine.transforms.preprocess import preprocess

    views: list[tuple[str, Any]] = []
    found: list[Structure] = []
    for f, p in batch:
        index = len(frames)
        frames.append((f, p))
        frame_view = len(data.levels) + len(views)
        if keep_features:
            views.append((f"{f.key}:whole", p))
        for s in structures(f, p.geometry, recipe.min_area, index, frame_view if keep_features else -1):
            found.append(s)
            crop = zoom_crop(Prompt(box=tight_box(s.mask)), s.mask.shape) if keep_features else None
            if crop is not None:
                z = preprocess(f.frame, predictor.loaded.cfg, crop)
                zoomed = [z.geometry.image_to_model(m.astype(np.float32)) >= 0.5 for m in (s.mask, s.around)]
                view = len(data.levels) + len(views)
                found.append(replace(s, model_mask=zoomed[0], model_around=zoomed[1], view=view))
                views.append((f"{f.key}:{crop}", z))
    for start in range(0, len(views), recipe.batch):
        chunk = views[start : start + recipe.batch]
        feats = predictor.features([k for k, _ in chunk], np.stack([v.image for _, v in chunk]))
        predictor.cache.clear()
        for (_, v), levels in zip(chunk, feats):
            data.levels.append([np.asarray(x, np.float16) for x in levels[:4]])
            data.images.append(v.image.astype(np.float16))
    data.structures += found


def _batch_prompts(
    head: Any,
    feats: list[Any],
    images: Any,
    targets: np.ndarray,
    mode: str,
    corrections: int,
    rng: np.random.Generator,
) -> Any:
    """The prompt maps of one training batch (``mode``: click, box, correct or carry) for the
    structures ``targets`` ``[B, h, w]``; correction clicks follow the head's first output, and a
    carried mask prompts as ``PromptSession.propagate`` prompts the next frame."""
    import torch

    from engine.heads.kinds.prompt import draw_prompt
    from engine.tasks.prompting import carried_prompt

    size = targets.shape[-2:]
    if mode == "carry":
        maps = []
        for t in targets:
            prompt = carried_prompt(carried(t, rng))
            points, mask = ((), None) if prompt is None else (prompt.points, prompt.mask)
            maps.append(draw_prompt(size, points, None, mask))
        return torch.from_numpy(np.stack(maps).astype(np.float32))
    points: list[list[tuple[float, float, bool]]] = []
    boxes: list[Any] = []
    for t in targets:
        if mode == "box":
            x0, y0, x1, y1 = tight_box(t)
            w, h = x1 - x0 + 1, y1 - y0 + 1
            jitter = rng.normal(0.0, 0.08, 4) * np.array([w, h, w, h])
            boxes.append((x0 + jitter[0], y0 + jitter[1], x1 + jitter[2], y1 + jitter[3]))
            points.append([])
            continue
        boxes.append(None)
        c = centre(t)
        if rng.random() < 0.5 or c is None:
            ys, xs = np.nonzero(t)
            j = int(rng.integers(len(xs)))
            c = (float(xs[j]), float(ys[j]))
        points.append([(c[0], c[1], True)])
    maps = np.stack([draw_prompt(size, p, b) for p, b in zip(points, boxes)])
    if mode != "correct":
        return torch.from_numpy(maps)
    for _ in range(corrections):
        with torch.no_grad():
            out = head(feats, images, torch.from_numpy(maps))
        logits = out["masks"][:, 0].numpy()
        for b, t in enumerate(targets):
            click = next_click(logits[b] > 0, t)
            if click is not None:
                points[b].append(click)
        prev = (logits > 0).astype(np.float32)  # as the app gives it: the mask last shown
        maps = np.stack([draw_prompt(size, p, None, m) for p, m in zip(points, prev)])
    return torch.from_numpy(maps.astype(np.float32))


def train_head(
    head: Any,
    data: TrainSet,
    recipe: PromptRecipe,
    log: Callable[[str], None],
    checkpoints: Path | None = None,
    resume: bool = False,
    every: int = CHECKPOINT_EVERY,
) -> float:
    """Train the prompt head on the stored features; returns the last 50 steps' mean loss.

    With ``checkpoints`` (a run folder) the head, optimiser, schedule, loss history and random
    states are saved there every ``every`` steps (``training.checkpointing``); ``resume``
    continues from the newest one, and the result is the same as a run that was never stopped.
    """
    import torch

    from engine.heads.prompt import PromptLoss
    from training.checkpointing import Checkpointer

    rng = np.random.default_rng(recipe.seed)
    loss_fn = PromptLoss()
    opt = torch.optim.AdamW(head.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=recipe.steps, pct_start=0.05)
    head.train()
    losses: list[float] = []
    first = 0
    saver = Checkpointer(checkpoints, keep=1) if checkpoints is not None else None
    if saver is not None and not resume:  # a fresh run: an earlier run's checkpoints are not its own
        shutil.rmtree(saver.root, ignore_errors=True)
    found = saver.latest() if saver is not None and resume else None
    if saver is not None and found is not None:
        saved = saver.load(found, head)
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = saved["rng"]
        torch.set_rng_state(saved["torch_rng"])
        losses, first = [float(v) for v in saved["losses"]], int(saved["step"])
        head.train()
        log(f"resumed at step {first}/{recipe.steps} from {found}")
    t = time.monotonic()
    for step in range(first, recipe.steps):
        pick = rng.integers(len(data.structures), size=recipe.batch_size)
        chosen = [data.structures[int(i)] for i in pick]
        feats = [
            torch.from_numpy(np.stack([data.levels[s.view][i] for s in chosen]).astype(np.float32))
            for i in range(4)
        ]
        feats.append(torch.zeros(0))  # level 4 is not read by the head
        images = torch.from_numpy(np.stack([data.images[s.view] for s in chosen]).astype(np.float32))
        pairs = np.stack([s.targets() for s in chosen])
        targets = pairs[:, 0]
        u = rng.random()
        mode = (
            "box"
            if u < recipe.box_share
            else "correct"
            if u < recipe.box_share + recipe.correction_share
            else "carry"
            if u < recipe.box_share + recipe.correction_share + recipe.carry_share
            else "click"
        )
        corrections = int(rng.integers(1, recipe.max_corrections + 1))
        head.eval()
        prompts = _batch_prompts(head, feats, images, targets, mode, corrections, rng)
        head.train()
        loss = loss_fn(head(feats, images, prompts), torch.from_numpy(pairs.astype(np.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if saver is not None and (step + 1) % every == 0 and step + 1 < recipe.steps:
            state = {
                "step": step + 1,
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "losses": losses[-50:],
            }
            saver.save(step + 1, head, state)
        if (step + 1) % max(1, recipe.steps // 10) == 0:
            recent = np.mean(losses[-50:])
            log(f"step {step + 1}/{recipe.steps} loss {recent:.4f} ({time.monotonic() - t:.0f} s)")
    head.eval()
    return float(np.mean(losses[-50:]))


def evaluate_prompts(
    predictor: Any,
    frames: Sequence[tuple[SimFrame, Any]],
    structures: Sequence[Structure],
    max_clicks: int,
) -> list[dict[str, Any]]:
    """The standard protocol on each structure, through the engine, in original-frame pixels:
    one click at the centre, correction clicks (each with the answer so far as the previous mask)
    until IoU 0.85 (at most ``max_clicks``), the tight box; through ``PromptSession`` as the app
    and ``echocare segment`` prompt."""
    from engine.heads.kinds.prompt import Prompt
    from engine.io.memory import ArrayCine
    from engine.tasks.prompting import PromptSession

    rows = []
    for s in structures:
        f, _ = frames[s.frame]
        cine = ArrayCine(f.frame[None], calibration=f.result.calibration(), path=f.key)
        session = PromptSession(cine, predictor)

        def run(prompt: Prompt, session: PromptSession = session) -> Any:
            return session.segment(0, prompt).result

        prompt = Prompt()
        pred = np.zeros_like(s.mask)
        ious: list[float] = []
        first: Any = None
        while len(ious) < max_clicks:
            click = next_click(pred, s.mask)
            if click is None:
                break
            prompt = prompt.with_point(*click)
            result = run(replace(prompt, mask=pred.astype(np.float32) if ious else None))
            first = first or result
            pred = result.mask
            ious.append(iou(pred, s.mask))
            if ious[-1] >= IOU_TARGET:
                break
        box = run(Prompt(box=tight_box(s.mask)))
        reached = next((k + 1 for k, v in enumerate(ious) if v >= IOU_TARGET), None)
        row = {
            "name": s.name,
            "scene": s.scene,
            "area_px": int(s.mask.sum()),
            "iou_1click": ious[0] if ious else 1.0,
            "clicks_to_85": reached if reached is not None else max_clicks,
            "reached_85": reached is not None,
            "iou_box": iou(box.mask, s.mask),
            "unsure_1click": bool(first is not None and first.unsure()),
        }
        if first is not None and s.around is not None and iou(s.around, s.mask) < DISTINCT:
            row["iou_alt_1click"] = iou(first.alternative, s.around)  # the larger reading
            row["alt_offered"] = first.offers_alternative()
        rows.append(row)
        predictor.cache.clear()
    return rows


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Overall and per-structure-name figures of :func:`evaluate_prompts` rows."""

    def figures(sel: Sequence[Mapping[str, Any]], prefix: str) -> dict[str, float]:
        if not sel:
            return {}
        return {
            f"{prefix}miou_1click": float(np.mean([r["iou_1click"] for r in sel])),
            f"{prefix}noc_85": float(np.mean([r["clicks_to_85"] for r in sel])),
            f"{prefix}reached_85": float(np.mean([r["reached_85"] for r in sel])),
            f"{prefix}miou_box": float(np.mean([r["iou_box"] for r in sel])),
        }

    out = {**figures(rows, ""), "structures": float(len(rows))}
    nested = [r for r in rows if "iou_alt_1click" in r]
    if nested:  # structures inside a larger one: the first click's alternative against that one
        out["nested"] = float(len(nested))
        out["miou_alt_1click"] = float(np.mean([r["iou_alt_1click"] for r in nested]))
        out["alt_offered"] = float(np.mean([r["alt_offered"] for r in nested]))
    unsure = [r for r in rows if r.get("unsure_1click")]
    if unsure:  # first answers the head called unsure (PromptResult.unsure): how many, how good
        out["unsure_1click"] = float(len(unsure))
        out["miou_1click_unsure"] = float(np.mean([r["iou_1click"] for r in unsure]))
    for name in sorted({r["name"] for r in rows}):
        out.update(figures([r for r in rows if r["name"] == name], f"{name}."))
    return out


def head_stride(input_size: Sequence[int]) -> int:
    """The prompt head's output stride for a model input of ``input_size`` (H, W): 2 from 256
    pixels up, so the decoder's last block stays at 128 px or finer, else 1."""
    return 2 if min(int(v) for v in input_size) >= 256 else 1


def run_recipe(model: Path, out: Path, recipe: PromptRecipe, command: str = "", resume: bool = False) -> Path:
    """The whole recipe; returns the written model folder ``out/<name>``.

    ``resume`` continues the training from ``out``'s newest checkpoint (the features are
    computed again); a folder started with another recipe or model is refused (ConfigError).
    """
    import torch

    from engine.config import HeadCfg
    from engine.config_files import to_dict
    from engine.errors import ConfigError
    from engine.factory import create_model, load_model
    from engine.inference import Predictor

    log = _logger(out)
    start = time.monotonic()
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    source = load_model(model, device="cpu")
    base = source.cfg
    stride = recipe.stride or head_stride(base.input_size)
    params = {"width": recipe.width, "levels": [3, 2, 1, 0], "stride": stride}
    head_cfg = HeadCfg("prompt", "prompt", (), params)
    new_cfg = replace(base, heads=(*(h for h in base.heads if h.name != "prompt"), head_cfg))
    head = create_model(new_cfg).heads["prompt"]
    if recipe.warm_start:
        own = base.heads_by_name.get("prompt")
        if own is None or dict(own.params) != params:
            found = "none" if own is None else f"one with {dict(own.params)}"
            raise ConfigError(
                Path(source.folder), f"--refine needs a prompt head with {params}; it has {found}"
            )
        head.load_state_dict(source.module.heads["prompt"].state_dict())
    predictor = Predictor(source, backend="torch", device="cpu", precision="fp32", batch_size=recipe.batch)
    claim(out, {"recipe": to_dict(recipe), "model": source.ref.sha256}, resume)
    log(f"extending {base.name} v{base.version} ({source.folder}) on {extend.machine()}")
    data, _ = encode_split(predictor, base, recipe, "train", True, log)
    loss = train_head(head, data, recipe, log, out, resume)
    fit_minutes = (time.monotonic() - start) / 60
    notes = {
        "added": "prompt head (class-agnostic click/box/previous-mask segmentation) trained on the frozen "
        f"encoder of {base.name} v{base.version}; the encoder and the other heads are unchanged",
        "reproduce": command or f"python -m training.recipes.prompt --model {model} --out DIR",
        "recipe": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(recipe).items()},
        "machine": extend.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "structures": {"train": len(data.structures)},
        "simulator_seeds": f"(split_seed * 10 + scene) * {SEED_STRIDE} + i, scenes in order {list(SCENES)}; "
        f"train {recipe.train_seed}, test {recipe.test_seed} (the demo recipe trained on 0)",
        "final_loss": round(loss, 6),
        "fit_minutes": round(fit_minutes, 2),
    }
    del data
    folder = out / base.name
    if folder.resolve() == Path(source.folder).resolve():
        raise ConfigError(folder, "the output folder is the model being extended; choose another --out")
    extend.write_model(Path(source.folder), folder, head, head_cfg, {}, "prompt_head", notes)
    kept = extend.check_unchanged(Path(source.folder), folder, "prompt")
    log(f"wrote {folder}: {kept} tensors of {base.name} v{base.version} unchanged, prompt head added")

    loaded = load_model(folder, device="cpu")
    written = Predictor(loaded, backend="torch", device="cpu", precision="fp32", batch_size=recipe.batch)
    test, frames = encode_split(written, loaded.cfg, recipe, "test", False, log)
    rows = evaluate_prompts(written, frames, test.structures, recipe.max_clicks)
    metrics = summary(rows)
    minutes = (time.monotonic() - start) / 60
    notes.update({"total_minutes": round(minutes, 2), "test_structures": len(rows)})
    card = extend.write_model(Path(source.folder), folder, head, head_cfg, {}, "prompt_head", notes)
    own = {f"test.prompt.{k}": round(float(v), 6) for k, v in sorted(metrics.items()) if math.isfinite(v)}
    old = {k: v for k, v in loaded.card.metrics.items() if not k.startswith("test.prompt.")}
    card["metrics"] = dict(sorted({**old, **own}.items()))
    extend.rewrite_card(folder, card)
    (out / "prompt_metrics.json").write_text(
        json.dumps({"metrics": metrics, "rows": rows}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    log(" ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if "." not in k))
    log(f"done in {minutes:.1f} min: {folder}")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    return extend.main(
        argv,
        "training.recipes.prompt",
        __doc__ or "",
        (PromptRecipe(), SMOKE),
        run_recipe,
        resumable=True,
        variants={
            "refine": ("train the model's own prompt head further (a new split, half the steps)", refine)
        },
    )


if __name__ == "__main__":
    sys.exit(main())
