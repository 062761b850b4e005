"""The Smart tool's model side, Qt-free: a prompt session on the open cine, shared by threads.

:class:`SmartModel` wraps ``engine.tasks.prompting.PromptSession`` for one model version and the
cine the document holds open. The model loads on first use (in whichever thread asks first);
a background thread warms the embedding cache outward from the shown frame (:func:`outward`,
``warm``) while the GUI thread prompts the shown frame (``segment``). One lock runs the network
for one caller at a time, so a prompt waits at most for the frame being encoded.

:func:`prompt_edit` turns an accepted prompted mask into one undoable mask edit: a person's
final mask that records the model version that drew it (``MaskMeta(HUMAN_FINAL, model)``, the
provenance of a corrected AI draft). :func:`propagation_drafts` writes the masks the prompt head
carried through the cine as pending AI drafts of the active label, and :func:`low_quality` picks
the frames whose predicted quality dropped for the review queue.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from app.model.annotations import MaskMeta, Review
from app.model.commands import PaintMask, mask_diff
from app.model.history import Command, Composite
from engine.errors import TaskError
from engine.model_card import ModelCard
from engine.provenance import ModelRef, Origin

if TYPE_CHECKING:
    from app.model.document import Document
    from engine.io.cine import Cine

PROMPT_HEAD = "prompt"
MIN_QUALITY = 0.8  # a propagated frame predicted below this goes to the review queue
MAX_DROP = 0.1  # ... as does one predicted this much below the prompted frame

Point = tuple[float, float, bool]  # (x, y, positive) in frame pixels
Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in frame pixels


def outward(start: int, n: int) -> Iterator[int]:
    """Frame indices of a cine of ``n`` frames from ``start`` outward: i, i+1, i-1, i+2, i-2, …"""
    if not 0 <= start < n:
        return
    yield start
    for step in range(1, n):
        found = False
        for i in (start + step, start - step):
            if 0 <= i < n:
                found = True
                yield i
        if not found:
            return


def no_prompt_head(card: ModelCard) -> str | None:
    """The one line saying the Smart tool cannot prompt with ``card``'s model here; None when it
    can (the model has a prompt head, and torch, which runs it, is installed: the viewer build
    runs models with ONNX Runtime alone)."""
    heads = [h.name for h in card.model.heads]
    if PROMPT_HEAD in heads:
        if importlib.util.find_spec("torch") is None:
            return (
                f"Smart tool: {card.name} v{card.version}'s prompt head runs with torch, which this "
                "build does not include (the viewer runs models with ONNX Runtime); use the full build"
            )
        return None
    have = ", ".join(heads) or "none"
    return (
        f"Smart tool: {card.name} v{card.version} has no prompt head (has: {have}); "
        "pick a model with one in the Model panel"
    )


@dataclass(frozen=True)
class Answer:
    """What one prompt gave, in frame pixels.

    Attributes:
        frame: the frame prompted.
        mask: ``[H, W]`` bool.
        quality: the head's predicted IoU of ``mask`` (0-1).
        area: the mask's area as text (mm² where calibrated, else px²).
        model: the model version.
        ms: how long the prompt took.
        encoded: the features this prompt read were computed for it (not cached before).
        other: the other reading of the same prompt, where the head offers one
            (``PromptResult.offers_alternative``: the whole LV for a click in its cavity), as
            ``(mask, quality, area)``; :meth:`swapped` shows it instead.
    """

    frame: int
    mask: np.ndarray
    quality: float
    area: str
    model: ModelRef
    ms: float
    encoded: bool
    other: tuple[np.ndarray, float, str] | None = None

    def swapped(self) -> Answer:
        """This answer with its other reading shown (and the shown one kept as the other)."""
        if self.other is None:
            return self
        mask, quality, area = self.other
        shown = (self.mask, self.quality, self.area)
        return replace(self, mask=mask, quality=quality, area=area, other=shown)

    @property
    def unsure(self) -> bool:
        """The model called this answer unsure (``engine.heads.kinds.prompt.unsure``)."""
        from engine.heads.kinds.prompt import unsure

        return unsure(self.quality)

    def line(self) -> str:
        """The status-bar line, e.g. "Smart: 41.2 mm², quality 0.93 (echocare-demo v3, 12 ms)",
        saying what would settle an unsure answer and naming the other reading where there is one."""
        extra = " with the image encoder" if self.encoded else ""
        took = f"{self.ms:.0f} ms{extra}"
        doubt = ", unsure: add a click inside or outside, or drag a box" if self.unsure else ""
        line = f"Smart: {self.area}, quality {self.quality:.2f}{doubt} ({self.model.label()}, {took})"
        if self.other is not None:
            line += f"; Tab shows the other reading ({self.other[2]})"
        return line


def _prompt(points: Sequence[Point], box: Box | None, previous: np.ndarray | None) -> Any:
    from engine.heads.kinds.prompt import Prompt

    mask = None if previous is None else np.asarray(previous, np.float32)
    return Prompt(tuple(points), box, mask)


def _area_text(q: Any) -> str:
    return f"{q.value:.1f} {q.unit.replace('mm2', 'mm²').replace('px2', 'px²')}"


def _answer(timed: Any, with_other: bool = False) -> Answer:
    """The engine's timed ``PromptResult`` as an :class:`Answer`; ``with_other`` brings the
    alternative the head offers along as ``other``."""
    r = timed.result
    other = None
    if with_other and r.offers_alternative():
        alt_area = _area_text(r.alternative_area)
        other = (np.asarray(r.alternative, bool), float(r.alternative_quality), alt_area)
    mask, area = np.asarray(r.mask, bool), _area_text(r.area)
    return Answer(r.frame, mask, float(r.quality), area, r.model, timed.ms, timed.encoded, other)


class SmartModel:
    """Prompts with one model version on one open cine, from any thread.

    Args:
        key: the model version (``name@version``, as the model store resolves it).
        cine: the document's open cine (its frames are not decoded again).
        device: ``auto|cpu|cuda|mps``.

    The model is loaded on first use; loading raises ``TaskError`` (one line) when it has no
    prompt head.
    """

    def __init__(self, key: str, cine: Cine, device: str = "auto") -> None:
        self.key = key
        self.cine = cine
        self.device = device
        self._session: Any = None
        self._lock = threading.RLock()
        self._frame_bytes = 0

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def session(self) -> Any:
        """The engine's ``PromptSession`` (the model loads on the first call)."""
        with self._lock:
            if self._session is None:
                from engine.factory import load_model
                from engine.inference import Predictor
                from engine.tasks.prompting import PromptSession

                loaded = load_model(self.key, device=self.device)
                predictor = Predictor(loaded, backend="torch", device=self.device)
                self._session = PromptSession(self.cine, predictor)
            return self._session

    @property
    def ref(self) -> ModelRef:
        return self.session().predictor.loaded.ref

    def is_ready(self, index: int) -> bool:
        """Whether frame ``index``'s features are cached (False before the model is loaded)."""
        return self._session is not None and self._session.is_ready(index)

    def budget(self) -> int:
        """How many frames around the shown one to keep warm: half of what the cache holds."""
        n = self.cine.n_frames
        if self._session is None or self._frame_bytes <= 0:
            return n
        return max(1, min(n, self._session.predictor.cache.max_bytes // (2 * self._frame_bytes)))

    def warm_one(self, centre: int) -> int | None:
        """Encode the nearest frame to ``centre`` (within :meth:`budget`) whose features are
        not ready; returns it, or None when every frame of the budget is ready."""
        session = self.session()
        for i in list(outward(centre, self.cine.n_frames))[: self.budget()]:
            if session.is_ready(i):
                continue
            with self._lock:
                if session.warm([i]) and not self._frame_bytes:
                    cache = session.predictor.cache
                    self._frame_bytes = max(1, cache.bytes // max(1, len(cache)))
            return i
        return None

    def warm(self, centre: Callable[[], int], stop: Callable[[], bool] = lambda: False) -> int:
        """Encode frames outward from ``centre()`` (read again after each frame, so warming
        follows the shown frame) until the budget is ready or ``stop()``; returns how many."""
        done = 0
        while not stop():
            if self.warm_one(centre()) is None:
                break
            done += 1
        return done

    def needs_encoder(
        self, frame: int, points: Sequence[Point], box: Box | None, previous: np.ndarray | None
    ) -> bool:
        """Whether this prompt runs the encoder first: the model is not loaded yet, or the
        features it reads (the whole frame's, or with a box or a previous mask the zoomed
        crop's, ``engine.heads.kinds.prompt.zoom_crop``) are not cached."""
        if self._session is None:
            return True
        from engine.heads.kinds.prompt import zoom_crop

        crop = zoom_crop(_prompt(points, box, previous), (self.cine.info.rows, self.cine.info.columns))
        return not self._session.is_ready(frame, crop)

    def segment(
        self, frame: int, points: Sequence[Point], box: Box | None, previous: np.ndarray | None
    ) -> Answer:
        """Prompt frame ``frame`` with clicks, a box and the mask shown before (if any).

        Raises:
            TaskError: a point outside the frame, an empty box, no prompt, or no prompt head.
        """
        session = self.session()
        with self._lock:
            timed = session.segment(frame, _prompt(points, box, previous))
            return _answer(timed, with_other=True)

    def propagate(
        self, start: int, mask: np.ndarray, first: int, last: int, stop: Callable[[], bool] = lambda: False
    ) -> Propagation:
        """Carry ``mask`` (frame ``start``) to frames ``first..last`` with the prompt head.

        The prompted frame's own quality (a click at the mask's centre with the mask) is the
        reference the other frames' qualities are compared with.
        """
        from engine.heads.kinds.prompt import Prompt
        from engine.tasks.prompting import centre

        session = self.session()
        mask = np.asarray(mask, bool)
        c = centre(mask)
        if c is None:
            raise TaskError(str(self.cine.path), f"frame {start + 1} has no mask of this label to carry")
        with self._lock:
            ref = session.segment(start, Prompt(((c[0], c[1], True),), mask=mask.astype(np.float32)))
        answers: dict[int, Answer] = {}
        steps = session.propagate(start, mask, first, last)
        while True:
            if stop():
                break
            with self._lock:
                timed = next(steps, None)
            if timed is None:
                break
            answers[timed.result.frame] = _answer(timed)
        return Propagation(start, float(ref.result.quality), answers, session.predictor.loaded.ref)


@dataclass(frozen=True)
class Propagation:
    """Masks the prompt head carried from one frame.

    Attributes:
        start: the frame carried from.
        quality: its predicted quality (the reference for the others).
        frames: each other frame's answer.
        model: the model version.
    """

    start: int
    quality: float
    frames: Mapping[int, Answer]
    model: ModelRef


def low_quality(
    done: Propagation, minimum: float = MIN_QUALITY, drop: float = MAX_DROP
) -> list[tuple[int, str]]:
    """(frame, reason) of each frame to review: predicted below ``minimum``, or ``drop`` below
    the prompted frame; in frame order."""
    out = []
    for f, a in sorted(done.frames.items()):
        fell = done.quality - a.quality
        if a.quality < minimum or fell > drop:
            out.append((f, f"prompt quality {a.quality:.2f} ({fell:+.2f} below frame {done.start + 1})"))
    return out


def prompt_edit(doc: Document, frame: int, mask: np.ndarray, label: int, model: ModelRef) -> PaintMask | None:
    """Paint ``mask`` with ``label`` on frame ``frame``: one undoable edit, a person's final
    mask that keeps the model version that drew it; None when it changes nothing."""
    before = doc.mask(frame)
    after = before.copy()
    after[np.asarray(mask, bool)] = label
    meta = MaskMeta(Origin.HUMAN_FINAL, model, Review.ACCEPTED)
    return mask_diff(frame, before, after, doc.mask_meta.get(frame), meta, f"smart mask ({model.label()})")


def propagation_drafts(doc: Document, done: Propagation, label: int) -> Composite | None:
    """One undoable step writing the carried masks as pending AI drafts of ``label`` (the
    label's old pixels on those frames are replaced); None when it changes nothing."""
    meta = MaskMeta(Origin.AI_DRAFT, done.model, Review.PENDING)
    cmds: list[Command] = []
    for f, a in sorted(done.frames.items()):
        before = doc.mask(f)
        after = before.copy()
        after[after == label] = 0
        after[a.mask] = label
        cmd = mask_diff(f, before, after, doc.mask_meta.get(f), meta, "propagate with the prompt head")
        if cmd is not None:
            cmds.append(cmd)
    if not cmds:
        return None
    return Composite(f"propagate with {done.model.label()} to {len(cmds)} frames", cmds)
