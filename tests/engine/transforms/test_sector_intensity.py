"""Fan detection, crop-to-fan and intensity preprocessing."""

import cv2
import numpy as np
import pytest

from engine.config import ModelCfg
from engine.transforms.geometry import Geometry
from engine.transforms.intensity import denormalize, normalize, to_channels, to_unit_range
from engine.transforms.preprocess import preprocess
from engine.transforms.sector import detect_sector


def fan_frame(h=300, w=400, seed=0):
    """A speckled 70-degree fan with its apex at the top centre, plus burned-in text."""
    rng = np.random.default_rng(seed)
    fan = np.zeros((h, w), np.uint8)
    cv2.ellipse(fan, (w // 2, 20), (250, 250), 90, -35, 35, 255, -1)
    speckle = rng.rayleigh(60, (h, w)).clip(20, 255).astype(np.uint8)
    frame = np.where(fan > 0, speckle, 0).astype(np.uint8)
    cv2.putText(frame, "12 cm", (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1)
    return frame, fan > 0


def test_detect_sector_finds_the_fan_not_the_text():
    frame, truth = fan_frame()
    sector = detect_sector(frame)
    assert sector.found
    ys, xs = np.nonzero(truth)
    expected = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert all(abs(a - b) <= 3 for a, b in zip(sector.box, expected))
    iou = (sector.mask & truth).sum() / (sector.mask | truth).sum()
    assert iou > 0.95


def test_detect_sector_over_a_stack_and_blank_frames():
    frames = np.stack([fan_frame(seed=s)[0] for s in range(3)])
    assert detect_sector(frames).found
    blank = detect_sector(np.zeros((50, 60), np.uint8))
    assert not blank.found and blank.box == (0, 0, 60, 50)


def test_points_round_trip_through_fan_crop_resize_and_pad():
    frame, _ = fan_frame()
    sector = detect_sector(frame)
    cfg = ModelCfg(name="t", arch="echocare_test", input_size=(64, 64))
    prep = preprocess(frame, cfg, sector.box)
    assert prep.image.shape == (3, 64, 64) and prep.image.dtype == np.float32
    pts = np.array([[200.0, 150.0], [120.5, 210.25]])
    np.testing.assert_allclose(prep.geometry.points_to_original(prep.geometry.points_to_model(pts)), pts)


def test_intensity_scaling_and_channels():
    u8 = np.array([[0, 255]], np.uint8)
    np.testing.assert_allclose(to_unit_range(u8), [[0.0, 1.0]])
    u16 = np.array([[0, 4095]], np.uint16)  # 12-bit data keeps full contrast
    np.testing.assert_allclose(to_unit_range(u16), [[0.0, 1.0]])
    chw = to_channels(np.ones((4, 5), np.float32))
    assert chw.shape == (3, 4, 5)
    rgb = np.zeros((4, 5, 3), np.float32)
    rgb[..., 1] = 1
    assert to_channels(rgb)[1].all() and not to_channels(rgb)[0].any()
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    np.testing.assert_allclose(denormalize(normalize(x, mean, std), mean, std), x, atol=1e-6)


def test_preprocess_rejects_bad_frames():
    cfg = ModelCfg(name="t", arch="echocare_test", input_size=(64, 64))
    with pytest.raises(ValueError, match="frame must be"):
        preprocess(np.zeros((4, 5, 4), np.uint8), cfg)


def test_preprocess_normalises_with_the_card():
    cfg = ModelCfg(name="t", arch="x", input_size=(32, 32), mean=(0.5,) * 3, std=(0.5,) * 3)
    prep = preprocess(np.full((32, 32), 255, np.uint8), cfg)
    np.testing.assert_allclose(prep.image, 1.0)
    assert prep.geometry == Geometry.letterbox((32, 32), (32, 32))
