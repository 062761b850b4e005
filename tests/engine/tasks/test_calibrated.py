"""On a calibrated DICOM, areas and distances equal a hand computation from PhysicalDeltaX/Y."""

import math

import numpy as np
import pytest

from engine.io.open import open_cine
from engine.tasks.runner import run_tasks

DX_CM, DY_CM = 0.031, 0.027  # PhysicalDeltaX/Y in cm per pixel: 0.31 mm x 0.27 mm


class ScriptedLandmarks:
    """Wraps a predictor and replaces the landmark heatmaps by Gaussians at known model points."""

    def __init__(self, inner, points):
        self.inner, self.points = inner, np.asarray(points, float)

    def run_heads(self, keys, images, names):
        out = self.inner.run_heads(keys, images, names)
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
    run = run_tasks(cine, ScriptedLandmarks(predictor, model_pts), cfg, ref, "segmentation,landmarks")
    dx_mm, dy_mm = DX_CM * 10, DY_CM * 10
    for seg in run.tasks["segmentation"].frames:
        for k, q in enumerate(seg.areas):
            hand = float((seg.mask == k + 1).sum()) * dx_mm * dy_mm
            assert q.unit == "mm2" and q.calibrated
            assert q.value == pytest.approx(hand, rel=0.01, abs=1e-9)
    lm = run.tasks["landmarks"].frames[0]
    # the model saw 128x96 letterboxed to 64x64: scale 0.5, 8 px of padding on top
    expected = np.array([((x + 0.5) / 0.5 - 0.5, (y - 8 + 0.5) / 0.5 - 0.5) for x, y in model_pts])
    np.testing.assert_allclose(lm.points, expected, atol=0.15)
    (a, b) = expected[1], expected[2]
    hand = math.hypot((a[0] - b[0]) * dx_mm, (a[1] - b[1]) * dy_mm)
    dist = lm.measurements[0]
    assert dist.unit == "mm" and dist.value == pytest.approx(hand, rel=0.01)


def test_uncalibrated_dicom_reports_flagged_pixels(tmp_path, tiny, predictor, beating, us_dicom):
    cfg, _, ref = tiny
    cine = open_cine(us_dicom(tmp_path / "raw.dcm", beating(n=3)))
    assert not cine.calibration.calibrated
    run = run_tasks(cine, predictor, cfg, ref, "segmentation,landmarks,detection")
    seg = run.tasks["segmentation"].frames[0]
    assert not seg.calibrated and {q.unit for q in seg.areas} == {"px2"}
    assert [q.value for q in seg.areas] == [float((seg.mask == k + 1).sum()) for k in range(2)]
    dist = run.tasks["landmarks"].frames[0].measurements[0]
    assert dist.unit == "px" and not dist.calibrated
    assert all(not d.calibrated or len(d.boxes) == 0 for d in run.tasks["detection"].frames)
    assert run.tasks["segmentation"].summary[0].unit == "px2"
