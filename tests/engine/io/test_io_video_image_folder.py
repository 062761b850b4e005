"""Videos, still images and folders open as cines."""

import cv2
import numpy as np
import pytest
from dicom_factory import dataset, grey_frames, region, rgb_frames, save
from PIL import Image
from pydicom.encaps import encapsulate

from engine.errors import ReadError
from engine.io import open_cine
from engine.io.folder import natural_key


def _write_video(path, frames, fps, fourcc):
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _bands(n, rows=64, cols=96):
    """Frames whose brightness encodes the frame index (survives lossy video codecs)."""
    out = np.zeros((n, rows, cols, 3), np.uint8)
    for i in range(n):
        out[i] = 20 + i * 20
        out[i, :, : cols // 3, 0] = 230  # a red stripe on the left
    return out


@pytest.mark.parametrize(
    ("name", "fourcc"), [("clip.mp4", "mp4v"), ("clip.avi", "MJPG"), ("clip.mov", "mp4v")]
)
def test_video_frames_fps_and_seeking(tmp_path, name, fourcc):
    frames = _bands(8)
    path = _write_video(tmp_path / name, frames, 12.5, fourcc)
    with open_cine(path) as cine:
        info = cine.info
        assert (info.kind, info.frames, info.rows, info.columns, info.color) == ("video", 8, 64, 96, True)
        assert info.timing_source == "container" and info.fps == pytest.approx(12.5)
        assert isinstance(info.extra["fourcc"], str) and len(info.extra["fourcc"]) == 4
        assert info.timestamps_ms[1] == pytest.approx(80.0) and len(info.timestamps_ms) == 8
        for i in (5, 2, 3, 7, 0):  # random access, forwards and backwards
            frame = cine.frame(i)
            assert frame.shape == (64, 96, 3)
            assert abs(float(frame[:, 48:].mean()) - (20 + i * 20)) < 6
            assert frame[:, :20, 0].mean() > frame[:, :20, 2].mean() + 50  # RGB, not BGR


@pytest.mark.parametrize("ext", ["png", "jpg", "bmp", "tiff"])
def test_images(tmp_path, ext):
    rgb = rgb_frames(n=1, rows=40, cols=50)[0]
    path = tmp_path / f"still.{ext}"
    Image.fromarray(rgb).save(path)
    with open_cine(path) as cine:
        assert cine.info.kind == "image" and cine.info.frames == 1 and cine.info.color
        assert cine.info.timing_source == "single" and not cine.info.calibration.calibrated
        frame = cine.frame(0)
    assert frame.shape == (40, 50, 3) and frame.dtype == np.uint8
    if ext != "jpg":
        np.testing.assert_array_equal(frame, rgb)


def test_grey_png_keeps_8_and_16_bits(tmp_path):
    g8 = grey_frames(n=1)[0]
    g16 = grey_frames(n=1, bits=16)[0]
    cv2.imwrite(str(tmp_path / "g8.png"), g8)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    with open_cine(tmp_path / "g8.png") as a, open_cine(tmp_path / "g16.png") as b:
        np.testing.assert_array_equal(a.frame(0), g8)
        np.testing.assert_array_equal(b.frame(0), g16)
        assert (a.info.bits, b.info.bits, a.info.color) == (8, 16, False)


def test_multipage_tiff_is_a_cine(tmp_path):
    pages = grey_frames(n=4)
    imgs = [Image.fromarray(p) for p in pages]
    imgs[0].save(tmp_path / "stack.tif", save_all=True, append_images=imgs[1:])
    with open_cine(tmp_path / "stack.tif") as cine:
        assert cine.info.frames == 4 and cine.info.timing_source == "default"
        np.testing.assert_array_equal(cine.frame(3), pages[3])


def test_natural_order():
    names = ["frame10.png", "frame2.png", "Frame1.png"]
    assert sorted(names, key=natural_key) == ["Frame1.png", "frame2.png", "frame10.png"]


def test_folder_of_images_in_natural_order(tmp_path):
    frames = grey_frames(n=3)
    for i, name in enumerate(["img1.png", "img2.png", "img10.png"]):
        cv2.imwrite(str(tmp_path / name), frames[i])
    (tmp_path / "readme.txt").write_text("ignored")
    with open_cine(tmp_path) as cine:
        assert cine.info.kind == "folder" and cine.info.frames == 3 and cine.info.extra["skipped"] == 1
        assert cine.info.timing_source == "default"
        for i in range(3):
            np.testing.assert_array_equal(cine.frame(i), frames[i])


def test_folder_of_dicom_in_instance_number_order(tmp_path):
    frames = grey_frames(n=4)
    for k, number in enumerate([3, 1, 4, 2]):  # names say one order, InstanceNumber another
        ds = dataset(
            frames[k : k + 1], InstanceNumber=number, SequenceOfUltrasoundRegions=[region(0, 0, 47, 31)]
        )
        save(ds, tmp_path / f"a{k}.dcm")
    with open_cine(tmp_path) as cine:
        assert cine.info.frames == 4 and cine.info.extra["member_kind"] == "dicom"
        order = [3, 1, 4, 2]
        for position in range(4):
            np.testing.assert_array_equal(cine.frame(position), frames[order.index(position + 1)])
        assert cine.calibration_for(2).regions[0].spacing_x == pytest.approx(0.2)
        assert cine.info.calibration.calibrated


def test_folder_with_mismatched_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), grey_frames(n=1)[0])
    cv2.imwrite(str(tmp_path / "b.png"), grey_frames(n=1, rows=20)[0])
    with pytest.raises(ReadError) as info:
        open_cine(tmp_path)
    assert "b.png is 20x48" in info.value.reason


@pytest.mark.filterwarnings("ignore:Truncated File Read")  # Pillow's own note on the damaged TIFF
@pytest.mark.parametrize("ext", ["png", "jpg", "bmp", "tiff"])
def test_truncated_images_fail_with_one_line(tmp_path, ext):
    path = tmp_path / f"cut.{ext}"
    Image.fromarray(rgb_frames(n=1, rows=40, cols=50)[0]).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ReadError) as info, open_cine(path) as cine:
        cine.frame(0)
    assert "\n" not in info.value.one_line() and info.value.path == str(path)


@pytest.mark.parametrize("fragmentable", [False, True])
def test_dicom_mpeg2_video_object(tmp_path, fragmentable):
    frames = _bands(10, rows=48, cols=64)
    stream = _write_video(tmp_path / "clip.m2v", frames, 25, "mpg2").read_bytes()
    ds = dataset(frames, "YBR_PARTIAL_420", FrameTime=40.0, FrameIncrementPointer=0x00181063)
    parts = [stream[i : i + 1000] for i in range(0, len(stream), 1000)] if fragmentable else [stream]
    ds.PixelData = encapsulate(parts, has_bot=False)
    ds["PixelData"].VR = "OB"
    ts = "1.2.840.10008.1.2.4.100.1" if fragmentable else "1.2.840.10008.1.2.4.100"
    ds.file_meta.TransferSyntaxUID = ts
    path = save(ds, tmp_path / "mpeg2.dcm")
    with open_cine(path) as cine:
        info = cine.info
        assert (info.frames, info.rows, info.columns, info.color) == (10, 48, 64, True)
        assert info.timing_source == "FrameTime" and "MPEG2" in info.transfer_syntax
        for i in (0, 1, 7, 3, 9, 2):  # forwards, a jump, backwards
            frame = cine.frame(i)
            assert frame.shape == (48, 64, 3)
            assert abs(float(frame[:, 40:].mean()) - (20 + i * 20)) < 8
            assert frame[:, :10, 0].mean() > frame[:, :10, 2].mean() + 20  # red stripe: RGB order
        stream_file = cine._stream
        assert stream_file.exists()
    assert not stream_file.exists()  # the temporary stream is removed on close
