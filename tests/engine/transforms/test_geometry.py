"""Masks, boxes and points map back exactly through fan crop, resize and pad."""

import numpy as np
import pytest

from engine.transforms.geometry import Geometry

CASES = [
    # original (H, W), input (H, W), crop
    ((120, 160), (256, 256), None),  # upscale, pad top/bottom
    ((100, 60), (256, 256), (5, 10, 55, 90)),  # crop + upscale, pad left/right
    ((600, 800), (256, 256), (100, 50, 700, 550)),  # fan crop + downscale
    ((480, 640), (64, 64), None),  # downscale + pad
    ((64, 64), (64, 64), None),  # identity
]


@pytest.mark.parametrize(("orig", "inp", "crop"), CASES)
def test_points_and_boxes_round_trip(orig, inp, crop):
    g = Geometry.letterbox(orig, inp, crop)
    rng = np.random.default_rng(0)
    x0, y0, x1, y1 = g.crop
    pts = np.stack([rng.uniform(x0, x1 - 1, 50), rng.uniform(y0, y1 - 1, 50)], 1)
    back = g.points_to_original(g.points_to_model(pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    boxes = np.concatenate([pts[:25], pts[25:]], 1)
    lo, hi = np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])
    boxes = np.concatenate([lo, hi], 1)
    np.testing.assert_allclose(g.boxes_to_original(g.boxes_to_model(boxes)), boxes, atol=1e-9)


@pytest.mark.parametrize(("orig", "inp", "crop"), CASES)
def test_crop_lands_inside_unpadded_region(orig, inp, crop):
    g = Geometry.letterbox(orig, inp, crop)
    x0, y0, x1, y1 = g.crop
    corners = g.points_to_model(np.array([[x0 - 0.5, y0 - 0.5], [x1 - 0.5, y1 - 0.5]]))
    rh, rw = g.resized_size
    np.testing.assert_allclose(corners[0], [g.pad[0] - 0.5, g.pad[1] - 0.5], atol=1e-9)
    np.testing.assert_allclose(corners[1], [g.pad[0] + rw - 0.5, g.pad[1] + rh - 0.5], atol=1e-9)
    assert g.pad[0] >= 0 and g.pad[0] + rw <= inp[1]
    assert g.pad[1] >= 0 and g.pad[1] + rh <= inp[0]


def _blobs(shape, seed, n=4):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    m = np.zeros(shape, np.uint8)
    for k in range(1, n + 1):
        cy, cx = rng.uniform(0.2, 0.8) * shape[0], rng.uniform(0.2, 0.8) * shape[1]
        r = rng.uniform(0.05, 0.2) * min(shape)
        m[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = k
    return m


@pytest.mark.parametrize(("orig", "inp", "crop"), CASES)
def test_masks_round_trip_exactly(orig, inp, crop):
    """Upscaling: original -> model -> original is the identity inside the crop.

    Downscaling loses pixels, so there the exact direction is model -> original -> model.
    """
    g = Geometry.letterbox(orig, inp, crop)
    x0, y0, x1, y1 = g.crop
    if g.scale >= 1:
        mask = _blobs(orig, 1)
        back = g.labels_to_original(g.image_to_model(mask, nearest=True))
        np.testing.assert_array_equal(back[y0:y1, x0:x1], mask[y0:y1, x0:x1])
        outside = back.copy()
        outside[y0:y1, x0:x1] = 0
        assert not outside.any()
    else:
        model_mask = np.zeros(inp, np.uint8)
        rh, rw = g.resized_size
        model_mask[g.pad[1] : g.pad[1] + rh, g.pad[0] : g.pad[0] + rw] = _blobs((rh, rw), 2)
        again = g.image_to_model(g.labels_to_original(model_mask), nearest=True)
        np.testing.assert_array_equal(again, model_mask)


@pytest.mark.parametrize(("orig", "inp", "crop"), CASES)
def test_mask_pixels_follow_points(orig, inp, crop):
    """Each original pixel takes the label of the model pixel its centre maps to."""
    g = Geometry.letterbox(orig, inp, crop)
    model_mask = _blobs(inp, 3)
    back = g.labels_to_original(model_mask)
    rng = np.random.default_rng(4)
    x0, y0, x1, y1 = g.crop
    for _ in range(200):
        x, y = int(rng.integers(x0, x1)), int(rng.integers(y0, y1))
        mx, my = g.points_to_model(np.array([[x, y]]))[0]
        assert back[y, x] == model_mask[int(np.floor(my + 0.5)), int(np.floor(mx + 0.5))]


def test_quarter_scale_labels_map_back():
    g = Geometry.letterbox((128, 128), (64, 64))
    quarter = np.zeros((16, 16), np.uint8)
    quarter[4:8, 8:12] = 1  # model pixels 16..31 x 32..47 -> original 32..63 x 64..95
    back = g.labels_to_original(quarter)
    assert back.sum() == 32 * 32
    ys, xs = np.nonzero(back)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (32, 63, 64, 95)


def test_scores_to_original_keeps_constant_maps_and_zero_outside_crop():
    g = Geometry.letterbox((100, 60), (64, 64), (5, 10, 55, 90))
    scores = np.stack([np.full((64, 64), 0.25), np.full((64, 64), 0.75)]).astype(np.float32)
    out = g.scores_to_original(scores)
    np.testing.assert_allclose(out[:, 10:90, 5:55], scores[:, :1, :1].repeat(80, 1).repeat(50, 2), atol=1e-6)
    assert not out[:, :10].any() and not out[:, :, 55:].any()


@pytest.mark.parametrize(
    ("size", "crop", "scores_size"),
    [((100, 60), (5, 10, 55, 90), (64, 64)), ((256, 256), None, (128, 128)), ((90, 140), None, (16, 16))],
)
def test_argmax_to_original_equals_the_argmax_of_the_resampled_scores(size, crop, scores_size):
    g = Geometry.letterbox(size, (64, 64) if crop else (128, 128), crop)
    rng = np.random.default_rng(1)
    scores = rng.random((6, *scores_size)).astype(np.float32)
    scores[4] = scores[2]  # exact ties wherever either is best: the lower class wins, as in argmax
    labels = g.argmax_to_original(scores)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, g.scores_to_original(scores).argmax(axis=0))
    assert (labels == 2).any() and not (labels == 4).any()


def test_image_to_original_keeps_geometry_and_background():
    g = Geometry.letterbox((90, 70), (64, 64), (10, 5, 60, 85))
    bg = np.random.default_rng(0).integers(0, 255, (90, 70)).astype(np.uint8)
    out = g.image_to_original(np.full((64, 64), 7.0, np.float32), bg)
    assert out.shape == bg.shape
    np.testing.assert_array_equal(out[:5], bg[:5])
    np.testing.assert_allclose(out[5:85, 10:60], 7.0)


def test_bad_crop_is_rejected():
    with pytest.raises(ValueError, match="outside"):
        Geometry.letterbox((10, 10), (32, 32), (0, 0, 11, 5))
