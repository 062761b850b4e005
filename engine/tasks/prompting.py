"""Prompted segmentation of a cine: one frame at a time, and carried through the cine.

A :class:`PromptSession` holds a cine, a model with a prompt head and its ``Predictor``; the
predictor's feature cache is the embedding cache, so a frame is encoded once (``warm`` encodes
frames ahead, e.g. from a background thread spreading out from the shown frame) and each
prompt on it runs the decoder alone.

``propagate`` carries a mask from one frame to its neighbours with the prompt head, forward and
backward. Each next frame is prompted twice from the previous frame's mask: with that mask
widened a little (``widened``, by ``WIDEN`` of its inscribed radius), a positive click at its
centre (the point farthest from its outline) and, where the mask encloses a gap (a ring such as
the myocardium around the LV cavity), a negative click in the gap's middle (``hole``); and with
the mask's box, each side moved out by ``BOX_MARGIN``. The answer the head predicts the higher
IoU for is kept; both look at one zoomed crop, the one around the two together, so each frame
is encoded once. The click follows a compact structure closely; the negative click and the box
keep a ring or a thin wall from sliding into what it surrounds. The head trims a little off a
mask it is given, so a mask passed on as it is shrinks frame by frame (on JPEG-compressed lesion
cines, to 0.6 of the lesion's area in 23 frames); widening the mask and the box gives each
frame's answer the room to find the outline again. The head's predicted IoU comes with every
frame, so a review queue can list the frames where it dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.errors import TaskError
from engine.heads.kinds.prompt import (
    Prompt,
    PromptResult,
    PromptTask,
    centre,
    hole,
    segment,
    tight_box,
    widened,
    zoom_crop,
)
from engine.inference import Predictor
from engine.io.cine import Cine
from engine.transforms.preprocess import Prepared, preprocess

WIDEN = 0.12  # of the previous mask's inscribed radius: how far it is dilated before it prompts
BOX_MARGIN = 0.05  # of the previous mask's box width and height, added on each side


def carried_prompt(prev: np.ndarray, widen: float = WIDEN) -> Prompt | None:
    """How a mask prompts the next frame when it is carried: a positive click at its centre, a
    negative one in its hole (a ring's), and the mask widened by ``widen`` of its inscribed radius
    (0: as it is) as the previous mask; None for an empty mask. Coordinates are ``prev``'s."""
    c = centre(prev)
    if c is None:
        return None
    points = [(c[0], c[1], True)]
    inner = hole(prev)
    if inner is not None:
        points.append((inner[0], inner[1], False))
    shown = widened(prev, widen) if widen else prev
    return Prompt(tuple(points), mask=shown.astype(np.float32))


@dataclass(frozen=True)
class Timed:
    """A prompted result and the milliseconds the prompt took (decoder, plus the encoder when the
    frame was not cached yet)."""

    result: PromptResult
    ms: float
    encoded: bool


class PromptSession:
    """Prompts on the frames of one cine with one model.

    Args:
        cine: the open cine (frames are read from it, never decoded again by path).
        predictor: the model's predictor; its model must have a ``prompt`` head.

    Raises:
        TaskError: the model has no prompt head (one line, naming the model).
    """

    def __init__(self, cine: Cine, predictor: Predictor) -> None:
        cfg = predictor.loaded.cfg
        if "prompt" not in cfg.heads_by_name:
            have = ", ".join(cfg.heads_by_name) or "none"
            raise TaskError(cfg.name, f"model {cfg.name!r} has no prompt head (has: {have})")
        self.cine = cine
        self.predictor = predictor
        self.task = PromptTask(cfg, predictor.loaded.ref)
        self._prepared: dict[int, Prepared] = {}
        self._lock = threading.Lock()

    def key(self, index: int, crop: tuple[int, int, int, int] | None = None) -> Hashable:
        return (str(self.cine.path), index, crop)

    def check_frame(self, index: int) -> None:
        if not 0 <= index < self.cine.n_frames:
            n = self.cine.n_frames
            raise TaskError(str(self.cine.path), f"frame {index} is out of range (the cine has {n} frames)")

    def prepared(self, index: int, crop: tuple[int, int, int, int] | None = None) -> Prepared:
        """The frame (or its ``crop``) preprocessed for the model; whole frames are kept."""
        self.check_frame(index)
        with self._lock:
            found = self._prepared.get(index) if crop is None else None
        if found is None:
            found = preprocess(self.cine.frame(index), self.predictor.loaded.cfg, crop)
            if crop is None:
                with self._lock:
                    self._prepared[index] = found
        return found

    def is_ready(self, index: int, crop: tuple[int, int, int, int] | None = None) -> bool:
        """Whether the frame's (or crop's) features are cached (a prompt runs the decoder alone)."""
        model_key = (self.predictor.loaded.ref.sha256, self.predictor.loaded.ref.version)
        return self.predictor.cache.get((self.key(index, crop), *model_key)) is not None

    def warm(self, frames: Iterable[int], stop: Callable[[], bool] = lambda: False) -> int:
        """Encode ``frames`` not cached yet, in order, until ``stop()``; returns how many were encoded."""
        done = 0
        for i in frames:
            if stop():
                break
            if self.is_ready(i):
                continue
            p = self.prepared(i)
            self.predictor.features([self.key(i)], p.image[None])
            done += 1
        return done

    def segment(self, index: int, prompt: Prompt, around: Prompt | None = None) -> Timed:
        """``prompt`` on frame ``index`` (original-frame pixels); with a box or a previous mask the
        head looks at the zoomed crop around them (``zoom_crop``), encoded on first use. With
        ``around`` the crop is the one around that prompt instead (so that several prompts on a
        frame share one encoded crop)."""
        frame = self.cine.frame(index)
        prompt.check(tuple(frame.shape[:2]), str(self.cine.path))  # type: ignore[arg-type]
        crop = zoom_crop(around or prompt, tuple(frame.shape[:2]))  # type: ignore[arg-type]
        ready = self.is_ready(index, crop)
        t = time.perf_counter()
        p = self.prepared(index, crop)
        result = segment(
            self.predictor, self.task, self.key(index, crop), p.image, p.geometry, frame, index, prompt,
            self.cine.calibration_for(index),
        )  # fmt: skip
        return Timed(result, (time.perf_counter() - t) * 1000.0, not ready)

    def propagate(
        self,
        start: int,
        mask: np.ndarray,
        first: int,
        last: int,
        widen: float = WIDEN,
        box_margin: float = BOX_MARGIN,
    ) -> Iterator[Timed]:
        """Carry ``mask`` (frame ``start``) to every frame of ``first..last`` (inclusive), outward:
        forward from ``start`` to ``last``, then backward to ``first``; ``start`` itself is not
        re-segmented. ``widen`` and ``box_margin`` are how far the previous mask and its box are
        grown before they prompt the next frame (0 and 0: passed on as they are)."""
        self.check_frame(start)
        self.check_frame(first)
        self.check_frame(last)
        if not first <= start <= last:
            raise TaskError(str(self.cine.path), f"frame {start} is not inside {first}-{last}")
        for step in (1, -1):
            prev = np.asarray(mask, bool)
            end = last if step == 1 else first
            for i in range(start + step, end + step, step):
                by_click = carried_prompt(prev, widen)
                if by_click is None:
                    break
                by_box = Prompt(box=tight_box(prev, box_margin))
                both = Prompt(by_click.points, by_box.box, by_click.mask)  # one crop holds both: one encoding
                click = self.segment(i, by_click, around=both)
                box = self.segment(i, by_box, around=both)
                out = click if click.result.quality >= box.result.quality else box
                yield Timed(out.result, click.ms + box.ms, click.encoded or box.encoded)
                prev = out.result.mask
