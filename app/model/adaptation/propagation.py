"""Carry corrected masks, boxes and landmarks to the other frames of the span a correction affects.

A keyframe is a frame a person corrected (human-final). Propagating from frame ``here`` fills
the frames between ``here``'s neighbouring keyframes, each track (kind, label, name) of boxes
and landmarks and the mask on its own, with ``engine.tasks.propagate``. The work is split so the
GUI reads frames and applies the result on its thread and the worker does the rest:

1. :func:`plan_propagation` (GUI thread): the keyframes and the frames ``first..last`` to read;
2. :func:`propagate` (worker): the propagated masks and points;
3. :func:`propagation_step` (GUI thread): one undoable step writing them as pending drafts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.model.annotations import Annotation, MaskMeta, Review
from app.model.commands import PutAnnotation, RemoveAnnotation, mask_diff
from app.model.history import Command, Composite
from engine.provenance import Origin

if TYPE_CHECKING:
    from app.model.document import Document

TRACKED = ("box", "landmark")
Track = tuple[str, int, str]  # (kind, label id, name)
DRAFT = MaskMeta(Origin.AI_DRAFT, None, Review.PENDING)


def mask_keyframes(doc: Document) -> dict[int, np.ndarray]:
    """Frames whose mask a person drew or accepted: ``{frame: plane}``."""
    return {
        f: plane.copy()
        for f, plane in doc.masks.items()
        if doc.mask_meta.get(f, MaskMeta()).origin == Origin.HUMAN_FINAL and plane.any()
    }


def track_keyframes(doc: Document, here: int) -> dict[Track, dict[int, np.ndarray]]:
    """Human-final boxes and landmarks, per track (kind, label, name) that has one on frame ``here``.

    Returns:
        ``{track: {frame: points [P, 2]}}`` over every frame where a person placed that track.
    """
    out: dict[Track, dict[int, np.ndarray]] = {}
    for a in doc.annotations.values():
        if a.kind in TRACKED and a.origin == Origin.HUMAN_FINAL and a.frame >= 0:
            out.setdefault((a.kind, a.label_id, a.name), {})[a.frame] = np.asarray(a.points, np.float32)
    return {k: v for k, v in out.items() if here in v}


def track_span(keys: Mapping[int, Any], here: int, n_frames: int) -> tuple[int, int]:
    """Frames ``[first, last]`` holding the span ``here`` affects, with its bounding keyframes."""
    before = [k for k in keys if k < here]
    after = [k for k in keys if k > here]
    return (max(before) if before else 0, min(after) if after else n_frames - 1)


@dataclass(frozen=True)
class PropagationPlan:
    """What propagating from one frame reads and changes.

    Attributes:
        here: the frame propagated from (a keyframe).
        n_frames: frames in the cine.
        masks: the mask keyframes ``{frame: plane}``; empty when ``here`` has no corrected mask.
        tracks: the box and landmark tracks placed on ``here`` (see :func:`track_keyframes`).
        first, last: the frames to read, holding every span affected, with its keyframes.
    """

    here: int
    n_frames: int
    masks: Mapping[int, np.ndarray]
    tracks: Mapping[Track, Mapping[int, np.ndarray]]
    first: int
    last: int

    @property
    def frames(self) -> range:
        """The frame indices :func:`propagate` needs the images of, in order."""
        return range(self.first, self.last + 1)


def plan_propagation(doc: Document, here: int) -> PropagationPlan | None:
    """The plan of propagating from frame ``here``; None when nothing on it was corrected."""
    n = doc.n_frames
    keys = mask_keyframes(doc)
    masks = keys if here in keys else {}
    tracks = track_keyframes(doc, here)
    if not masks and not tracks:
        return None
    spans = [track_span(k, here, n) for k in ([masks] if masks else []) + list(tracks.values())]
    return PropagationPlan(here, n, masks, tracks, min(a for a, _ in spans), max(b for _, b in spans))


@dataclass(frozen=True)
class Propagated:
    """Propagated labels: mask planes ``{frame: plane}`` and points ``{track: {frame: [P, 2]}}``."""

    masks: dict[int, np.ndarray]
    tracks: dict[Track, dict[int, np.ndarray]]


def propagate(plan: PropagationPlan, images: Sequence[np.ndarray]) -> Propagated:
    """Propagate ``plan``; ``images`` are its frames ``first..last`` (``plan.frames``)."""
    masks = _propagate_masks(plan, images) if plan.masks else {}
    return Propagated(masks, propagate_tracks(images, plan.first, plan.tracks, plan.here))


def _propagate_masks(plan: PropagationPlan, images: Sequence[np.ndarray]) -> dict[int, np.ndarray]:
    from engine.tasks.propagate import affected_span, propagate_masks

    keys, here, first = plan.masks, plan.here, plan.first
    lo, hi = affected_span(here, sorted(keys), plan.n_frames)
    a, b = track_span(keys, here, plan.n_frames)
    near = {f - a: p for f, p in keys.items() if a <= f <= b}
    out = propagate_masks(images[a - first : b - first + 1], near, span=(lo - a, hi - a))
    return {f + a: p for f, p in out.items()}


def propagate_tracks(
    images: Sequence[np.ndarray], first: int, tracks: Mapping[Track, Mapping[int, np.ndarray]], here: int
) -> dict[Track, dict[int, np.ndarray]]:
    """Points of each track on the frames of the span ``here`` affects (``images`` start at ``first``)."""
    from engine.tasks.propagate import affected_span, propagate_points

    out = {}
    for track, keys in tracks.items():
        lo, hi = affected_span(here, sorted(keys), len(images) + first)
        a, b = track_span(keys, here, len(images) + first)
        local = {f - first: p for f, p in keys.items() if a <= f <= b}
        moved = propagate_points(
            images[a - first : b - first + 1], {f - (a - first): p for f, p in local.items()}
        )
        out[track] = {f + a: p for f, p in moved.items() if lo <= f + a < hi}
    return out


def mask_commands(doc: Document, planes: Mapping[int, np.ndarray]) -> list[Command]:
    """Commands writing propagated planes as pending drafts."""
    cmds = []
    for f, plane in sorted(planes.items()):
        before = doc.masks.get(f)
        before = np.zeros(doc.shape, np.uint8) if before is None else before
        cmd = mask_diff(f, before, plane, doc.mask_meta.get(f), DRAFT, "propagate mask")
        if cmd is not None:
            cmds.append(cmd)
    return cmds


def track_commands(doc: Document, tracks: Mapping[Track, Mapping[int, np.ndarray]]) -> list[Command]:
    """Commands replacing each track's drafts on the propagated frames with new pending drafts."""
    cmds: list[Command] = []
    for (kind, label, name), frames in tracks.items():
        for a in list(doc.annotations.values()):
            same = (a.kind, a.label_id, a.name) == (kind, label, name)
            if same and a.frame in frames and a.origin == Origin.AI_DRAFT:
                cmds.append(RemoveAnnotation(a, "propagate"))
        for f, pts in sorted(frames.items()):
            points = tuple((float(x), float(y)) for x, y in pts)
            new = Annotation(kind, f, label, points, None, name, Origin.AI_DRAFT, None, Review.PENDING)
            cmds.append(PutAnnotation(new, None, "propagate"))
    return cmds


def propagation_step(doc: Document, result: Propagated) -> Composite | None:
    """One undoable step writing ``result`` into ``doc`` as pending drafts; None when it changes nothing."""
    cmds = mask_commands(doc, result.masks) + track_commands(doc, result.tracks)
    if not cmds:
        return None
    return Composite(f"propagate to {len(result.masks)} masks and {len(result.tracks)} tracks", cmds)
