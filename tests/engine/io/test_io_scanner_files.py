"""Real scanner files from the pydicom wheel and pydicom-data: frames, colour, timing, regions."""

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_color_lut, pixel_array

from engine.io import open_cine


def _file(name):
    path = get_testdata_file(name)
    assert path is not None, f"{name} not installed (pydicom-data is a dev dependency)"
    return path


def _tags(item, *names):
    return [item.get(n) for n in names]


def test_sonosite_ybr_jpeg_cine_matches_reference_frames_timing_and_region():
    path = _file("examples_ybr_color.dcm")
    ds = pydicom.dcmread(path)
    # [30, 240, 320, 3] RGB from another libjpeg build: the IDCT may round a few levels apart
    reference = pixel_array(path, decoding_plugin="pillow")
    with open_cine(path) as cine:
        info = cine.info
        assert (info.kind, info.frames, info.rows, info.columns) == ("dicom", 30, 240, 320)
        assert info.color and info.photometric == "YBR_FULL_422"
        assert info.transfer_syntax == "JPEG Baseline (Process 1)"
        assert info.manufacturer.startswith("SonoSite")
        for i in (0, 13, 29):
            frame = cine.frame(i)
            assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
            diff = np.abs(frame.astype(int) - reference[i])  # IDCT and YBR -> RGB rounding only
            assert diff.max() <= 3 and diff.mean() < 0.1
        # the pointer names FrameTime; 33.333 ms per frame
        assert ds.FrameIncrementPointer == 0x00181063
        assert info.timing_source == "FrameTime"
        assert info.fps == pytest.approx(1000.0 / float(ds.FrameTime))
        assert len(info.timestamps_ms) == 30 and info.timestamps_ms[0] == 0.0
        assert info.timestamps_ms[29] == pytest.approx(29 * float(ds.FrameTime))
        # one region, stored for the original 600x800 screen: bounds clamped, flagged
        item = ds.SequenceOfUltrasoundRegions[0]
        (region,) = info.calibration.regions
        x0, y0, x1, y1 = _tags(
            item, "RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1"
        )
        assert x1 > 319 and y1 > 239
        assert (region.x0, region.y0, region.x1, region.y1) == (x0, y0, 319, 239)
        assert region.clamped
        assert region.unit_x == region.unit_y == "mm"
        assert region.spacing_x == pytest.approx(float(item.PhysicalDeltaX) * 10)  # cm -> mm
        assert region.data_type == "tissue"
        assert info.calibration.calibrated
        assert "may have been resized" in info.extra["calibration_notes"][0]


def test_philips_palette_regions_and_colour():
    path = _file("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    with open_cine(path) as cine:
        frame = cine.frame(0)
        info = cine.info
    expected = (apply_color_lut(ds.pixel_array, ds) >> 8).astype(np.uint8)  # 16-bit LUT -> 8 bit
    assert frame.shape == (350, 800, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, expected)
    assert info.photometric == "PALETTE COLOR" and info.color and info.timing_source == "single"
    tissue_item, ecg_item = ds.SequenceOfUltrasoundRegions
    (tissue,) = info.calibration.regions
    assert (tissue.x0, tissue.y0, tissue.x1, tissue.y1) == (120, 60, 799, 349) and tissue.clamped
    assert tissue.spacing_x == pytest.approx(0.262, abs=5e-4)  # PhysicalDeltaX 0.0262 cm
    assert tissue.spacing_y == pytest.approx(float(tissue_item.PhysicalDeltaY) * 10)
    assert tissue.spatial_format == 1 and tissue.data_type == "tissue" and tissue.is_spatial
    # the ECG strip lies entirely below the 350-row image: reported, not silently kept
    assert ecg_item.RegionLocationMinY0 > 349
    (outside,) = info.extra["regions_outside_image"]
    assert (
        outside["data_type"] == "ecg_trace" and outside["RegionLocationMinY0"] == ecg_item.RegionLocationMinY0
    )


@pytest.mark.parametrize("name", ["gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"])
def test_aloka_16bit_palette_three_regions(name):
    path = _file(name)
    ds = pydicom.dcmread(path)
    with open_cine(path) as cine:
        frame = cine.frame(0)
        info = cine.info
    assert info.bits == 16 and frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, (apply_color_lut(ds.pixel_array, ds) >> 8).astype(np.uint8))
    assert len(info.calibration.regions) == 3 == len(ds.SequenceOfUltrasoundRegions)
    for item, region in zip(ds.SequenceOfUltrasoundRegions, info.calibration.regions):
        assert (region.x0, region.y0, region.x1, region.y1) == (
            item.RegionLocationMinX0,
            item.RegionLocationMinY0,
            item.RegionLocationMaxX1,
            item.RegionLocationMaxY1,
        )
        assert not region.clamped
    left, right, bar = info.calibration.regions
    for r in (left, right):
        assert r.data_type == "tissue" and r.unit_x == "mm"
        assert r.spacing_x == pytest.approx(0.3827, abs=1e-4)  # 0.03827 cm per pixel
    assert bar.data_type == "gray_bar" and bar.unit_x == "none" and bar.spacing_x is None
    # a point in the right B-mode image is measured with the right region's scale
    assert info.calibration.region_at(400, 100) == right
    assert info.calibration.mm_per_pixel_at(40, 60) is None  # the grey bar has no spatial scale


def test_aloka_little_and_big_endian_decode_identically():
    with open_cine(_file("gdcm-US-ALOKA-16.dcm")) as le, open_cine(_file("gdcm-US-ALOKA-16_big.dcm")) as be:
        np.testing.assert_array_equal(le.frame(0), be.frame(0))
        assert le.info.transfer_syntax == "Implicit VR Little Endian"
        assert be.info.transfer_syntax == "Explicit VR Big Endian"


def test_us1_jpeg2000_lossless_equals_uncompressed_and_lossy_is_close():
    with open_cine(_file("US1_UNCR.dcm")) as raw:
        truth = raw.frame(0)
        assert truth.shape == (480, 640, 3) and raw.info.photometric == "RGB"
        assert not raw.info.calibration.calibrated and raw.info.calibration.source == "none"
    with open_cine(_file("US1_UNCI.dcm")) as decompressed:  # the lossy image, stored uncompressed
        lossy_truth = decompressed.frame(0)
    with open_cine(_file("US1_J2KR.dcm")) as lossless:
        assert lossless.info.photometric == "YBR_RCT"
        np.testing.assert_array_equal(lossless.frame(0), truth)
    with open_cine(_file("US1_J2KI.dcm")) as lossy:
        assert lossy.info.photometric == "YBR_ICT"
        frame = lossy.frame(0)
    np.testing.assert_array_equal(frame, lossy_truth)
    mse = np.mean((frame.astype(float) - truth) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30  # lossy, but the same image (PSNR in dB)


@pytest.mark.parametrize("name", ["ExplVR_BigEnd.dcm", "examples_rgb_color.dcm", "examples_jpeg2k.dcm"])
def test_rgb_files_match_pydicom(name):
    path = _file(name)
    ds = pydicom.dcmread(path)
    with open_cine(path) as cine:
        frame = cine.frame(0)
        assert cine.info.color and cine.info.frames == 1 and cine.info.fps is None
    assert frame.shape == (ds.Rows, ds.Columns, 3)
    np.testing.assert_array_equal(frame, ds.pixel_array)
