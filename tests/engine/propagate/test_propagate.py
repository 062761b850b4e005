"""Propagation of corrected masks, boxes and landmarks through a cine."""

from __future__ import annotations

import cv2
import numpy as np

from engine.tasks.propagate import (
    PropagateCfg,
    affected_span,
    dice,
    propagate_boxes,
    propagate_masks,
    propagate_points,
)

N, H, W = 16, 96, 128


def centre(i: int) -> tuple[int, int]:
    return 30 + 4 * i, 48 + int(6 * np.sin(i / 3))


def disk_cine(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright textured disk moving right on speckle, and its exact masks (label 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    frames = cv2.GaussianBlur(rng.integers(20, 70, (N, H, W)).astype(np.uint8), (0, 0), 1.0)
    masks = np.zeros((N, H, W), np.uint8)
    tex = cv2.GaussianBlur(rng.integers(150, 250, (H, W)).astype(np.uint8), (0, 0), 1.5)
    for i in range(N):
        cx, cy = centre(i)
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < 14**2
        shifted = np.roll(np.roll(tex, cx - 30, axis=1), cy - 48, axis=0)
        frames[i][inside] = shifted[inside]
        masks[i][inside] = 3
    return frames, masks


def test_one_corrected_frame_follows_the_structure_both_ways():
    frames, masks = disk_cine()
    out = propagate_masks(list(frames), {8: masks[8]})
    assert sorted(out) == [f for f in range(N) if f != 8]
    scores = [dice(out[f] == 3, masks[f] == 3) for f in out]
    assert min(scores) > 0.85 and np.mean(scores) > 0.9
    assert set(np.unique(out[0])) <= {0, 3}


def test_a_correction_changes_only_its_span():
    frames, masks = disk_cine()
    keys = {0: masks[0], 10: masks[10]}
    before = propagate_masks(list(frames), keys)
    wrong = masks[5].copy()
    wrong[:, :60] = 0  # the user's correction at frame 5 differs from what was propagated
    start, stop = affected_span(5, sorted([*keys, 5]), N)
    assert (start, stop) == (1, 10)
    after = propagate_masks(list(frames), {**keys, 5: wrong}, span=(start, stop))
    assert sorted(after) == [f for f in range(1, 10) if f != 5]
    assert any(not np.array_equal(after[f], before[f]) for f in (4, 6))
    full = propagate_masks(list(frames), {**keys, 5: wrong})
    for f in range(11, N):  # beyond the next keyframe nothing depends on frame 5
        assert np.array_equal(full[f], before[f])


def test_span_between_two_keyframes_blends_both():
    frames, masks = disk_cine()
    out = propagate_masks(list(frames), {0: masks[0], 15: masks[15]}, cfg=PropagateCfg(smooth=0))
    assert np.mean([dice(out[f] == 3, masks[f] == 3) for f in range(1, 15)]) > 0.9


def test_feature_similarity_alone_carries_labels():
    frames, masks = disk_cine()

    def features(i: int) -> np.ndarray:  # two channels at 1/4 resolution: bright and dark
        small = cv2.resize(frames[i], (W // 4, H // 4), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        return np.stack([small, 1 - small])

    out = propagate_masks(
        list(frames), {0: masks[0]}, features=features, cfg=PropagateCfg(feature_weight=1.0)
    )
    assert np.mean([dice(out[f] == 3, masks[f] == 3) for f in range(1, 8)]) > 0.7


def test_landmarks_and_boxes_follow_the_motion():
    frames, _ = disk_cine()
    cx, cy = centre(4)
    pts = propagate_points(list(frames), {4: np.array([[cx, cy]], np.float32)})
    for f in (0, 8, 12):
        ex, ey = centre(f)
        assert np.hypot(*(pts[f][0] - (ex, ey))) < 3.0
    boxes = propagate_boxes(list(frames), {4: np.array([[cx - 14, cy - 14, cx + 14, cy + 14]], np.float32)})
    ex, ey = centre(10)
    x0, y0, x1, y1 = boxes[10][0]
    assert abs((x0 + x1) / 2 - ex) < 3 and abs((y0 + y1) / 2 - ey) < 3 and x1 > x0 and y1 > y0


def test_no_keyframes_means_nothing_to_propagate():
    frames, _ = disk_cine()
    assert propagate_masks(list(frames), {}) == {}
    assert affected_span(3, [], N) == (0, N)
