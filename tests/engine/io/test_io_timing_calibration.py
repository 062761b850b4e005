"""Frame timing (which attribute wins) and calibration (regions, units, fallback, per frame)."""

import numpy as np
import pytest
from dicom_factory import ENHANCED_US_VOLUME, dataset, grey_frames, region, save
from pydicom.dataset import Dataset

from engine.io import open_cine


def _info(tmp_path, n=4, rows=32, cols=48, **tags):
    path = save(dataset(grey_frames(n=n, rows=rows, cols=cols), **tags), tmp_path / "t.dcm")
    with open_cine(path) as cine:
        return cine


def test_frame_time_gives_uniform_timestamps(tmp_path):
    info = _info(tmp_path, FrameTime=40.0, FrameIncrementPointer=0x00181063).info
    assert info.timing_source == "FrameTime" and info.fps == pytest.approx(25.0)
    assert info.timestamps_ms == pytest.approx((0, 40, 80, 120))


def test_frame_time_vector_gives_cumulative_varying_timestamps(tmp_path):
    info = _info(tmp_path, FrameTimeVector=[0, 30, 50, 20], FrameIncrementPointer=0x00181065).info
    assert info.timing_source == "FrameTimeVector"
    assert info.timestamps_ms == pytest.approx((0, 30, 80, 100))
    assert info.fps == pytest.approx(1000 / (100 / 3))


def test_pointer_decides_between_frame_time_and_vector(tmp_path):
    both = {"FrameTime": 40.0, "FrameTimeVector": [0, 10, 10, 10]}
    assert _info(tmp_path, FrameIncrementPointer=0x00181063, **both).info.timing_source == "FrameTime"
    assert _info(tmp_path, FrameIncrementPointer=0x00181065, **both).info.timing_source == "FrameTimeVector"
    # without a pointer the vector (the more detailed description) wins
    assert _info(tmp_path, **both).info.timing_source == "FrameTimeVector"


def test_rate_attributes_in_order_then_default(tmp_path):
    info = _info(tmp_path, CineRate=20, RecommendedDisplayFrameRate=50).info
    assert (info.timing_source, info.fps) == ("CineRate", 20.0)
    assert info.timestamps_ms[-1] == pytest.approx(150.0)
    info = _info(tmp_path, RecommendedDisplayFrameRate=50).info
    assert (info.timing_source, info.fps) == ("RecommendedDisplayFrameRate", 50.0)
    info = _info(tmp_path).info
    assert info.timing_source == "default" and info.fps == 30.0 and len(info.timestamps_ms) == 4


def test_invalid_values_fall_through(tmp_path):
    # a zero frame time and a vector of the wrong length are ignored, CineRate is used
    info = _info(tmp_path, FrameTime=0.0, FrameTimeVector=[0, 10], CineRate=10).info
    assert info.timing_source == "CineRate"


def test_regions_units_and_clamping(tmp_path):
    doppler_item = region(0, 20, 60, 40, dx=0.01, dy=2.5, units=(4, 7), data_type=3, spatial=3)  # s, cm/s
    doppler_item.ReferencePixelX0, doppler_item.ReferencePixelY0 = 5, 10
    doppler_item.ReferencePixelPhysicalValueX, doppler_item.ReferencePixelPhysicalValueY = 0.0, -20.0
    items = [
        region(0, 0, 47, 19, dx=0.05, dy=0.04),  # tissue, cm
        doppler_item,
        region(100, 100, 120, 120),  # entirely outside a 32x48 image
    ]
    cine = _info(tmp_path, SequenceOfUltrasoundRegions=items)
    tissue, doppler = cine.info.calibration.regions
    assert (tissue.spacing_x, tissue.spacing_y) == pytest.approx((0.5, 0.4))  # mm
    assert tissue.unit_x == "mm" and not tissue.clamped and tissue.is_spatial
    assert (doppler.unit_x, doppler.unit_y) == ("s", "cm/s")
    assert (doppler.spacing_x, doppler.spacing_y) == pytest.approx((0.01, 2.5))
    assert (doppler.x1, doppler.y1, doppler.clamped) == (47, 31, True)
    assert doppler.data_type == "pw_doppler" and not doppler.is_spatial
    assert doppler.reference_pixel == (5.0, 10.0) and doppler.reference_value == pytest.approx((0.0, -20.0))
    assert len(cine.info.extra["regions_outside_image"]) == 1
    assert cine.info.calibration.calibrated
    assert cine.info.calibration.mm_per_pixel_at(10, 10) == pytest.approx((0.5, 0.4))
    assert cine.info.calibration.mm_per_pixel_at(10, 25) is None  # Doppler strip: not a distance


def test_pixel_spacing_fallback_and_uncalibrated(tmp_path):
    cal = _info(tmp_path, PixelSpacing=[0.3, 0.2]).info.calibration
    assert cal.source == "pixel_spacing" and cal.calibrated
    assert cal.mm_per_pixel_at(5, 5) == pytest.approx((0.2, 0.3))  # (x = column, y = row)
    bare = _info(tmp_path).info
    assert bare.calibration.source == "none" and not bare.calibration.calibrated
    assert bare.calibration.mm_per_pixel_at(5, 5) is None  # never a silent 1 mm/pixel
    assert bare.as_dict()["calibrated"] is False


def _measures(spacing):
    group, measures = Dataset(), Dataset()
    measures.PixelSpacing = spacing
    group.PixelMeasuresSequence = [measures]
    return group


def test_enhanced_us_per_frame_calibration(tmp_path):
    shared = _measures([0.1, 0.1])
    per_frame = [_measures([0.1, 0.1]), _measures([0.2, 0.2]), _measures([0.3, 0.25])]
    frames = grey_frames(n=3)
    ds = dataset(frames, sop_class=ENHANCED_US_VOLUME)
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = per_frame
    with open_cine(save(ds, tmp_path / "enh.dcm")) as cine:
        assert cine.info.calibration.pixel_spacing == (0.1, 0.1)
        assert [cine.calibration_for(i).pixel_spacing for i in range(3)] == [
            (0.1, 0.1),
            (0.2, 0.2),
            (0.3, 0.25),
        ]
        assert cine.calibration_for(2).mm_per_pixel_at(1, 1) == pytest.approx((0.25, 0.3))
        np.testing.assert_array_equal(cine.frame(2), frames[2])
        assert cine.info.extra["sop_class"].startswith("Enhanced US")
