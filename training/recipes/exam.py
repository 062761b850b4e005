"""``python -m training.recipes.exam --model resources/models/echocare-demo --out DIR [--smoke]``:
add the exam head, its out-of-distribution score and the held-out calibration to a model.

The model's encoder and every head it has stay bit-identical (their stored tensors are copied
as they are); an ``exam`` head is added (an existing one is replaced), trained on the frozen
encoder's features:

1. Simulate every scene (``training.sim``) at several sizes with each scene's own probe, in
   three splits with their own simulator seeds ``(split_seed * 10 + scene) * 1000003 + i``:
   train (``train_seed``), validation (``val_seed``) and test (``test_seed``, the demo recipe's
   held-out seed: never used by any training). Frames go through the engine's preprocessing
   and ``Predictor``, exactly as ``echocare infer`` feeds the model; the features of the
   training frames are computed once and kept in memory.
2. Train the exam head's MLP on the pooled feature statistics (cross-entropy, class-balanced),
   then fit its class-conditional Mahalanobis density (tied covariance, Ledoit-Wolf shrinkage).
3. On the validation split: the exam temperature (NLL), ``ood_threshold`` (the ``coverage``
   quantile of in-distribution scores) and ``min_prob`` (the ``1 - coverage`` quantile of the
   organ confidence, at most ``min_prob_cap``); the classification head's temperature and a
   threshold per label (F1-maximising, on lesion frames); a detection threshold per label
   (F1-maximising at IoU 0.5, on organ frames).
4. Write ``DIR/<name>/{model.safetensors, card.json}`` in the input card's layout with the
   exam head, ``exams`` (where each task, label and measurement applies) and ``calibration``.
5. Score the written model through the engine: exam accuracy, false-unknown rate and ECE on
   the test split; the bundled samples through ``run_tasks``; and the share of non-ultrasound
   inputs (``training.data.non_us``, read with ``engine.io``) called ``unknown``. Under
   ``--randomised`` the test split is drawn with the same share; the exam figures of the
   unrandomised test split (the held-out set every model is compared on) follow, with the
   suffix ``_unrandomised``.

``--smoke`` runs every stage with tiny counts (the test uses it); ``--install DEST`` copies
the finished model files to ``DEST``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from training.recipes import extend
from training.recipes.config import SCENES
from training.recipes.data import SEED_STRIDE, simulation
from training.recipes.demo import _logger
from training.recipes.labels import RANDOMISED_UNTAUGHT

# the exam head's labels (leaves of the exam tree, "region/organ/view"), in this order
LEAVES = (
    "abdomen/abdominal organs/survey",
    "breast/breast/lesion",
    "cardiac/left ventricle/apical",
    "obstetric/fetal head/transthalamic",
    "vascular/carotid/longitudinal",
)
LEAF_OF_SCENE = {
    "organs": LEAVES[0],
    "enhance": LEAVES[0],
    "lesion": LEAVES[1],
    "cardiac": LEAVES[2],
    "fetal_head": LEAVES[3],
    "vessels": LEAVES[4],
}
# where each task, label and measurement applies (the card's ``exams``); entries naming a
# head, label or measurement the model lacks are left out
APPLICABILITY: dict[str, tuple[str, ...]] = {
    "exam": ("any",),
    "classification": ("breast",),
    "segmentation": ("known",),
    "segmentation:lesion": ("breast",),
    "segmentation:vessel": ("vascular",),
    "segmentation:lv_cavity": ("left ventricle",),
    "segmentation:lv_myocardium": ("left ventricle",),
    "segmentation:head": ("fetal head",),
    "detection": ("abdomen",),
    "landmarks": ("known",),
    "landmarks:bpd_a": ("fetal head",),
    "landmarks:bpd_b": ("fetal head",),
    "landmarks:ofd_a": ("fetal head",),
    "landmarks:ofd_b": ("fetal head",),
    "landmarks:lv_apex": ("left ventricle",),
    "landmarks:lv_base": ("left ventricle",),
    "regression": ("fetal head", "left ventricle"),
    "regression:hc_mm": ("fetal head",),
    "regression:bpd_mm": ("fetal head",),
    "measurement:BPD": ("fetal head",),
    "measurement:OFD": ("fetal head",),
    "measurement:HC": ("fetal head",),
    "measurement:LV length": ("left ventricle",),
    "measurement:EF": ("left ventricle",),
    "enhancement": ("any",),
    "report": ("any",),
}
# the bundled samples and the organ each must be recognised as
SAMPLES = {
    "breast_lesion_cine.dcm": "breast",
    "cardiac_lv_cine.dcm": "left ventricle",
    "fetal_head.dcm": "fetal head",
}
ROOT = Path(__file__).resolve().parents[2]
ECE_BINS = 15


@dataclass(frozen=True)
class ExamRecipe:
    """Counts, seeds and settings of the exam recipe.

    Attributes:
        per_scene: frames per scene in each split (cardiac frames come ``cardiac_frames``
            per simulated cine).
        sizes: render sizes (H, W) used in turn, each scene with its own probe.
        train_seed, val_seed, test_seed: the splits' simulator seed bases.
        hidden: the exam MLP's width.
        levels: the encoder levels whose channel means and standard deviations the head pools.
        epochs, batch_size, lr, weight_decay: MLP training (AdamW, cosine decay).
        coverage: share of in-distribution validation frames kept known by each unknown rule.
        min_prob_cap: the highest ``min_prob`` the validation quantile may give.
        detection_floor: lowest detection score considered when fitting thresholds.
        non_us_seed: seed of the generated non-ultrasound images.
        seed: torch seed of the head's initialisation and batch order.
        threads: torch threads.
        batch: frames per encoder pass.
        randomised: share of the simulations under domain randomisation (``--randomised``).
        domain: the randomisation's ranges that differ from the defaults (``--domain``: a demo
            recipe's ``data.domain``, so a head sees the data its encoder was trained on).
    """

    per_scene: Mapping[str, int] = field(default_factory=lambda: {"train": 400, "val": 150, "test": 150})
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (240, 320), (400, 480), (480, 640))
    cardiac_frames: int = 8
    train_seed: int = 1
    val_seed: int = 2
    test_seed: int = 9001
    hidden: int = 64
    levels: tuple[int, ...] = (0, 1, 2, 3)
    epochs: int = 60
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    coverage: float = 0.995
    min_prob_cap: float = 0.5
    detection_floor: float = 0.05
    non_us_seed: int = 1
    seed: int = 0
    threads: int = 2
    batch: int = 32
    randomised: float = 0.0
    domain: Mapping[str, Any] = field(default_factory=dict)


SMOKE = ExamRecipe(per_scene={"train": 8, "val": 4, "test": 4}, sizes=((256, 256), (240, 320)), epochs=40)


@dataclass(frozen=True)
class SimFrame:
    """One simulated frame: the scene, its original pixels and the simulation it came from."""

    scene: str
    frame: np.ndarray
    index: int
    result: Any
    key: str


def sim_frames(
    scene: str,
    count: int,
    base_seed: int,
    sizes: Sequence[tuple[int, int]],
    cardiac_frames: int,
    randomised: float = 0.0,
    ranges: Any = None,
) -> Iterator[SimFrame]:
    """``count`` frames of ``scene`` (simulator seeds ``base_seed * SEED_STRIDE + i``, sizes in turn;
    a share ``randomised`` under domain randomisation with ``ranges``, as
    ``training.recipes.data.simulation``)."""
    i = n = 0
    while n < count:
        seed = base_seed * SEED_STRIDE + i
        result = simulation(scene, seed, sizes[i % len(sizes)], randomised, ranges)
        h, w = result.frames.shape[1:]
        total = len(result.frames)
        picks = (
            np.linspace(0, total - 1, min(total, cardiac_frames)).round().astype(int) if total > 1 else [0]
        )
        for f in picks[: count - n]:
            yield SimFrame(scene, result.frames[int(f)], int(f), result, f"{scene}:{seed}:{int(f)}:{h}x{w}")
            n += 1
        i += 1


def scene_batches(recipe: Any, split: str, seed: int) -> Iterator[list[SimFrame]]:
    """A head recipe's frames of one split, scene by scene (simulator seeds ``seed * 10 + scene``),
    in batches of ``recipe.batch``; ``recipe`` has ``per_scene``, ``sizes``, ``cardiac_frames``,
    ``randomised``, ``domain`` and ``batch`` (the exam and prompt recipes)."""
    from training.sim.domain import ranges_with

    ranges = ranges_with(recipe.domain) if recipe.domain else None
    for k, scene in enumerate(SCENES):
        frames = sim_frames(
            scene,
            recipe.per_scene[split],
            seed * 10 + k,
            recipe.sizes,
            recipe.cardiac_frames,
            recipe.randomised,
            ranges,
        )
        batch: list[SimFrame] = []
        for f in frames:
            batch.append(f)
            if len(batch) == recipe.batch:
                yield batch
                batch = []
        if batch:
            yield batch


def split_batches(recipe: ExamRecipe, split: str) -> Iterator[list[SimFrame]]:
    """The frames of one split, scene by scene, in batches of ``recipe.batch``."""
    seed = {"train": recipe.train_seed, "val": recipe.val_seed, "test": recipe.test_seed}[split]
    return scene_batches(recipe, split, seed)


@dataclass
class SplitData:
    """What one split yields: pooled statistics, exam logits, and the other heads' held-out evidence."""

    stats: list[Any] = field(default_factory=list)  # torch [B, D] per batch
    leaves: list[int] = field(default_factory=list)
    scenes: list[str] = field(default_factory=list)
    exam_logits: list[np.ndarray] = field(default_factory=list)
    exam_results: list[Any] = field(default_factory=list)
    cls_logits: list[np.ndarray] = field(default_factory=list)
    cls_truth: list[int] = field(default_factory=list)
    det_hits: dict[int, list[tuple[float, bool]]] = field(default_factory=dict)
    det_truth: dict[int, int] = field(default_factory=dict)
    levels: dict[int, list[Any]] = field(default_factory=dict)


class Heads:
    """The held-out evidence of the classification and detection heads, when the model has them
    in the simulator's label space (classification: the lesion classes; detection: organ boxes)."""

    def __init__(self, cfg: Any, ref: Any, floor: float, log: Callable[[str], None]) -> None:
        from engine.tasks.detect import DetectTask
        from training.sim.scenes.lesion import CLASS_NAMES

        heads = cfg.heads_by_name
        self.cls_labels: tuple[str, ...] = ()
        if "classification" in heads:
            labels = heads["classification"].labels
            if set(labels) <= set(CLASS_NAMES):
                self.cls_labels = labels
            else:
                log(f"classification labels {list(labels)} are not the lesion scene's; not calibrated")
        self.det_labels: tuple[str, ...] = heads["detection"].labels if "detection" in heads else ()
        self.detect = DetectTask(cfg, ref, score_threshold=floor) if self.det_labels else None

    def for_scene(self, scene: str) -> tuple[str, ...]:
        if scene == "lesion" and self.cls_labels:
            return ("classification",)
        if scene == "organs" and self.detect is not None:
            return ("detection",)
        return ()

    def add(self, data: SplitData, frames: Sequence[SimFrame], preps: Sequence[Any], outputs: Any) -> None:
        """Record this batch's classification logits or detection hits against the simulator's truth."""
        from engine.tasks.base import FrameContext
        from training.recipes.evaluate import match_boxes

        if "classification" in outputs:
            for b, f in enumerate(frames):
                if f.result.truth.domain and "classification" in RANDOMISED_UNTAUGHT.get(f.scene, ()):
                    continue  # no class on a randomised lesion (its target in training is ignored too)
                data.cls_logits.append(np.asarray(outputs["classification"]["logits"][b], np.float64))
                data.cls_truth.append(self.cls_labels.index(f.result.truth.class_name))
        if "detection" in outputs and self.detect is not None:
            for b, (f, p) in enumerate(zip(frames, preps)):
                one = {k: v[b] for k, v in outputs["detection"].items()}
                ctx = FrameContext(f.index, f.frame, p.geometry, f.result.calibration())
                found = self.detect.postprocess(one, ctx)
                truth = f.result.truth
                names = [truth.box_classes[i] for i in truth.box_labels[f.index]]
                keep = [j for j, n in enumerate(names) if n in self.det_labels]
                labels = np.array([self.det_labels.index(names[j]) for j in keep], np.int64)
                boxes = np.asarray(truth.boxes[f.index], np.float64).reshape(-1, 4)[keep]
                for c in labels.tolist():
                    data.det_truth[c] = data.det_truth.get(c, 0) + 1
                hits = match_boxes(found.boxes, found.scores, found.label_ids, boxes, labels)
                for c, h in hits.items():
                    data.det_hits.setdefault(c, []).extend(h)


def _encode(predictor: Any, cfg: Any, frames: Sequence[SimFrame], heads: Sequence[str]) -> tuple[Any, ...]:
    """Preprocess as inference does; per level the features ``[B, C, H, W]``, and the heads' outputs."""
    import torch

    from engine.transforms.preprocess import preprocess

    preps = [preprocess(f.frame, cfg) for f in frames]
    images = np.stack([p.image for p in preps])
    keys = [f.key for f in frames]
    feats = predictor.features(keys, images)
    outputs = predictor.run_heads(keys, images, heads) if heads else {}
    predictor.cache.clear()
    levels = [torch.from_numpy(np.stack([f[i] for f in feats])) for i in range(len(feats[0]))]
    return levels, outputs, preps


def fit_pass(
    predictor: Any,
    cfg: Any,
    head: Any,
    recipe: ExamRecipe,
    split: str,
    heads: Heads | None,
    keep_levels: bool,
    log: Callable[[str], None],
) -> SplitData:
    """One split through the model being extended: pooled statistics (and levels), other heads' evidence."""
    import torch

    data = SplitData()
    t = time.monotonic()
    for frames in split_batches(recipe, split):
        wanted = heads.for_scene(frames[0].scene) if heads else ()
        levels, outputs, preps = _encode(predictor, cfg, frames, wanted)
        with torch.no_grad():
            data.stats.append(head.stats(levels))
        if keep_levels:
            for i in head.stats.levels:
                data.levels.setdefault(i, []).append(levels[i])
        data.leaves += [LEAVES.index(LEAF_OF_SCENE[f.scene]) for f in frames]
        data.scenes += [f.scene for f in frames]
        if heads is not None:
            heads.add(data, frames, preps, outputs)
    log(f"{split}: {len(data.leaves)} frames encoded in {time.monotonic() - t:.1f} s")
    return data


def test_pass(loaded: Any, predictor: Any, recipe: ExamRecipe, log: Callable[[str], None]) -> SplitData:
    """The test split through the written model: the exam task's results, raw logits, other heads."""
    from engine.heads.kinds.exam import ExamTask
    from engine.tasks.base import FrameContext

    cfg = loaded.cfg
    task = ExamTask(cfg, loaded.ref)
    heads = Heads(cfg, loaded.ref, recipe.detection_floor, log)
    data = SplitData()
    t = time.monotonic()
    for frames in split_batches(recipe, "test"):
        wanted = ("exam", *heads.for_scene(frames[0].scene))
        _, outputs, preps = _encode(predictor, cfg, frames, wanted)
        for b, (f, p) in enumerate(zip(frames, preps)):
            one = {k: v[b] for k, v in outputs["exam"].items()}
            data.exam_logits.append(np.asarray(one["logits"], np.float64))
            data.exam_results.append(
                task.postprocess(one, FrameContext(f.index, f.frame, p.geometry, f.result.calibration()))
            )
        data.leaves += [LEAVES.index(LEAF_OF_SCENE[f.scene]) for f in frames]
        data.scenes += [f.scene for f in frames]
        heads.add(data, frames, preps, outputs)
    log(f"test: {len(data.leaves)} frames through the written model in {time.monotonic() - t:.1f} s")
    return data


def train_head(head: Any, x: Any, y: Any, recipe: ExamRecipe, log: Callable[[str], None]) -> float:
    """Train the head's MLP on pooled statistics ``x`` ``[N, D]`` (class-balanced cross-entropy);
    returns the final training accuracy."""
    import torch
    from torch.nn import functional as nnf

    torch.manual_seed(recipe.seed)
    order = torch.Generator().manual_seed(recipe.seed)
    k = len(LEAVES)
    counts = torch.bincount(y, minlength=k).float()
    weight = torch.where(counts > 0, counts.sum() / (k * counts.clamp_min(1)), torch.zeros_like(counts))
    params = list(head.mlp.parameters())
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(y) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps_per_epoch)
    head.train()
    for epoch in range(recipe.epochs):
        perm = torch.randperm(len(y), generator=order)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * recipe.batch_size : (s + 1) * recipe.batch_size]
            loss = nnf.cross_entropy(head.mlp(x[idx]), y[idx], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if epoch % 10 == 0 or epoch == recipe.epochs - 1:
            log(f"exam head epoch {epoch + 1}/{recipe.epochs} loss {total / len(y):.4f}")
    head.eval()
    with torch.no_grad():
        return float((head.mlp(x).argmax(1) == y).float().mean())


def organ_confidence(probs: np.ndarray) -> np.ndarray:
    """Per row of leaf probabilities ``[N, K]``, the probability of the likeliest organ."""
    from engine.heads.kinds.exam import split_path

    organs = sorted({split_path(leaf)[:2] for leaf in LEAVES})
    member = np.array([[split_path(leaf)[:2] == o for o in organs] for leaf in LEAVES], np.float64)
    return (np.asarray(probs, np.float64) @ member).max(axis=1)


def fit_calibration(
    head: Any, train: SplitData, val: SplitData, heads: Heads, recipe: ExamRecipe, log: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """Fit the density on the training features and every calibration on the validation split."""
    import torch

    from training.recipes import calibration as cal

    x_train = torch.cat(train.stats)
    y_train = torch.tensor(train.leaves)
    shrinkage = cal.ledoit_wolf_shrinkage(x_train.double().numpy(), y_train.numpy())
    levels = [torch.cat(train.levels[i]) if i in train.levels else None for i in range(max(train.levels) + 1)]
    head.fit_density(levels, y_train, shrinkage=shrinkage)
    train.levels.clear()
    x_val = torch.cat(val.stats)
    y_val = np.array(val.leaves)
    with torch.no_grad():
        logits = head.mlp(x_val).double().numpy()
        ood = head.distance(x_val).double().numpy()
    temperature = cal.fit_temperature(logits, y_val)
    confidence = organ_confidence(cal.softmax(logits, temperature))
    exam = {
        "temperature": round(temperature, 6),
        "ood_threshold": round(float(np.quantile(ood, recipe.coverage)), 6),
        "min_prob": round(float(min(recipe.min_prob_cap, np.quantile(confidence, 1 - recipe.coverage))), 6),
        "ood_score": "class-conditional Mahalanobis distance per dimension (tied covariance, Ledoit-Wolf "
        f"shrinkage {shrinkage:.5f}) of the channel means and standard deviations of encoder levels "
        f"{list(head.stats.levels)}",
        "shrinkage": round(shrinkage, 6),
        "rule": "temperature: NLL on the validation split; ood_threshold: its "
        f"{recipe.coverage:.3g} quantile of in-distribution scores; min_prob: its "
        f"{1 - recipe.coverage:.3g} quantile of the organ confidence, at most {recipe.min_prob_cap}",
        "validation_frames": len(y_val),
        "validation_accuracy": round(float(np.mean(logits.argmax(1) == y_val)), 6),
    }
    log(f"exam calibration {json.dumps({k: v for k, v in exam.items() if k not in ('ood_score', 'rule')})}")
    out: dict[str, dict[str, Any]] = {"exam": exam}
    if val.cls_logits:
        c_logits, c_truth = np.stack(val.cls_logits), np.array(val.cls_truth)
        c_t, c_bias = cal.fit_scaling(c_logits, c_truth)
        probs = cal.softmax(c_logits, c_t, c_bias)
        thresholds = {}
        for j, label in enumerate(heads.cls_labels):
            thr, _ = cal.f1_threshold(list(zip(probs[:, j], c_truth == j)), int(np.sum(c_truth == j)))
            if thr is not None:
                thresholds[label] = round(thr, 6)
        out["classification"] = {
            "temperature": round(c_t, 6),
            "bias": [round(float(b), 6) for b in c_bias],
            "thresholds": thresholds,
            "rule": "temperature and per-class bias (bias-corrected temperature scaling): NLL on the "
            "validation split's lesion frames; thresholds: per label the calibrated probability "
            "maximising F1 (label against the rest) on them",
            "validation_frames": len(c_truth),
        }
        bias = out["classification"]["bias"]
        log(f"classification calibration T={c_t:.4f} bias {bias} thresholds {thresholds}")
    if heads.det_labels:
        thresholds, f1s = {}, {}
        for c, label in enumerate(heads.det_labels):
            thr, f1 = cal.f1_threshold(
                val.det_hits.get(c, []), val.det_truth.get(c, 0), recipe.detection_floor
            )
            if thr is not None:
                thresholds[label], f1s[label] = round(thr, 6), round(f1, 6)
        out["detection"] = {
            "thresholds": thresholds,
            "validation_f1": f1s,
            "rule": "per label the box score maximising F1 (IoU >= 0.5, greedy by score) on the validation "
            f"split's organ frames, from boxes scoring at least {recipe.detection_floor}",
            "validation_frames": val.scenes.count("organs"),
        }
        log(f"detection thresholds {thresholds}")
    return out


def applicability(cfg: Any) -> dict[str, list[str]]:
    """``APPLICABILITY`` restricted to the model's heads, labels and measurements."""
    heads = cfg.heads_by_name
    measurements = {m["name"] for m in cfg.measurements}
    out = {}
    for key, scopes in APPLICABILITY.items():
        task, _, name = key.partition(":")
        if task == "measurement":
            ok = name in measurements
        elif task == "exam":
            ok = True
        else:
            ok = task in heads and (not name or name in heads[task].labels)
        if ok:
            out[key] = list(scopes)
    return out


def card_json(
    raw: Mapping[str, Any], exam_head: Mapping[str, Any], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The input card (either layout) with the exam head first and ``extra`` model fields
    (``exams``, ``calibration``) beside ``measurements``."""
    return extend.card_json(raw, exam_head, extra, first=True)


def write_model(
    source: Path, folder: Path, head: Any, head_cfg: Any, extra: Mapping[str, Any], notes: Mapping[str, Any]
) -> dict[str, Any]:
    """Write the extended model: the source's stored tensors unchanged plus the exam head's."""
    return extend.write_model(source, folder, head, head_cfg, extra, "exam_head", notes, first=True)


def check_unchanged(source: Path, folder: Path) -> int:
    """Every tensor of the source model is stored bit-identically in the new one; returns their count."""
    return extend.check_unchanged(source, folder, "exam")


def exam_metrics(test: SplitData, cal: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Exam figures of the test split, and the per-scene breakdown."""
    from engine.heads.kinds.exam import split_path
    from training.recipes import calibration as calib

    truth = [split_path(LEAVES[k]) for k in test.leaves]
    results = test.exam_results
    top = [r._top_path() for r in results]
    logits = np.stack(test.exam_logits)
    leaves = np.array(test.leaves)

    def rate(pairs: Sequence[bool]) -> float:
        return float(np.mean(pairs)) if len(pairs) else math.nan

    metrics = {
        "exam.organ_accuracy": rate([p[:2] == t[:2] for p, t in zip(top, truth)]),
        "exam.region_accuracy": rate([p[:1] == t[:1] for p, t in zip(top, truth)]),
        "exam.accuracy": rate([p == t for p, t in zip(top, truth)]),
        "exam.false_unknown_rate": rate([r.unknown for r in results]),
        "exam.known_and_correct": rate(
            [not r.unknown and r.path[:2] == t[:2] for r, t in zip(results, truth)]
        ),
        "exam.ece_before": calib.expected_calibration_error(calib.softmax(logits), leaves, ECE_BINS),
        "exam.ece_after": calib.expected_calibration_error(
            calib.softmax(logits, cal["exam"]["temperature"]), leaves, ECE_BINS
        ),
    }
    per_scene = {}
    for scene in SCENES:
        idx = [i for i, s in enumerate(test.scenes) if s == scene]
        per_scene[scene] = {
            "frames": len(idx),
            "organ_accuracy": rate([top[i][:2] == truth[i][:2] for i in idx]),
            "false_unknown_rate": rate([results[i].unknown for i in idx]),
            "max_ood": float(max((results[i].ood for i in idx), default=math.nan)),
        }
    return metrics, per_scene


def head_metrics(test: SplitData, heads: Heads, cal: Mapping[str, Any]) -> dict[str, float]:
    """Classification ECE and accuracy (most probable class) before and after calibration;
    detection F1 at the fitted thresholds and at the task's default 0.3 (test split)."""
    from training.recipes import calibration as calib

    out: dict[str, float] = {}
    if test.cls_logits and "classification" in cal:
        logits, truth = np.stack(test.cls_logits), np.array(test.cls_truth)
        out["classification.ece_before"] = calib.expected_calibration_error(
            calib.softmax(logits), truth, ECE_BINS
        )
        c = cal["classification"]
        after = calib.softmax(logits, c["temperature"], c.get("bias"))
        out["classification.ece_after"] = calib.expected_calibration_error(after, truth, ECE_BINS)
        out["classification.accuracy_before"] = float(np.mean(logits.argmax(1) == truth))
        out["classification.accuracy_after"] = float(np.mean(after.argmax(1) == truth))
    if "detection" in cal:
        for c, label in enumerate(heads.det_labels):
            n, hits = test.det_truth.get(c, 0), test.det_hits.get(c, [])
            thr = cal["detection"]["thresholds"].get(label)
            if n and thr is not None:
                out[f"detection.f1_{label}"] = calib.f1_at(hits, n, thr)
                out[f"detection.f1_{label}_at_0.3"] = calib.f1_at(hits, n, 0.3)
    return out


def _exam_of(path: Path, loaded: Any, predictor: Any) -> Any:
    """The cine-level exam of a file, through the product's reader and runner."""
    from engine.io.open import open_cine
    from engine.tasks.runner import run_tasks

    with open_cine(path) as cine:
        return run_tasks(cine, predictor, loaded.cfg, loaded.ref, tasks=["exam"], batch_size=16).exam


def sample_checks(loaded: Any, predictor: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Each bundled sample's exam: ``run_tasks(..., tasks=["exam"])`` on the file read by ``engine.io``."""
    out = {}
    for name, organ in SAMPLES.items():
        exam = _exam_of(ROOT / "resources" / "samples" / name, loaded, predictor)
        out[name] = {
            "expected": organ,
            "exam": exam.label(),
            "organ": exam.organ,
            "confidence": round(exam.confidence, 4),
            "ood": round(exam.ood, 4),
            "unknown": exam.unknown,
            "correct": exam.organ == organ and not exam.unknown,
        }
        log(f"sample {name}: {exam.label()} (confidence {exam.confidence:.3f}, ood {exam.ood:.3f})")
    return out


def non_us_checks(
    loaded: Any, predictor: Any, folder: Path, seed: int, log: Callable[[str], None]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The share of non-ultrasound inputs whose exam is unknown, overall and per category."""
    from engine.errors import EchoCareError
    from training.data.non_us import non_us_items

    rows = []
    for item in non_us_items(folder, seed):
        try:
            exam = _exam_of(item.path, loaded, predictor)
        except EchoCareError as err:
            rows.append(
                {"category": item.category, "name": item.name, "readable": False, "error": err.one_line()}
            )
            continue
        rows.append(
            {
                "category": item.category,
                "name": item.name,
                "readable": True,
                "unknown": exam.unknown,
                "ood": round(exam.ood, 4),
                "exam": exam.label() if not exam.unknown else exam.reason,
            }
        )
    read = [r for r in rows if r["readable"]]
    metrics = {
        "exam.non_us_unknown_rate": float(np.mean([r["unknown"] for r in read])),
        "exam.non_us_inputs": len(read),
    }
    for category in sorted({r["category"] for r in read}):
        these = [r["unknown"] for r in read if r["category"] == category]
        metrics[f"exam.non_us_unknown_rate.{category}"] = float(np.mean(these))
    log(
        f"non-ultrasound: {sum(r['unknown'] for r in read)}/{len(read)} unknown "
        f"({len(rows) - len(read)} files the reader refuses left out)"
    )
    return metrics, rows


def run_recipe(model: Path, out: Path, recipe: ExamRecipe, command: str = "") -> Path:
    """The whole recipe; returns the written model folder ``out/<name>``."""
    import torch

    from engine.config import HeadCfg
    from engine.errors import ConfigError
    from engine.factory import create_model, load_model
    from engine.inference import Predictor

    log = _logger(out)
    start = time.monotonic()
    torch.set_num_threads(recipe.threads)
    source = load_model(model, device="cpu")
    base = source.cfg
    head_cfg = HeadCfg(
        "exam",
        "exam",
        LEAVES,
        {"num_classes": len(LEAVES), "hidden": recipe.hidden, "levels": list(recipe.levels)},
    )
    others = tuple(h for h in base.heads if h.kind != "exam")
    torch.manual_seed(recipe.seed)
    new_cfg = replace(base, heads=(head_cfg, *others))
    head = create_model(new_cfg).heads["exam"].eval()
    predictor = Predictor(source, backend="torch", device="cpu", precision="fp32", batch_size=recipe.batch)
    heads = Heads(base, source.ref, recipe.detection_floor, log)
    log(f"extending {source.cfg.name} v{source.cfg.version} ({source.folder}) on {extend.machine()}")
    train = fit_pass(predictor, base, head, recipe, "train", None, True, log)
    val = fit_pass(predictor, base, head, recipe, "val", heads, False, log)
    x_train, y_train = torch.cat(train.stats), torch.tensor(train.leaves)
    accuracy = train_head(head, x_train, y_train, recipe, log)
    log(f"exam head trained: training accuracy {accuracy:.4f}")
    calibration = fit_calibration(head, train, val, heads, recipe, log)
    fit_minutes = (time.monotonic() - start) / 60
    notes = {
        "added": "exam head (hierarchical exam classifier with a Mahalanobis out-of-distribution score) and "
        "held-out calibration of the exam, classification and detection heads, fitted on top of the "
        f"model's {base.name} v{base.version} weights; the encoder and the other heads are unchanged",
        "reproduce": command or f"python -m training.recipes.exam --model {model} --out DIR",
        "recipe": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(recipe).items()},
        "machine": extend.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "frames": {"train": len(train.leaves), "val": len(val.leaves)},
        "simulator_seeds": f"(split_seed * 10 + scene) * {SEED_STRIDE} + i, scenes in order {list(SCENES)}; "
        f"train {recipe.train_seed}, validation {recipe.val_seed}, test {recipe.test_seed} (the demo "
        "recipe trained on 0 and tested on 9001)",
        "training_accuracy": round(accuracy, 6),
    }
    extra = {"exams": applicability(new_cfg), "calibration": calibration}
    folder = out / base.name
    if folder.resolve() == Path(source.folder).resolve():
        raise ConfigError(folder, "the output folder is the model being extended; choose another --out")
    write_model(
        Path(source.folder), folder, head, head_cfg, extra, {**notes, "fit_minutes": round(fit_minutes, 2)}
    )
    kept = check_unchanged(Path(source.folder), folder)
    log(f"wrote {folder}: {kept} tensors of {base.name} v{base.version} unchanged, exam head added")

    loaded = load_model(folder, device="cpu")
    written = Predictor(loaded, backend="torch", device="cpu", precision="fp32", batch_size=recipe.batch)
    test = test_pass(loaded, written, recipe, log)
    metrics, per_scene = exam_metrics(test, calibration)
    metrics.update(
        head_metrics(test, Heads(loaded.cfg, loaded.ref, recipe.detection_floor, log), calibration)
    )
    if recipe.randomised > 0:  # also the test split as the simulator renders it by default, as v2 was scored
        plain, _ = exam_metrics(test_pass(loaded, written, replace(recipe, randomised=0.0), log), calibration)
        metrics.update({f"{k}_unrandomised": v for k, v in plain.items() if not k.startswith("exam.ece_")})
    samples = sample_checks(loaded, written, log)
    metrics["exam.samples_correct"] = float(np.mean([s["correct"] for s in samples.values()]))
    non_us, rows = non_us_checks(loaded, written, out / "non_us", recipe.non_us_seed, log)
    metrics.update(non_us)
    calibration["exam"]["ece_before"] = round(metrics["exam.ece_before"], 6)
    calibration["exam"]["ece_after"] = round(metrics["exam.ece_after"], 6)
    if "classification.ece_before" in metrics:
        calibration["classification"]["ece_before"] = round(metrics["classification.ece_before"], 6)
        calibration["classification"]["ece_after"] = round(metrics["classification.ece_after"], 6)
    minutes = (time.monotonic() - start) / 60
    notes.update(
        {
            "fit_minutes": round(fit_minutes, 2),
            "total_minutes": round(minutes, 2),
            "test_frames": len(test.leaves),
            "samples": {k: v["exam"] for k, v in samples.items()},
        }
    )
    old_metrics = {k: v for k, v in loaded.card.metrics.items() if not k.startswith(_OWN_METRICS)}
    card_metrics = {**old_metrics, **{f"test.{k}": round(float(v), 6) for k, v in sorted(metrics.items())}}
    extra = {"exams": applicability(new_cfg), "calibration": calibration}
    card = write_model(Path(source.folder), folder, head, head_cfg, extra, notes)
    card["metrics"] = dict(sorted(card_metrics.items()))
    extend.rewrite_card(folder, card)
    details = {
        "metrics": metrics,
        "per_scene": per_scene,
        "samples": samples,
        "non_us": rows,
        "calibration": calibration,
    }
    (out / "exam_metrics.json").write_text(
        json.dumps(details, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    log(" ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    log(f"done in {minutes:.1f} min: {folder}")
    return folder


_OWN_METRICS = (
    "test.exam.",
    "test.classification.ece_",
    "test.classification.accuracy_",
    "test.detection.f1_",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    return extend.main(
        argv,
        "training.recipes.exam",
        __doc__ or "",
        (ExamRecipe(), SMOKE),
        run_recipe,
    )


if __name__ == "__main__":
    sys.exit(main())
