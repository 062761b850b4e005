"""Scenes: determinism, exact labels, physically consistent values and reports built from them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from training.sim import CONVEX, SimConfig, list_scenes, simulate, site_shift
from training.sim.report import formatted_values, numbers_in
from training.sim.scenes.base import mask_box

SMALL = SimConfig(height=128, width=128)


def _perimeter_ellipse(a: float, b: float) -> float:
    t = np.linspace(0.0, 2.0 * np.pi, 200_001)
    return float(np.sum(np.hypot(np.diff(a * np.cos(t)), np.diff(b * np.sin(t)))))


def test_every_task_has_a_scene() -> None:
    assert {"lesion", "vessels", "organs", "fetal_head", "cardiac", "enhance"} <= set(list_scenes())


@pytest.mark.parametrize("name", list_scenes())
def test_same_seed_same_output_other_seed_other_output(name: str) -> None:
    a, b, c = simulate(name, 7, SMALL), simulate(name, 7, SMALL), simulate(name, 8, SMALL)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.truth.masks, b.truth.masks)
    np.testing.assert_array_equal(a.truth.landmarks, b.truth.landmarks)
    assert a.truth.as_json() == b.truth.as_json()
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("name", list_scenes())
def test_burned_in_text_only_outside_the_fan(name: str) -> None:
    r = simulate(name, 1, SMALL)
    t = r.truth
    assert t.text_mask.sum() > 50
    assert not np.any(t.text_mask & t.fan_mask)
    assert t.patient.name.replace("^", " ") in t.burned_text
    background = ~t.fan_mask & ~t.text_mask
    assert r.frames[:, background].max() == 0
    assert np.all(r.frames[:, t.text_mask] > 0)
    assert t.masks[:, ~t.fan_mask].max() == 0


@pytest.mark.parametrize("name", list_scenes())
def test_every_number_in_the_report_is_a_ground_truth_value(name: str) -> None:
    for seed in range(3):
        t = simulate(name, seed, SMALL).truth
        numbers = numbers_in(t.report)
        assert numbers, t.report
        assert set(numbers) <= formatted_values(t.values), t.report


@pytest.mark.parametrize("malignant", [False, True])
def test_lesion_mask_area_matches_the_analytic_area(malignant: bool) -> None:
    for seed in range(4):
        r = simulate("lesion", seed, SimConfig(height=256, width=256), malignant=malignant)
        t, s = r.truth, r.spacing_mm[0]
        assert t.class_name == ("malignant" if malignant else "benign")
        area = (t.masks[0] == 1).sum() * s * s
        # pixel-centre sampling errs only in the band of pixels the boundary crosses
        tol = 0.5 * t.values["perimeter_mm"].value * s
        assert abs(area - t.values["area_mm2"].value) < tol
        np.testing.assert_array_equal(t.boxes[0][0], mask_box(t.masks[0] == 1))


@pytest.mark.parametrize("echo", ["hypo", "hyper"])
def test_lesion_contrast_sign_follows_echogenicity(echo: str) -> None:
    r = simulate("lesion", 3, SimConfig(height=192, width=192, overlay=False), echo=echo, malignant=False)
    lesion = r.truth.masks[0] == 1
    x0, y0, x1, y1 = (int(v) for v in r.truth.boxes[0][0])
    ring = np.zeros_like(lesion)
    ring[max(0, y0 - 8) : y1 + 9, max(0, x0 - 8) : x1 + 9] = True
    ring &= ~lesion & r.truth.fan_mask
    diff = r.frames[0][lesion].mean() - r.frames[0][ring].mean()
    assert (diff < -15) if echo == "hypo" else (diff > 15)
    assert (r.truth.values["contrast_db"].value < 0) == (echo == "hypo")


def test_malignant_lesion_casts_a_posterior_shadow() -> None:
    r = simulate("lesion", 5, SimConfig(height=256, width=256, overlay=False), malignant=True)
    x0, _, x1, y1 = (int(v) for v in r.truth.boxes[0][0])
    rows = slice(y1 + 4, min(y1 + 40, r.truth.fan_mask.shape[0]))
    frame, fan = r.frames[0].astype(float), r.truth.fan_mask
    behind = frame[rows, x0 + 2 : x1 - 1][fan[rows, x0 + 2 : x1 - 1]]
    side = np.concatenate(
        [frame[rows, : x0 - 10][fan[rows, : x0 - 10]], frame[rows, x1 + 10 :][fan[rows, x1 + 10 :]]]
    )
    assert behind.mean() < side.mean() - 10


def test_fetal_head_landmarks_and_biometry_are_exact() -> None:
    for seed in range(3):
        r = simulate("fetal_head", seed, SimConfig(height=256, width=256))
        t, s = r.truth, r.spacing_mm[0]
        lm = t.landmarks[0]
        bpd, ofd = t.values["bpd_mm"].value, t.values["ofd_mm"].value
        assert np.hypot(*(lm[0] - lm[1])) * s == pytest.approx(bpd, rel=1e-5)
        assert np.hypot(*(lm[2] - lm[3])) * s == pytest.approx(ofd, rel=1e-5)
        assert t.values["hc_mm"].value == pytest.approx(_perimeter_ellipse(ofd / 2, bpd / 2), rel=1e-6)
        head = t.masks[0] == 1
        area = head.sum() * s * s
        assert abs(area - np.pi * bpd * ofd / 4) < 0.5 * t.values["hc_mm"].value * s
        # landmarks lie on the mask boundary: within a pixel of both head and non-head pixels
        for x, y in lm:
            patch = head[round(y) - 1 : round(y) + 2, round(x) - 1 : round(x) + 2]
            assert patch.any() and not patch.all()


@pytest.mark.parametrize("seed", [11, 34])
def test_cardiac_ed_es_volumes_and_ejection_fraction(seed: int) -> None:
    r = simulate("cardiac", seed, SimConfig(height=192, width=192))
    t, s = r.truth, r.spacing_mm[0]
    area, _ = t.frame_values["lv_area_mm2"]
    length, _ = t.frame_values["lv_length_mm"]
    volume, _ = t.frame_values["lv_volume_ml"]
    ed, es = int(t.values["ed_frame"].value), int(t.values["es_frame"].value)
    assert area[ed] == area.max() and area[es] == area.min()
    assert ed < es
    ef = (volume[ed] - volume[es]) / volume[ed] * 100.0
    assert t.values["ef"].value == pytest.approx(ef, rel=1e-12)
    # area-length on an ellipse equals the prolate spheroid 4/3 pi a^2 b
    a, b = area / (np.pi * length / 2), length / 2
    np.testing.assert_allclose(volume, 4 / 3 * np.pi * a**2 * b / 1000, rtol=1e-9)
    cavity = (t.masks == 1).sum(axis=(1, 2)) * s * s
    perimeter = np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b)))
    assert np.all(np.abs(cavity - area) < 0.5 * perimeter * s)
    assert cavity[ed] > cavity[es]
    np.testing.assert_allclose(np.hypot(*(t.landmarks[:, 0] - t.landmarks[:, 1]).T) * s, length, rtol=1e-5)
    assert t.class_name == ("reduced_ef" if ef < 50 else "normal_ef")
    assert len(r.frames) == 48 and r.fps == 30.0


@pytest.mark.parametrize("target", [35.0, 60.0])
def test_cardiac_hits_a_requested_ejection_fraction(target: float) -> None:
    t = simulate("cardiac", 2, SMALL, ef=target).truth
    assert t.values["ef"].value == pytest.approx(target, abs=1e-9)


def test_organ_boxes_cover_their_class_masks() -> None:
    for seed in range(4):
        t = simulate("organs", seed, SimConfig(height=192, width=192)).truth
        boxes, labels = t.boxes[0], t.box_labels[0]
        assert len(boxes) == t.values["object_count"].value >= 1
        covered = np.zeros(t.masks[0].shape, bool)
        for (x0, y0, x1, y1), k in zip(boxes.astype(int), labels):
            inside = t.masks[0][y0 : y1 + 1, x0 : x1 + 1] == k + 1
            assert inside.any()
            covered[y0 : y1 + 1, x0 : x1 + 1] |= inside
        assert np.array_equal(covered, t.masks[0] > 0)


def test_vessels_are_anechoic_and_boxed() -> None:
    r = simulate("vessels", 4, SimConfig(height=192, width=192, overlay=False))
    t = r.truth
    lumen = t.masks[0] == 1
    assert len(t.boxes[0]) == t.values["vessel_count"].value
    assert r.frames[0][lumen].mean() < r.frames[0][t.fan_mask & ~lumen].mean() - 40


def test_enhancement_pair_shares_the_scene_and_the_clean_image_is_cleaner() -> None:
    r = simulate("enhance", 3, SimConfig(height=192, width=192))
    t = r.truth
    assert t.clean is not None and t.clean.shape == r.frames.shape
    fan = t.fan_mask & (t.masks[0] == 0)
    err = (r.frames[0][t.fan_mask].astype(float) - t.clean[0][t.fan_mask]) ** 2
    assert t.values["input_psnr_db"].value == pytest.approx(10 * np.log10(255**2 / err.mean()))
    smooth_lo = np.abs(np.diff(r.frames[0].astype(float), axis=1))[fan[:, 1:] & fan[:, :-1]].mean()
    smooth_hi = np.abs(np.diff(t.clean[0].astype(float), axis=1))[fan[:, 1:] & fan[:, :-1]].mean()
    assert smooth_hi < 0.5 * smooth_lo
    assert simulate("lesion", 3, SMALL, clean=True).truth.clean is not None


def test_site_shift_keeps_anatomy_and_changes_appearance() -> None:
    base = simulate("lesion", 4, SimConfig(height=192, width=192))
    shifted = simulate("lesion", 4, site_shift(SimConfig(height=192, width=192)))
    np.testing.assert_array_equal(base.truth.masks, shifted.truth.masks)
    assert base.truth.values == shifted.truth.values
    assert base.truth.class_index == shifted.truth.class_index
    fan = base.truth.fan_mask
    assert abs(base.frames[0][fan].mean() - shifted.frames[0][fan].mean()) > 5
    other = simulate(
        "lesion", 4, site_shift(SimConfig(height=192, width=192), probe=replace(CONVEX, depth_mm=60.0))
    )
    assert other.probe_kind == "convex" and not np.array_equal(other.truth.fan_mask, fan)


def test_cine_drift_moves_masks_and_boxes_together() -> None:
    r = simulate("lesion", 6, replace(SMALL, frames=6))
    t = r.truth
    assert r.frames.shape[0] == 6 and not np.array_equal(t.masks[0], t.masks[-1])
    for mask, box in zip(t.masks, t.boxes):
        np.testing.assert_array_equal(box[0], mask_box(mask == 1))


def test_calibration_and_cine_carry_the_simulated_spacing() -> None:
    r = simulate("cardiac", 0, SMALL)
    x0, y0, x1, y1 = r.fan_bbox
    spacing = r.calibration().mm_per_pixel_at((x0 + x1) / 2, (y0 + y1) / 2)
    assert spacing == pytest.approx(r.spacing_mm)
    cine = r.cine()
    assert cine.info.frames == 48 and cine.info.fps == 30.0 and cine.info.calibration.calibrated
