"""`echocare info` and `echocare frames` on real and generated files, and on bad input."""

import itertools
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from cli_dicom import ramp, write_dicom
from pydicom.data import get_testdata_file
from pydicom.pixels import pixel_array

from app.cli.main import main

REQUIRED = {
    "path", "kind", "frames", "rows", "columns", "color", "bits", "fps", "timestamps_ms", "timing_source",
    "regions", "calibrated", "transfer_syntax", "photometric", "modality", "manufacturer",
}  # fmt: skip
REGION_KEYS = {"x0", "y0", "x1", "y1", "spacing_x", "spacing_y", "unit_x", "unit_y", "data_type"}
UNITS = {"mm", "s", "cm/s", "Hz", "dB", "%", "none"}


def _info(capsys, path):
    assert main(["info", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_info_json_on_sonosite_cine(capsys):
    path = get_testdata_file("examples_ybr_color.dcm")
    info = _info(capsys, path)
    assert info.keys() >= REQUIRED
    assert (info["kind"], info["frames"], info["rows"], info["columns"]) == ("dicom", 30, 240, 320)
    assert info["color"] is True and info["bits"] == 8 and info["calibrated"] is True
    assert info["timing_source"] == "FrameTime" and info["fps"] == pytest.approx(30.0, abs=1e-3)
    ts = info["timestamps_ms"]
    assert len(ts) == 30 and ts[0] == 0 and all(b > a for a, b in itertools.pairwise(ts))
    (region,) = info["regions"]
    assert region.keys() >= REGION_KEYS and region["unit_x"] in UNITS
    assert (region["x1"], region["y1"]) == (319, 239)  # clamped to the image
    assert info["photometric"] == "YBR_FULL_422" and info["transfer_syntax"].startswith("JPEG Baseline")
    assert info["modality"] == "US" and info["manufacturer"].startswith("SonoSite")


def test_info_json_on_aloka_regions(capsys):
    info = _info(capsys, get_testdata_file("gdcm-US-ALOKA-16.dcm"))
    assert len(info["regions"]) == 3
    assert [r["data_type"] for r in info["regions"]] == ["tissue", "tissue", "gray_bar"]
    assert all(r["unit_x"] in UNITS and r["unit_y"] in UNITS for r in info["regions"])
    assert info["regions"][0]["spacing_x"] == pytest.approx(0.3827, abs=1e-4)


def test_info_table_is_readable(capsys):
    assert main(["info", get_testdata_file("gdcm-US-ALOKA-16.dcm")]) == 0
    out = capsys.readouterr().out
    assert "kind:" in out and "dicom" in out and "region 2: gray_bar" in out and "0.3827 mm" in out
    assert "exam (header):   abdomen (Image Type: ABDOM/RAD)" in out


def test_info_flags_uncalibrated(tmp_path, capsys):
    info = _info(capsys, write_dicom(tmp_path / "bare.dcm", ramp()))
    assert info["calibrated"] is False and info["regions"] == [] and info["timing_source"] == "default"
    assert main(["info", str(tmp_path / "bare.dcm")]) == 0
    out = capsys.readouterr().out
    assert "NO, pixels only" in out and "note:            no physical calibration" in out
    assert info["declared_exam"] is None and "exam (header):   -" in out


def test_frames_rgb_subset_exactly_as_displayed(tmp_path, capsys):
    path = get_testdata_file("examples_ybr_color.dcm")
    out = tmp_path / "png"
    assert main(["frames", path, "--out", str(out), "--frames", "0,5,10-12"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:05d}.png" for i in (0, 5, 10, 11, 12)]
    reference = pixel_array(path, decoding_plugin="pillow")  # another libjpeg build
    png = cv2.cvtColor(cv2.imread(str(out / "frame_00011.png"), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    assert png.shape == (240, 320, 3)
    diff = np.abs(png.astype(int) - reference[11])  # IDCT and YBR -> RGB rounding only
    assert diff.max() <= 3 and diff.mean() < 0.1


@pytest.mark.parametrize(
    ("photometric", "bits", "dtype"), [("MONOCHROME2", 12, np.uint16), ("MONOCHROME1", 8, np.uint8)]
)
def test_frames_grey_keeps_depth(tmp_path, photometric, bits, dtype):
    top = (1 << bits) - 1
    frames = ramp(top=top, dtype=dtype)
    path = write_dicom(tmp_path / "grey.dcm", frames, photometric, bits=bits)
    assert main(["frames", str(path), "--out", str(tmp_path / "out")]) == 0
    png = cv2.imread(str(tmp_path / "out" / "frame_00002.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == dtype and png.ndim == 2
    expected = frames[2] if photometric == "MONOCHROME2" else top - frames[2]
    np.testing.assert_array_equal(png, expected)


@pytest.mark.parametrize("spec", ["3", "0-9", "a,b", "5-2"])
def test_frames_bad_selection_is_bad_input(tmp_path, capsys, spec):
    path = write_dicom(tmp_path / "g.dcm", ramp(n=3))
    assert main(["frames", str(path), "--out", str(tmp_path / "o"), "--frames", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: frames '{spec}'") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "file is empty"),
        ("random", "unrecognised content"),
        ("truncated", "truncated pixel data"),
        ("no_pixels", "no pixel data"),
        ("unsupported", "unsupported transfer syntax"),
        ("text_mp4", "named .mp4 but the content is not a video file"),
        ("empty_folder", "folder holds no readable images or DICOM files"),
    ],
)
@pytest.mark.parametrize("command", ["info", "frames"])
def test_bad_input_exit_2_one_line(bad_inputs, tmp_path, capsys, name, reason, command):
    path = bad_inputs[name]
    argv = [command, str(path)] + (["--out", str(tmp_path / "o")] if command == "frames" else [])
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: ") and reason in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_console_exit_code_and_debug_traceback(bad_inputs):
    cmd = [sys.executable, "-m", "app.cli.main", "info", str(bad_inputs["random"])]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = subprocess.run([*cmd, "--debug"], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ReadError" in debug.stderr


def test_damaged_video_gives_exactly_one_line(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[:200])  # the header box survives, the index does not
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "info", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: video cannot be opened (unknown or damaged container)\n"
