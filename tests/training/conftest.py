"""Fixtures of the training tests: a small folder tree of synthetic ultrasound-like images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

REGIONS = {"abdomen": ("liver", "kidney"), "neck": ("thyroid", "carotid")}
PROBES = ("linear", "convex")


def fan_image(region: str, organ: str, probe: str, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A grey frame whose texture, structure and fan shape encode region, organ and probe."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = 0.6 if region == "abdomen" else 0.2
    img = base * rng.gamma(2.0, 0.5, (size, size)).astype(np.float32)
    organs = [o for os in REGIONS.values() for o in os]
    k = organs.index(organ)
    cx, cy = 0.5 + rng.uniform(-0.08, 0.08), 0.55 + rng.uniform(-0.08, 0.08)
    if k % 2 == 0:
        blob = ((xx - cx) ** 2 + (yy - cy) ** 2) < 0.03
    else:
        blob = (np.abs(yy - cy) < 0.06) & (np.abs(xx - cx) < 0.35)
    img[blob] = 0.95 if k < 2 else 0.05
    if probe == "linear":
        fan = (xx > 0.1) & (xx < 0.9) & (yy > 0.05)
    else:
        fan = (np.abs(xx - 0.5) < (yy + 0.05) * 0.55) & (yy > 0.05) & (((xx - 0.5) ** 2 + yy**2) < 0.85)
    img = np.where(fan, img, 0.0)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write_tree(root: Path, per_leaf: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for region, organs in REGIONS.items():
        for organ in organs:
            for probe in PROBES:
                folder = root / region / organ / probe
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(per_leaf):
                    cv2.imwrite(str(folder / f"s{seed}_{i}.png"), fan_image(region, organ, probe, rng))
    return root


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory) -> Path:
    """region/organ/probe/*.png, 8 images per leaf (64 images)."""
    return write_tree(tmp_path_factory.mktemp("tree"), per_leaf=8, seed=0)


@pytest.fixture(scope="session")
def image_tree_heldout(tmp_path_factory) -> Path:
    """The same tree with other random images, for held-out evaluation."""
    return write_tree(tmp_path_factory.mktemp("tree_heldout"), per_leaf=4, seed=99)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The CI machine has two shared cores; one intra-op thread avoids oversubscription stalls.

    Session-wide, so module-scoped fixtures and tests run with the same thread count (the
    same float reductions).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
