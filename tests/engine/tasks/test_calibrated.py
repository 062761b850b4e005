"""On a calibrated DICOM, areas and distances equal a hand computation from PhysicalDeltaX/Y."""

import math

import numpy as np
import pytest

from engine.io.open import open_cine
from engine.tasks.runner import run_tasks

DX_CM, DY_CM = 0.031, 0.027  # PhysicalDeltaX/Y in cm per pixel: 0.31 mm x 0.27 mm


class ScriptedLandmarks:
    """Wraps a predictor: landmark heatmaps become Gaussians at known model points, and one
    detection candidate becomes a confident box at a known model-space position."""

    BOX = (12.0, 20.0, 44.0, 50.0)  # x0, y0, x1, y1 in model pixels

    def __init__(self, inner, points):
        self.inner, self.points = inner, np.asarray(points, float)

    def run_heads(self, keys, images, names):
        out = self.inner.run_heads(keys, images, names)
        if "segmentation" in out:  # a disk of radius 12 model pixels around (32, 32) is "lv"
            logits = out["segmentation"]["logits"]
            yy, xx = np.mgrid[: logits.shape[-2], : logits.shape[-1]]
            inside = (xx - 32) ** 2 + (yy - 32) ** 2 <= 12**2
            logits[:] = 0.0
            logits[:, 1] = np.where(inside, 10.0, -10.0)
        if "detection" in out:
            det = out["detection"]
            det["cls_logits"][:] = -20.0
            det["cls_logits"][:, 5, 0] = 8.0
            det["ctr_logits"][:, 5] = 8.0
            det["boxes"][:, 5] = self.BOX
        if "landmarks" in out:
            maps = out["landmarks"]["heatmaps"]
            h, w = maps.shape[-2:]
            s = images.shape[-1] / w
            yy, xx = np.mgrid[:h, :w]
            for k, (x, y) in enumerate(self.points):
                hx, hy = (x - (s - 1) / 2) / s, (y - (s - 1) / 2) / s
                maps[:, k] = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / 2.0)
        return out


def test_areas_and_distances_match_physical_delta(tmp_path, tiny, predictor, beating, us_dicom):
    cfg, _, ref = tiny
    path = us_dicom(tmp_path / "cal.dcm", beating(n=4), [(0, 0, 127, 95, DX_CM, DY_CM)])
    cine = open_cine(path)
    assert cine.calibration.calibrated
    model_pts = [(20.3, 31.7), (50.25, 12.5), (40.0, 55.5)]  # apex, mitral_left, mitral_right
    run = run_tasks(
        cine, ScriptedLandmarks(predictor, model_pts), cfg, ref, "segmentation,landmarks,detection"
    )
    dx_mm, dy_mm = DX_CM * 10, DY_CM * 10
    for seg in run.tasks["segmentation"].frames:
        for k, q in enumerate(seg.areas):
            hand = float((seg.mask == k + 1).sum()) * dx_mm * dy_mm
            assert q.unit == "mm2" and q.calibrated
            assert q.value == pytest.approx(hand, rel=0.01, abs=1e-9)
    # the disk is 24 original pixels in radius (scale 0.5): pi r^2 in mm2 from PhysicalDeltaX/Y
    disk = run.tasks["segmentation"].frames[0].areas[0]
    assert disk.value == pytest.approx(math.pi * 24**2 * dx_mm * dy_mm, rel=0.01)
    lm = run.tasks["landmarks"].frames[0]
    # the model saw 128x96 letterboxed to 64x64: scale 0.5, 8 px of padding on top
    expected = np.array([((x + 0.5) / 0.5 - 0.5, (y - 8 + 0.5) / 0.5 - 0.5) for x, y in model_pts])
    np.testing.assert_allclose(lm.points, expected, atol=0.15)
    (a, b) = expected[1], expected[2]
    hand = math.hypot((a[0] - b[0]) * dx_mm, (a[1] - b[1]) * dy_mm)
    dist = lm.measurements[0]
    assert dist.unit == "mm" and dist.value == pytest.approx(hand, rel=0.01)

    det = run.tasks["detection"].frames[0]
    assert len(det.boxes) == 1 and det.calibrated
    x0, y0, x1, y1 = ScriptedLandmarks.BOX  # model -> original: x / 0.5, (y - 8) / 0.5
    np.testing.assert_allclose(
        det.boxes[0], [2 * x0 + 0.5, 2 * (y0 - 8) + 0.5, 2 * x1 + 0.5, 2 * (y1 - 8) + 0.5]
    )
    hand = ((x1 - x0) * 2 * dx_mm, (y1 - y0) * 2 * dy_mm)
    np.testing.assert_allclose(det.sizes_mm[0], hand, rtol=0.01)


def test_uncalibrated_dicom_reports_flagged_pixels(tmp_path, tiny, predictor, beating, us_dicom):
    cfg, _, ref = tiny
    cine = open_cine(us_dicom(tmp_path / "raw.dcm", beating(n=3)))
    assert not cine.calibration.calibrated
    scripted = ScriptedLandmarks(predictor, [(20.0, 30.0), (40.0, 12.0), (40.0, 50.0)])
    run = run_tasks(cine, scripted, cfg, ref, "segmentation,landmarks,detection")
    seg = run.tasks["segmentation"].frames[0]
    assert not seg.calibrated and {q.unit for q in seg.areas} == {"px2"}
    assert [q.value for q in seg.areas] == [float((seg.mask == k + 1).sum()) for k in range(2)]
    dist = run.tasks["landmarks"].frames[0].measurements[0]
    assert dist.unit == "px" and not dist.calibrated
    det = run.tasks["detection"].frames[0]
    assert len(det.boxes) == 1 and not det.calibrated and np.isnan(det.sizes_mm).all()
    assert run.tasks["segmentation"].summary[0].unit == "px2"
