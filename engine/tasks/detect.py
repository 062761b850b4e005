"""Detection: boxes with label and score after NMS, in original-frame pixels and mm.

NMS runs per label. A detection head whose card sets ``cross_label_iou`` also keeps only the
best-scored label where boxes of different labels overlap by at least that IoU: one object
then gets one box, not a kidney box and a weaker mass box on the same outline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.provenance import ModelRef
from engine.tasks import units
from engine.tasks.base import CineContext, FrameContext, make_info, sigmoid
from engine.tasks.nms import batched_nms, nms
from engine.types import Detections, Quantity, TaskResult


class DetectTask:
    """Decodes the FCOS head: score = sqrt(sigmoid(class) * sigmoid(centerness)), NMS per label.

    Args:
        cfg, ref: the model card and version.
        score_threshold: lowest score kept.
        iou: NMS overlap threshold.
        cross_label_iou: overlap at which a box yields to a better box of another label; None
            takes the head's ``cross_label_iou`` parameter (off when the card has none).
        pre_nms: candidates kept before NMS, best first.
        max_boxes: boxes kept per frame.
    """

    def __init__(
        self,
        cfg: ModelCfg,
        ref: ModelRef,
        score_threshold: float = 0.3,
        iou: float = 0.5,
        pre_nms: int = 500,
        max_boxes: int = 50,
        cross_label_iou: float | None = None,
    ) -> None:
        self.info = make_info(cfg, ref, "detection", "Detect")
        if cross_label_iou is None:
            cross_label_iou = cfg.heads_by_name["detection"].params.get("cross_label_iou")
        self.cross_label_iou = None if cross_label_iou is None else float(cross_label_iou)
        self.score_threshold, self.iou, self.pre_nms, self.max_boxes = (
            score_threshold,
            iou,
            pre_nms,
            max_boxes,
        )

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> Detections:
        cls, ctr, boxes = outputs["cls_logits"], outputs["ctr_logits"], outputs["boxes"]
        scores = np.sqrt(sigmoid(cls) * sigmoid(ctr)[:, None])  # [N, C]
        point, label = np.nonzero(scores > self.score_threshold)
        cand = scores[point, label]
        order = np.argsort(-cand, kind="stable")[: self.pre_nms]
        point, label, cand = point[order], label[order], cand[order]
        keep = batched_nms(boxes[point].astype(np.float64), cand, label, self.iou)
        if self.cross_label_iou is not None and keep.size:
            keep = keep[nms(boxes[point[keep]].astype(np.float64), cand[keep], self.cross_label_iou)]
        keep = keep[: self.max_boxes]
        model_boxes = boxes[point[keep]].astype(np.float64)
        return self.result(ctx, ctx.geometry.boxes_to_original(model_boxes), cand[keep], label[keep])

    def result(
        self, ctx: FrameContext, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray
    ) -> Detections:
        """Detections of original-frame ``boxes`` ``[N, 4]`` with their sizes in mm."""
        sizes = units.box_sizes_mm(boxes, ctx.calibration)
        return Detections(
            ctx.index,
            self.info.labels,
            boxes.reshape(-1, 4),
            scores.astype(np.float32),
            labels.astype(np.int64),
            sizes,
            self.info.model,
        )

    def summarize(
        self, frames: Sequence[Detections], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Quantity, ...]:
        """Per label, the largest number of boxes found in one frame (unit "count")."""
        if not frames:
            return ()
        return tuple(
            Quantity(f"{name} count", float(max(int((f.label_ids == k).sum()) for f in frames)), "count")
            for k, name in enumerate(self.info.labels)
        )
