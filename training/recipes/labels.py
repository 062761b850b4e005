"""The demo model's label space: one set of labels per head, shared by every simulated scene.

Each scene teaches the heads it has exact labels for (:data:`SCENE_HEADS`); its own label ids
are mapped into these shared lists.
"""

from __future__ import annotations

import numpy as np

SEG_LABELS = ("lesion", "vessel", "lv_cavity", "lv_myocardium", "head")
CLASSES = ("benign", "malignant")
DETECTION = ("kidney", "cyst", "gallbladder", "mass")
LANDMARKS = ("bpd_a", "bpd_b", "ofd_a", "ofd_b", "lv_apex", "lv_base")
# the simulator names the two ends of a diameter in no fixed order; the model learns them
# ordered along the diameter's main axis: "_a" is the left end of a mostly horizontal diameter,
# the upper end of a mostly vertical one
PAIRS = (("bpd_a", "bpd_b"), ("ofd_a", "ofd_b"))
REGRESSION = ("hc_mm", "bpd_mm")
REGRESSION_UNITS = ("mm", "mm")
MEASUREMENTS = (
    {"name": "BPD", "kind": "distance", "points": ["bpd_a", "bpd_b"]},
    {"name": "OFD", "kind": "distance", "points": ["ofd_a", "ofd_b"]},
    # the four biometry points sit on the axis ends of the ellipse fitted to the segmented head;
    # HC is that ellipse's circumference (engine.tasks.landmarks)
    {"name": "HC", "kind": "ellipse", "structure": "head", "points": ["bpd_a", "bpd_b", "ofd_a", "ofd_b"]},
    {"name": "LV length", "kind": "distance", "points": ["lv_apex", "lv_base"]},
    {"name": "EF", "kind": "ejection_fraction", "structure": "lv_cavity"},
)

SCENE_HEADS: dict[str, tuple[str, ...]] = {
    "lesion": ("segmentation", "classification", "report"),
    "vessels": ("segmentation", "report"),
    "organs": ("detection", "report"),
    "fetal_head": ("segmentation", "landmarks", "regression", "report"),
    "cardiac": ("segmentation", "landmarks", "report"),
    "enhance": ("enhancement",),
}

# heads a domain-randomised simulation does not teach: the lesion class is defined by margins
# and posterior shadowing, which randomised posterior effects and lesions of a few millimetres
# no longer show, so those frames carry no class (the classification loss ignores them)
RANDOMISED_UNTAUGHT: dict[str, tuple[str, ...]] = {"lesion": ("classification",)}


def canonical_pairs(names: tuple[str, ...], points: np.ndarray) -> np.ndarray:
    """``points`` ``[K, 2]`` (x, y) in ``names`` order with each diameter's ends ordered (PAIRS)."""
    out = points.copy()
    for a, b in PAIRS:
        if a in names and b in names:
            i, j = names.index(a), names.index(b)
            dx, dy = out[j] - out[i]
            if (dx < 0) if abs(dx) >= abs(dy) else (dy < 0):
                out[[i, j]] = out[[j, i]]
    return out
