"""The "correct these next" queue: the frames of a cine a correction would help most.

Each frame is scored by the uncertainty of a version's segmentation (entropy of its softmax)
and by how unlike its encoder features are to the frames already corrected (k-center), with
``training.api.correct_next``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.model.adaptation.segment import segment
from engine.progress import NEVER, CancelToken

if TYPE_CHECKING:
    from engine.io.cine import Cine
    from training.api import QueueItem


def rank_frames(
    ref: str, cine: Cine, budget: int, corrected: Sequence[int] = (), cancel: CancelToken = NEVER
) -> list[QueueItem]:
    """The ``budget`` frames of ``cine`` most worth correcting next with version ``ref``, best first.

    Args:
        corrected: frames already corrected (never listed; they count as covered).
    """
    from training.api import correct_next

    frames = range(cine.n_frames)
    seg = segment(ref, cine, frames, cancel)
    return correct_next(seg.frames, seg.probs, seg.features, budget, labelled=list(corrected))
