"""Evaluation metrics per task, registered by head name in :data:`METRICS`.

Each metric accumulates batches of a head's raw outputs and model-input targets (the formats of
``engine.heads``) and returns named floats. :func:`primary` names the figure that decides
whether a version is better than its parent, with its direction (``HeadSpec.metric``).

segmentation: ``dice`` (mean over foreground classes present) and ``hd95_px`` (95th-percentile
Hausdorff distance in model-input pixels); classification: ``accuracy`` and ``auc`` (macro
one-vs-rest); detection: ``map50`` (mean AP at IoU 0.5); landmarks: ``error_mm`` (``error_px``
when uncalibrated); regression: ``mae``; enhancement: ``psnr`` (dB, on [0, 1] images) and
``ssim``; report: ``token_f1`` (word-multiset overlap) and ``numeric_agreement``; exam:
``accuracy`` (leaf), ``organ_accuracy`` and ``region_accuracy`` (levels of the exam tree); prompt:
``miou`` (the answer's IoU) and ``miou_whole`` (the alternative's, with the structure around it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as nnf

from engine.heads.spec import MetricContext
from engine.registry import Registry

METRICS: Registry[type] = Registry("metric")


def primary(kind: str) -> tuple[str, bool]:
    """The figure that decides whether a version is better, and whether higher is better."""
    from engine.heads.spec import head_spec

    return head_spec(kind).metric


def build_metric(kind: str, context: MetricContext) -> Any:
    """The metric of head kind ``kind``, with the arguments its kind declares."""
    from engine.heads.spec import head_spec

    return METRICS.get(kind)(**head_spec(kind).metric_args(context))


def _mean(values: Sequence[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def binary_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class only."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _surface(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)) > 0


def hd95(a: np.ndarray, b: np.ndarray) -> float:
    """95th-percentile symmetric Hausdorff distance (pixels) between two non-empty boolean masks."""
    sa, sb = _surface(a), _surface(b)
    to_b = cv2.distanceTransform((~sb).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_a = cv2.distanceTransform((~sa).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float(max(np.percentile(to_b[sa], 95), np.percentile(to_a[sb], 95)))


@METRICS.register("segmentation")
class SegmentationMetric:
    """Dice and HD95 of argmax label maps."""

    def __init__(self) -> None:
        self.dice: list[float] = []
        self.hd95: list[float] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        logits = out["logits"]
        pred, truth = logits.argmax(1), target[:, 0]
        k = logits.shape[1]
        for c in range(1, k):
            p, t = pred == c, truth == c
            if not (p.any() or t.any()):
                continue
            inter = (p & t).sum(dim=(1, 2)).float()
            size = p.sum(dim=(1, 2)).float() + t.sum(dim=(1, 2)).float()
            present = size > 0
            self.dice.extend((2 * inter[present] / size[present]).tolist())
            for pa, ta in zip(p.numpy(), t.numpy()):
                if pa.any() and ta.any():
                    self.hd95.append(hd95(pa, ta))

    def compute(self) -> dict[str, float]:
        return {"dice": _mean(self.dice), "hd95_px": _mean(self.hd95)}


@METRICS.register("classification")
class ClassificationMetric:
    """Accuracy and macro one-vs-rest AUC of softmax scores."""

    def __init__(self) -> None:
        self.probs: list[Tensor] = []
        self.labels: list[Tensor] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        self.probs.append(out["logits"].float().softmax(1))
        self.labels.append(target)

    def compute(self) -> dict[str, float]:
        probs, labels = torch.cat(self.probs).numpy(), torch.cat(self.labels).numpy()
        aucs = [binary_auc(probs[:, c], labels == c) for c in range(probs.shape[1])]
        if probs.shape[1] == 2:
            aucs = aucs[1:]
        return {"accuracy": float((probs.argmax(1) == labels).mean()), "auc": _mean(aucs)}


@METRICS.register("exam")
class ExamMetric:
    """Accuracy of the exam tree's leaves and of its organ and region levels.

    Args:
        labels: the leaves, ``"region/organ/view"``.
    """

    def __init__(self, labels: Sequence[str]) -> None:
        from engine.heads.kinds.exam import split_path

        self.paths = [split_path(label) for label in labels]
        self.pred: list[Tensor] = []
        self.truth: list[Tensor] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        self.pred.append(out["logits"].float().argmax(1))
        self.truth.append(target)

    def compute(self) -> dict[str, float]:
        pred, truth = torch.cat(self.pred).tolist(), torch.cat(self.truth).tolist()
        pairs = [(self.paths[p], self.paths[t]) for p, t in zip(pred, truth) if t >= 0]

        def acc(depth: int) -> float:
            return _mean([float(p[:depth] == t[:depth]) for p, t in pairs]) if pairs else float("nan")

        return {"accuracy": acc(3), "organ_accuracy": acc(2), "region_accuracy": acc(1)}


def _average_precision(hits: list[tuple[float, bool]], n_truth: int) -> float:
    """Area under the precision envelope of score-ranked hits (all-point interpolation)."""
    if n_truth == 0:
        return float("nan")
    if not hits:
        return 0.0
    hits = sorted(hits, key=lambda h: -h[0])
    tp = np.cumsum([h[1] for h in hits])
    precision = tp / np.arange(1, len(hits) + 1)
    recall = np.concatenate([[0.0], tp / n_truth])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope))


@METRICS.register("prompt")
class PromptMetric:
    """Mean IoU of the prompt head's answer (output 0) with the structure asked for, and of its
    alternative (output 1) with the structure around it (``engine.heads.kinds.prompt.whole``)."""

    def __init__(self) -> None:
        self.answer: list[float] = []
        self.whole: list[float] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        from engine.heads.prompt import mask_iou

        iou = mask_iou(out["masks"].float(), target.float())
        self.answer.extend(iou[:, 0].tolist())
        self.whole.extend(iou[:, -1].tolist())

    def compute(self) -> dict[str, float]:
        return {"miou": _mean(self.answer), "miou_whole": _mean(self.whole)}


@METRICS.register("detection")
class DetectionMetric:
    """mAP at IoU 0.5 of FCOS outputs decoded like ``engine.tasks.detect`` (score >= 0.05)."""

    def __init__(self) -> None:
        self.hits: dict[int, list[tuple[float, bool]]] = {}
        self.truths: Counter[int] = Counter()

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        from engine.tasks.nms import batched_nms, box_iou

        scores = (out["cls_logits"].float().sigmoid() * out["ctr_logits"].float().sigmoid()[..., None]).sqrt()
        for b, (boxes_t, labels_t) in enumerate(target):
            s = scores[b].numpy()
            point, label = np.nonzero(s >= 0.05)
            cand = s[point, label]
            boxes = out["boxes"][b].float().numpy()[point].astype(np.float64)
            keep = batched_nms(boxes, cand, label, 0.5)[:100]
            boxes, cand, label = boxes[keep], cand[keep], label[keep]
            tb, tl = boxes_t.numpy().astype(np.float64), labels_t.numpy()
            self.truths.update(tl.tolist())
            for c in set(label.tolist()) | set(tl.tolist()):
                pc, tc = np.nonzero(label == c)[0], np.nonzero(tl == c)[0]
                used = np.zeros(len(tc), bool)
                iou = box_iou(boxes[pc], tb[tc]) if len(pc) and len(tc) else np.zeros((len(pc), len(tc)))
                for i in np.argsort(-cand[pc]):
                    j = int(np.argmax(iou[i])) if len(tc) else -1
                    ok = j >= 0 and iou[i, j] >= 0.5 and not used[j]
                    if ok:
                        used[j] = True
                    self.hits.setdefault(c, []).append((float(cand[pc][i]), ok))

    def compute(self) -> dict[str, float]:
        classes = set(self.truths) | set(self.hits)
        return {"map50": _mean([_average_precision(self.hits.get(c, []), self.truths[c]) for c in classes])}


@METRICS.register("landmarks")
class LandmarkMetric:
    """Mean radial error of heatmap peaks, in mm when calibrated (and in model-input pixels)."""

    def __init__(self, stride: int = 4) -> None:
        self.stride = stride
        self.mm: list[float] = []
        self.px: list[float] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        heat = out["heatmaps"].float()
        w = heat.shape[-1]
        idx = heat.flatten(2).argmax(-1)
        xy = torch.stack([(idx % w).float(), (idx // w).float()], -1) * self.stride + (self.stride - 1) / 2
        valid = ~torch.isnan(target).any(-1)
        d = xy - target
        self.px.extend(d.norm(dim=-1)[valid].tolist())
        self.mm.extend((d * spacing[:, None, :]).norm(dim=-1)[valid].tolist())

    def compute(self) -> dict[str, float]:
        return {"error_mm": _mean(self.mm), "error_px": _mean(self.px)}


@METRICS.register("regression")
class RegressionMetric:
    """Mean absolute error over all outputs (NaN targets ignored)."""

    def __init__(self) -> None:
        self.err: list[float] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        d = (out["values"].float() - target).abs()
        self.err.extend(d[~torch.isnan(d)].tolist())

    def compute(self) -> dict[str, float]:
        return {"mae": _mean(self.err)}


def ssim(a: Tensor, b: Tensor, window: int = 7) -> Tensor:
    """Mean structural similarity of [B, 1, H, W] images in [0, 1] (uniform window)."""
    c1, c2 = 0.01**2, 0.03**2
    pool = lambda x: nnf.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    ma, mb = pool(a), pool(b)
    va, vb, cov = pool(a * a) - ma**2, pool(b * b) - mb**2, pool(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return s.flatten(1).mean(1)


@METRICS.register("enhancement")
class EnhancementMetric:
    """PSNR (dB) and SSIM of the enhanced frame against the clean one, in [0, 1] pixels.

    Args:
        mean, std: the model's normalisation of the first channel (outputs and targets use it).
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        self.mean, self.std = mean, std
        self.psnr: list[float] = []
        self.ssim: list[float] = []

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        a = (out["enhanced"].float() * self.std + self.mean).clamp(0, 1)
        b = (target.float() * self.std + self.mean).clamp(0, 1)
        mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        self.psnr.extend((10 * torch.log10(1.0 / mse)).tolist())
        self.ssim.extend(ssim(a, b).tolist())

    def compute(self) -> dict[str, float]:
        return {"psnr": _mean(self.psnr), "ssim": _mean(self.ssim)}


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def report_scores(predicted: str, reference: str) -> tuple[float, float]:
    """(token F1 of the word multisets, share of the reference's numbers found in the prediction)."""
    p, r = Counter(predicted.lower().split()), Counter(reference.lower().split())
    common = sum((p & r).values())
    f1 = 0.0 if common == 0 else 2 * common / (sum(p.values()) + sum(r.values()))
    numbers = _NUMBER.findall(reference)
    found = set(_NUMBER.findall(predicted))
    agree = float("nan") if not numbers else sum(n in found for n in numbers) / len(numbers)
    return f1, agree


@METRICS.register("report")
class ReportMetric:
    """Token overlap and numeric agreement of greedy reports (word ids compared as words)."""

    def __init__(self, vocab: Sequence[str] = ()) -> None:
        self.vocab = tuple(vocab)
        self.f1: list[float] = []
        self.num: list[float] = []

    def _text(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab[i] if i < len(self.vocab) else "<unk>" for i in ids if i > 3)

    def update(self, out: dict[str, Tensor], target: Any, spacing: Tensor) -> None:
        for p, t in zip(out["tokens"].tolist(), target.tolist()):
            f1, agree = report_scores(self._text(p), self._text(t))
            self.f1.append(f1)
            self.num.append(agree)

    def compute(self) -> dict[str, float]:
        return {"token_f1": _mean(self.f1), "numeric_agreement": _mean(self.num)}
