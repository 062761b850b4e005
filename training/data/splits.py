"""Patient-level splits by a stable hash: a patient's split depends only on its id and the salt.

Adding or removing other patients never moves anyone between splits, so the frozen test split
stays the same across runs and model versions, which makes their metrics comparable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from training.config import SplitCfg

T = TypeVar("T")
SPLITS = ("train", "val", "test")


def split_of(patient: str, cfg: SplitCfg) -> str:
    """ "train", "val" or "test" for one patient id."""
    digest = hashlib.sha256(f"{cfg.salt}\x00{patient}".encode()).hexdigest()
    u = int(digest[:13], 16) / 16**13
    if u < cfg.test:
        return "test"
    return "val" if u < cfg.test + cfg.val else "train"


def split_items(items: Sequence[T], patient: Callable[[T], str], cfg: SplitCfg) -> dict[str, list[T]]:
    """Group items by their patient's split; every split key is present."""
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    for it in items:
        out[split_of(patient(it), cfg)].append(it)
    return out
