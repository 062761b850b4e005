"""The bundled sample studies and the DICOM writer: real, calibrated, decodable and small."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEGBaseline8Bit, UltrasoundImageStorage, UltrasoundMultiFrameImageStorage

from training.sim import ImagingParams, SimConfig, simulate
from training.sim.dicom import RegionSpec, write_us_cine
from training.sim.patient import PatientInfo
from training.sim.truth import SimResult

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
NAMES = ("cardiac_lv_cine", "breast_lesion_cine", "fetal_head")


def _record(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.truth.json").read_text())


def test_samples_fit_in_five_megabytes() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file())
    assert total <= 5 * 1024 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_sample_is_a_calibrated_jpeg_ultrasound_cine(name: str) -> None:
    rec = _record(name)
    path = SAMPLES / rec["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert ds.SOPClassUID == UltrasoundMultiFrameImageStorage
    assert ds.Modality == "US" and ds.PhotometricInterpretation == "MONOCHROME2"
    pixels = ds.pixel_array
    assert pixels.shape == (rec["frames"], rec["rows"], rec["columns"]) and pixels.dtype == np.uint8
    assert int(ds.NumberOfFrames) == rec["frames"]
    assert float(ds.FrameTime) == pytest.approx(1000.0 / rec["fps"], abs=1e-3)
    assert ds.FrameIncrementPointer == 0x00181063
    assert int(ds.CineRate) == round(rec["fps"])
    (region,) = ds.SequenceOfUltrasoundRegions
    spacing = rec["truth"]["spacing_mm"]
    assert region.PhysicalUnitsXDirection == 3 and region.PhysicalUnitsYDirection == 3
    assert region.PhysicalDeltaX * 10 == pytest.approx(spacing[0], rel=1e-12)
    assert region.PhysicalDeltaY * 10 == pytest.approx(spacing[1], rel=1e-12)
    assert region.RegionDataType == 1 and region.RegionSpatialFormat == 1
    bounds = [region.RegionLocationMinX0, region.RegionLocationMinY0]
    bounds += [region.RegionLocationMaxX1, region.RegionLocationMaxY1]
    assert bounds == rec["fan_bbox"]
    assert str(ds.PatientName).startswith("SIMULATED^") and ds.PatientID.startswith("SIM-")
    assert len(ds.PatientBirthDate) == 8 and len(ds.StudyDate) == 8
    assert ds.Manufacturer == "EchoCare Studio simulator" and ds.BurnedInAnnotation == "YES"
    assert rec["seed"] == rec["truth"]["seed"]


def test_default_sample_is_the_beating_left_ventricle() -> None:
    rec = _record("cardiac_lv_cine")
    truth = rec["truth"]
    assert rec["probe"] == "phased" and 48 <= rec["frames"] <= 64 and rec["fps"] == 30.0
    assert rec["rows"] <= 480 and rec["columns"] <= 640
    volume = truth["frame_values"]["lv_volume_ml"]["values"]
    ed, es = int(truth["values"]["ed_frame"]["value"]), int(truth["values"]["es_frame"]["value"])
    ef = truth["values"]["ef"]["value"]
    assert (volume[ed] - volume[es]) / volume[ed] * 100 == pytest.approx(ef, abs=0.05)
    area = truth["frame_values"]["lv_area_mm2"]["values"]
    assert area[ed] == max(area) and area[es] == min(area)


REGENERATED = ("fetal_head", "breast_lesion_cine")


@functools.cache
def _regenerate(name: str) -> tuple[dict, SimResult, np.ndarray]:
    """The sample's record, the simulation its seed gives today, and the sample's decoded pixels."""
    rec = _record(name)
    cfg = dict(rec["config"])
    cfg["imaging"] = ImagingParams(**cfg["imaging"])
    result = simulate(rec["scene"], rec["seed"], SimConfig(**cfg), **rec["options"])
    return rec, result, pydicom.dcmread(SAMPLES / rec["file"]).pixel_array


def _jpeg_blocks(mask: np.ndarray) -> np.ndarray:
    """Every pixel of the 8x8 JPEG blocks that hold at least one pixel of ``mask`` ``[H, W]``."""
    h, w = mask.shape
    blocks = np.zeros(((h + 7) // 8, (w + 7) // 8), bool)
    ys, xs = np.nonzero(mask)
    blocks[ys // 8, xs // 8] = True
    return np.kron(blocks, np.ones((8, 8), bool))[:h, :w]


def _burned_text(pixels: np.ndarray, fan_mask: np.ndarray) -> np.ndarray:
    """``[H, W]`` pixels bright in every frame outside the fan and its guard band: the burned-in text."""
    guard = cv2.dilate(fan_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return (pixels.min(axis=0) > 100) & ~guard


def _approx_floats(value):
    """``value`` with every float wrapped in ``pytest.approx`` (libm may differ in the last bits)."""
    if isinstance(value, dict):
        return {k: _approx_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx_floats(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-12)
    return value


@pytest.mark.parametrize("name", REGENERATED)
def test_sample_pixels_regenerate_from_the_recorded_seed(name: str) -> None:
    """The echo pixels are the project's own: they regenerate exactly, up to JPEG quality 85.

    Burned-in text is drawn by OpenCV, whose glyphs change between releases, so the JPEG blocks
    holding text (in the sample or in the regenerated frames) are left to the next test.
    """
    rec, result, pixels = _regenerate(name)
    text = _jpeg_blocks(result.truth.text_mask | _burned_text(pixels, result.truth.fan_mask))
    diff = np.abs(pixels.astype(float) - result.frames)
    assert diff[:, result.truth.fan_mask & ~text].mean() < 3.0
    assert diff[:, ~text].mean() < 3.0
    assert _approx_floats(json.loads(json.dumps(result.truth.as_json()))) == rec["truth"]


@pytest.mark.parametrize("name", REGENERATED)
def test_sample_text_is_burned_where_the_simulator_puts_it(name: str) -> None:
    """Every burned-in pixel of the sample lies on the regenerated text layer (within 7 pixels).

    The glyphs themselves come from OpenCV's font renderer and differ between its releases; where
    the lines of text, the depth scale and the orientation mark go is the simulator's.
    """
    _, result, pixels = _regenerate(name)
    near = np.ones((15, 15), np.uint8)
    burned, layer = _burned_text(pixels, result.truth.fan_mask), result.truth.text_mask
    assert burned.sum() > 500 and layer.sum() > 500
    assert cv2.dilate(layer.astype(np.uint8), near).astype(bool)[burned].mean() > 0.98
    assert cv2.dilate(burned.astype(np.uint8), near).astype(bool)[layer].mean() > 0.8
    assert not (layer & result.truth.fan_mask).any()


def test_write_us_cine_grey_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = (rng.random((3, 64, 80)) * 40 + np.linspace(0, 200, 80)).astype(np.uint8)
    patient = PatientInfo(name="SIMULATED^TEST", patient_id="SIM-42")
    path = write_us_cine(tmp_path / "c.dcm", frames, (0.2, 0.25), 25.0, patient, quality=95)
    ds = pydicom.dcmread(path)
    err = np.abs(ds.pixel_array.astype(int) - frames)  # JPEG quality 95: small, rare outliers
    assert err.mean() < 2 and np.percentile(err, 99.9) <= 12
    assert ds.PatientName == "SIMULATED^TEST" and float(ds.FrameTime) == 40.0
    region = ds.SequenceOfUltrasoundRegions[0]
    assert (region.PhysicalDeltaX, region.PhysicalDeltaY) == pytest.approx((0.02, 0.025))
    assert (region.RegionLocationMaxX1, region.RegionLocationMaxY1) == (79, 63)


def test_write_us_cine_colour_single_frame(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, np.full_like(xx, 128)], -1).astype(np.uint8)[None]
    region = RegionSpec((4, 4, 59, 43), (0.3, 0.3), (32, 4))
    path = write_us_cine(tmp_path / "rgb.dcm", rgb, 0.3, 30.0, regions=(region,), quality=95, uid_seed="t")
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == UltrasoundImageStorage and "NumberOfFrames" not in ds
    assert ds.PhotometricInterpretation == "YBR_FULL_422" and ds.SamplesPerPixel == 3
    assert np.abs(ds.pixel_array.astype(int) - rgb[0]).mean() < 4
    again = write_us_cine(tmp_path / "rgb2.dcm", rgb, 0.3, 30.0, regions=(region,), quality=95, uid_seed="t")
    assert pydicom.dcmread(again).SOPInstanceUID == ds.SOPInstanceUID


@pytest.mark.parametrize("name", NAMES)
def test_the_product_reader_opens_samples_with_their_calibration(name: str) -> None:
    from engine.io import open_cine

    rec = _record(name)
    info = open_cine(SAMPLES / rec["file"]).info
    assert (info.frames, info.rows, info.columns) == (rec["frames"], rec["rows"], rec["columns"])
    assert info.fps == pytest.approx(rec["fps"], rel=1e-9)
    x0, y0, x1, y1 = rec["fan_bbox"]
    spacing = info.calibration.mm_per_pixel_at((x0 + x1) / 2, (y0 + y1) / 2)
    assert spacing == pytest.approx(tuple(rec["truth"]["spacing_mm"]), rel=1e-12)
