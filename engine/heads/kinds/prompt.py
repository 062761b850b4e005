"""Prompt: click or box to a mask, class-agnostic, on the encoder's cached features.

A :class:`Prompt` holds positive and negative points, an optional box and an optional previous
mask, all in original-frame pixels. :func:`prompt_maps` draws it at model input size (the
network's four prompt channels, ``engine.heads.prompt``); :class:`PromptTask` turns the head's
outputs back into an original-frame :class:`PromptResult` (mask, predicted IoU, the enclosing
alternative, area in mm² where the frame is calibrated). :func:`segment` runs one prompt on one
frame through ``Predictor.run_prompted``, so the encoder runs once per frame and every later
click runs the decoder alone.

The head zooms in once it has more than a click to go on (:func:`zoom_crop`): with a box or a
previous mask it looks at a crop around them, so a small structure is seen at the model's full
input resolution. The head is interactive: it answers prompts and never runs in ``--tasks all``
or ``auto``.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from engine.config import ModelCfg
from engine.drafts import Drafts, LabelIds
from engine.errors import TaskError
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.io.calibration import UNCALIBRATED, Calibration
from engine.provenance import ModelRef
from engine.tasks import units
from engine.tasks.base import CineContext, FrameContext, TaskInfo, head_cfg
from engine.transforms.geometry import Geometry
from engine.types import Quantity, TaskResult

CLICK_SIGMA = 2.0  # model-input pixels: the Gaussian disk each click is drawn as


@dataclass(frozen=True)
class Prompt:
    """What the user gave, in original-frame pixels.

    Attributes:
        points: (x, y, positive) per click.
        box: (x0, y0, x1, y1), or None.
        mask: the previous mask ``[H, W]`` (bool or probabilities), or None.
    """

    points: tuple[tuple[float, float, bool], ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = field(default=None, compare=False)

    def empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None

    def with_point(self, x: float, y: float, positive: bool = True) -> Prompt:
        """This prompt and one more click."""
        return Prompt((*self.points, (float(x), float(y), bool(positive))), self.box, self.mask)

    def check(self, size: tuple[int, int], source: str | None = None) -> None:
        """Raise a one-line TaskError for a point outside the ``(H, W)`` frame or an empty box."""
        h, w = size
        for x, y, _ in self.points:
            if not (0 <= x < w and 0 <= y < h):
                raise TaskError(source, f"point ({x:g}, {y:g}) is outside the {w}x{h} image")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if not (x1 > x0 and y1 > y0):
                raise TaskError(source, f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty")
            if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
                raise TaskError(source, f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is outside the {w}x{h} image")
        if self.mask is not None and tuple(self.mask.shape[:2]) != (h, w):
            raise TaskError(source, f"previous mask is {list(self.mask.shape)}, the image {h}x{w}")
        if self.empty():
            raise TaskError(source, "no prompt: give a point, a box or a previous mask")


ZOOM_MARGIN = 0.4  # of the region's side, added on each side of a zoomed crop
ZOOM_MIN_SIDE = 0.25  # of the frame's shorter side: the smallest crop side
ZOOM_MAX_AREA = 0.6  # of the frame's area: a larger crop is no zoom (the whole frame is used)


def _deepest(mask: np.ndarray) -> tuple[float, float, float]:
    """(x, y, distance) of the pixel of a non-empty ``mask`` farthest from its outline (the
    frame's edge counts as outline)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(dist.argmax()), dist.shape)
    return float(x), float(y), float(dist[y, x])


def centre(mask: np.ndarray) -> tuple[float, float] | None:
    """The pixel of ``mask`` farthest from its outline as (x, y); None for an empty mask."""
    if not mask.any():
        return None
    x, y, _ = _deepest(mask)
    return x, y


HOLE_MIN_PX = 4.0  # the least distance from a mask (and its box's edge) of a gap worth a negative click


def hole(mask: np.ndarray) -> tuple[float, float] | None:
    """The point inside ``mask``'s tight box but outside the mask that is farthest from both the
    mask and the box's edge, as (x, y), when it is at least ``HOLE_MIN_PX`` away; else None.
    For a ring (the myocardium around the LV cavity) it is the middle of what the ring encloses;
    a compact structure has no such gap."""
    if not mask.any():
        return None
    x0, y0, x1, y1 = (int(v) for v in tight_box(mask))
    gap = np.zeros(mask.shape, bool)
    gap[y0 : y1 + 1, x0 : x1 + 1] = ~mask[y0 : y1 + 1, x0 : x1 + 1]
    if not gap.any():
        return None
    x, y, depth = _deepest(gap)
    return (x, y) if depth >= HOLE_MIN_PX else None


def filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every hole filled (a ring becomes the disc it bounds)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out.astype(bool) | mask.astype(bool)


ENCLOSED = 0.9  # share of a part inside another structure's filled outline for it to count as enclosed


def whole(part: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """The larger reading of a click on ``part``: the structure around it, filled.

    Where another connected part of the label map ``labels`` encloses ``part`` (at least
    ``ENCLOSED`` of it inside that part's filled outline: the LV cavity inside the myocardium),
    the smallest such outline, filled, with ``part``; otherwise ``part`` with its holes filled
    (the myocardium ring becomes the whole LV; a compact structure stays itself). The prompt
    head's second output is trained on it, so one click on the cavity gives the cavity and, as
    its alternative, the whole ventricle.
    """
    part = np.asarray(part, bool)
    best: np.ndarray | None = None
    if labels is not None and part.any():
        labels = np.asarray(labels)
        size = int(part.sum())
        for value in np.unique(labels[labels > 0]):
            count, comp = cv2.connectedComponents((labels == value).astype(np.uint8), connectivity=8)
            for c in range(1, count):
                other = comp == c
                if (other & part).any():
                    continue  # the part itself (or a part it touches is not around it)
                outline = filled(other)
                if (outline & part).sum() >= ENCLOSED * size and (best is None or outline.sum() < best.sum()):
                    best = outline
    return (best | part) if best is not None else filled(part)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def tight_box(mask: np.ndarray, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the mask's pixels (inclusive), each side moved out by ``margin`` of the
    box's width or height and kept inside the frame."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
    if not margin:
        return x0, y0, x1, y1
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    h, w = mask.shape[:2]
    return max(0.0, x0 - dx), max(0.0, y0 - dy), min(w - 1.0, x1 + dx), min(h - 1.0, y1 + dy)


def widened(mask: np.ndarray, fraction: float) -> np.ndarray:
    """A non-empty ``mask`` dilated by ``fraction`` of its inscribed radius (the distance from its
    deepest pixel to its outline), at least one pixel: wide for a blob, narrow for a thin wall."""
    r = max(1, round(fraction * _deepest(mask)[2]))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(np.asarray(mask, np.uint8), disk) > 0


def zoom_crop(prompt: Prompt, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop the head looks at for ``prompt`` on an ``(H, W)`` frame, or None for the whole frame.

    Clicks alone look at the whole frame (the first click of a structure). With a box or a
    previous mask the head zooms in, as interactive segmentation does after the first answer:
    the crop holds the box, the mask and every click, with ``ZOOM_MARGIN`` around them, at
    least ``ZOOM_MIN_SIDE`` of the frame across, and is dropped when it would cover more than
    ``ZOOM_MAX_AREA`` of the frame. The head then sees a small structure at the model's full
    resolution.
    """
    h, w = size
    xs: list[float] = []
    ys: list[float] = []
    if prompt.box is not None:
        xs += [prompt.box[0], prompt.box[2]]
        ys += [prompt.box[1], prompt.box[3]]
    if prompt.mask is not None:
        rows, cols = np.nonzero(np.asarray(prompt.mask) > 0.5)
        if rows.size:
            xs += [float(cols.min()), float(cols.max())]
            ys += [float(rows.min()), float(rows.max())]
    if not xs:
        return None
    xs += [x for x, _, _ in prompt.points]
    ys += [y for _, y, _ in prompt.points]
    least = ZOOM_MIN_SIDE * min(h, w)
    bounds = []
    for lo, hi, limit in ((min(xs), max(xs), w), (min(ys), max(ys), h)):
        side = max(hi - lo + 1, least / (1 + 2 * ZOOM_MARGIN))
        mid = (lo + hi) / 2
        half = side * (1 + 2 * ZOOM_MARGIN) / 2
        a, b = max(0, int(np.floor(mid - half))), min(limit, int(np.ceil(mid + half)))
        bounds.append((a, b))
    (x0, x1), (y0, y1) = bounds
    if (x1 - x0) * (y1 - y0) > ZOOM_MAX_AREA * h * w or x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def draw_prompt(
    size: tuple[int, int],
    points: Sequence[tuple[float, float, bool]] = (),
    box: Sequence[float] | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The network's ``[4, H, W]`` float32 prompt maps from model-input coordinates: each click a
    Gaussian disk on the positive or negative map, the box filled, the previous mask as given."""
    ih, iw = size
    maps = np.zeros((4, ih, iw), np.float32)
    yy, xx = np.mgrid[:ih, :iw].astype(np.float32)
    for mx, my, positive in points:
        disk = np.exp(-((xx - mx) ** 2 + (yy - my) ** 2) / (2 * CLICK_SIGMA**2))
        np.maximum(maps[0 if positive else 1], disk, out=maps[0 if positive else 1])
    if box is not None:
        x0, y0, x1, y1 = box
        maps[2] = ((xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)).astype(np.float32)
    if mask is not None:
        maps[3] = mask
    return maps


def prompt_maps(prompt: Prompt, geometry: Geometry) -> np.ndarray:
    """The prompt (original-frame pixels) as the network's ``[4, H, W]`` maps at model input size."""
    points = []
    if prompt.points:
        xy = geometry.points_to_model(np.array([(x, y) for x, y, _ in prompt.points], np.float64))
        points = [(float(mx), float(my), p) for (mx, my), (_, _, p) in zip(xy, prompt.points)]
    box = None if prompt.box is None else geometry.boxes_to_model(np.array(prompt.box, np.float64))[0]
    mask = None if prompt.mask is None else geometry.image_to_model(np.asarray(prompt.mask, np.float32))
    return draw_prompt(geometry.input_size, points, box, mask)


@dataclass(frozen=True)
class PromptResult:
    """A prompted mask of one frame, in original-frame pixels.

    Attributes:
        frame: frame index.
        mask: ``[H, W]`` bool.
        quality: the head's predicted IoU of ``mask``, in [0, 1].
        alternative: the larger reading of the same prompt, the structure around the one
            asked for, filled (the whole LV for a click in its cavity or on its wall;
            ``whole``); equal to ``mask`` where nothing encloses it.
        alternative_quality: its predicted IoU with that larger structure.
        area: the mask's area (mm² where its pixels share a calibrated region, else px²).
        model: the model version.
        alternative_area: the alternative's area, by the same rule.
    """

    frame: int
    mask: np.ndarray
    quality: float
    alternative: np.ndarray
    alternative_quality: float
    area: Quantity
    model: ModelRef
    alternative_area: Quantity | None = None

    def offers_alternative(self) -> bool:
        """Whether the alternative is worth showing: a mask of its own (IoU with ``mask`` below
        ``DISTINCT``) that the head rates at least ``ALTERNATIVE_QUALITY``."""
        if not self.alternative.any() or self.alternative_quality < ALTERNATIVE_QUALITY:
            return False
        return iou(self.mask, self.alternative) < DISTINCT

    def unsure(self) -> bool:
        """Whether the head called its own answer unsure (:func:`unsure`)."""
        return unsure(self.quality)


def unsure(quality: float) -> bool:
    """Whether a predicted IoU is below ``UNSURE``: the answer is a guess, to be shown as one,
    with what would settle it (another click, a box)."""
    return quality < UNSURE


DISTINCT = 0.9  # IoU with the answer below which the alternative is a different mask
ALTERNATIVE_QUALITY = 0.5  # the least predicted IoU of an alternative worth showing
UNSURE = 0.5  # predicted IoU below which an answer is called unsure (bench/independent.py --prompt)


def prompted_parts(mask: np.ndarray, prompt: Prompt | None) -> np.ndarray:
    """The parts of ``mask`` (8-connected) that ``prompt`` asks for.

    A positive click asks for the structure under it: the parts holding a positive click are
    kept, or the part nearest to one where none holds a click. Without positive clicks a box
    asks for what lies in it: parts that do not reach into the box are dropped. A previous mask
    alone keeps every part (a structure may be split on the next frame)."""
    if prompt is None or not mask.any():
        return mask
    positive = [(x, y) for x, y, p in prompt.points if p]
    if not positive and prompt.box is None:
        return mask
    count, parts = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    h, w = mask.shape
    if positive:
        at = [(min(max(round(y), 0), h - 1), min(max(round(x), 0), w - 1)) for x, y in positive]
        wanted = {int(parts[r, c]) for r, c in at} - {0}
        if not wanted:
            ys, xs = np.nonzero(mask)
            d = np.min([(xs - c) ** 2 + (ys - r) ** 2 for r, c in at], axis=0)
            wanted = {int(parts[ys[d.argmin()], xs[d.argmin()]])}
    else:
        x0, y0, x1, y1 = prompt.box  # type: ignore[misc]
        inside = parts[max(0, int(y0)) : int(np.ceil(y1)) + 1, max(0, int(x0)) : int(np.ceil(x1)) + 1]
        wanted = set(np.unique(inside).tolist()) - {0}
    return np.isin(parts, sorted(wanted))


class PromptTask:
    """The prompt head's ``masks`` ``[2, h, w]`` and ``quality`` ``[2]`` -> a :class:`PromptResult`:
    output 0 is the structure asked for, output 1 the structure around it (``whole``), each kept
    to the parts the prompt asks for (``prompted_parts``)."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        head = head_cfg(cfg, "prompt")
        self.info = TaskInfo("prompt", "Prompt", head.name, (), head.labels, ref)

    def postprocess(
        self, outputs: Mapping[str, np.ndarray], ctx: FrameContext, prompt: Prompt | None = None
    ) -> PromptResult:
        logits = np.asarray(outputs["masks"], np.float32)
        quality = np.asarray(outputs["quality"], np.float32).reshape(-1)
        mask, alternative = (
            prompted_parts(ctx.geometry.scores_to_original(logits[k : k + 1])[0] > 0, prompt) for k in (0, 1)
        )
        area, alternative_area = (
            units.area("mask area", m, ctx.calibration, ctx.index) for m in (mask, alternative)
        )
        return PromptResult(
            ctx.index, mask, float(quality[0]), alternative, float(quality[1]), area, self.info.model,
            alternative_area,
        )  # fmt: skip

    def summarize(
        self, frames: Sequence[PromptResult], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[PromptResult, ...]:
        return ()


class PromptRunner(Protocol):
    """What :func:`segment` needs of ``engine.inference.Predictor``."""

    def run_prompted(
        self, name: str, keys: Sequence[Hashable], images: np.ndarray, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]: ...


def segment(
    predictor: PromptRunner,
    task: PromptTask,
    key: Hashable,
    image: np.ndarray,
    geometry: Geometry,
    frame: np.ndarray,
    index: int,
    prompt: Prompt,
    calibration: Calibration = UNCALIBRATED,
) -> PromptResult:
    """One prompt on one frame: the decoder on the frame's cached features (encoded on first use).

    Args:
        key: the frame's feature-cache key.
        image: the preprocessed model input ``[C, H, W]`` (``engine.transforms.preprocess``).
        geometry: its mapping to the original frame.
        frame: the original pixels (for the result's size).
    """
    prompt.check(tuple(frame.shape[:2]))  # type: ignore[arg-type]
    maps = prompt_maps(prompt, geometry)[None]
    out = predictor.run_prompted(task.info.head, [key], image[None], {"prompt": maps})
    one = {k: v[0] for k, v in out.items()}
    return task.postprocess(one, FrameContext(index, frame, geometry, calibration), prompt)


def _json(r: PromptResult, files: Files) -> dict[str, Any]:
    from engine.results_json import number, quantity

    return {
        "frame": r.frame,
        "mask_png": files.get("masks", {}).get(r.frame),
        "quality": number(r.quality, 4),
        "alternative_quality": number(r.alternative_quality, 4),
        "area": quantity(r.area),
    }


def _drafts(r: PromptResult, label_id: LabelIds, out: Drafts) -> None:
    out.masks[r.frame] = r.mask.astype(np.uint8) * label_id("prompt")


def _target(t: Any, g: Geometry, s: Any) -> np.ndarray:
    """A label map (or one mask) -> one structure's model-input masks ``[2, H, W]``: a connected
    part of a label, chosen by the map's content (the same sample always trains the same part),
    and the structure around it (``whole``), one per output of the head."""
    labels = np.asarray(t)
    parts = []
    for value in np.unique(labels[labels > 0]):
        count, comp = cv2.connectedComponents((labels == value).astype(np.uint8), connectivity=8)
        parts += [comp == c for c in range(1, count)]
    if not parts:
        return np.zeros((2, *g.input_size), np.float32)
    rng = np.random.default_rng(zlib.crc32(labels.tobytes()))
    mask = parts[int(rng.integers(len(parts)))]
    pair = [mask, whole(mask, labels)]
    return np.stack([g.image_to_model(m.astype(np.float32)) >= 0.5 for m in pair]).astype(np.float32)


def _train_inputs(target: Any) -> dict[str, Any]:
    """Training prompts from batched targets ``[B, 2, H, W]`` (the structure, and the structure
    around it): per sample a positive click at the structure's centre, a click anywhere inside
    it, or its tight box (a half, a quarter, a quarter)."""
    import torch

    masks = target.detach().cpu().numpy()[:, 0] > 0.5
    rng = np.random.default_rng()
    maps = []
    for m in masks:
        u, c = rng.random(), centre(m)
        if c is None:
            maps.append(draw_prompt(m.shape))
        elif u < 0.75:
            if u >= 0.5:
                ys, xs = np.nonzero(m)
                j = int(rng.integers(len(xs)))
                c = (float(xs[j]), float(ys[j]))
            maps.append(draw_prompt(m.shape, [(c[0], c[1], True)]))
        else:
            ys, xs = np.nonzero(m)
            maps.append(draw_prompt(m.shape, box=(xs.min(), ys.min(), xs.max(), ys.max())))
    return {"prompt": torch.from_numpy(np.stack(maps))}


SPEC = register_spec(HeadSpec(
    kind="prompt", rank=9, task=PromptTask, metric=("miou", True),
    json={PromptResult: _json}, drafts={PromptResult: _drafts},
    network="PromptHead", loss="PromptLoss", size=lambda labels: {},
    target=_target, interactive=True, train_inputs=_train_inputs,
))  # fmt: skip
