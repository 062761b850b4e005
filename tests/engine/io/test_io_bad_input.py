"""Bad inputs give one ReadError line naming the file and the reason."""

import numpy as np
import pytest
from dicom_factory import dataset, grey_frames, jpeg_baseline, save
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine.errors import ReadError, UnsupportedError
from engine.io import open_cine


def _error(path, kind=ReadError):
    with pytest.raises(kind) as info:
        open_cine(path)
    line = info.value.one_line()
    assert "\n" not in line and line.startswith(f"{path}: ")
    return info.value.reason


def test_missing_and_empty(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.dcm")
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert _error(tmp_path / "empty.dcm") == "file is empty"


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "unrecognised content" in _error(path)


def test_text_named_mp4(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_text("this is not a video\n" * 20)
    assert _error(path) == "named .mp4 but the content is not a video file"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_native_multiframe(tmp_path, cut):
    path = save(dataset(grey_frames(n=10, rows=64, cols=64)), tmp_path / "native.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    reason = _error(path)
    assert reason.startswith("truncated pixel data: holds") and "of 10 frames" in reason


def test_truncated_jpeg_multiframe(tmp_path):
    frames = grey_frames(n=10, rows=64, cols=64)
    ds, _ = jpeg_baseline(dataset(frames), frames)
    path = save(ds, tmp_path / "jpeg.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    assert _error(path).startswith("truncated pixel data")


def test_dicom_without_pixel_data(tmp_path):
    ds = dataset(grey_frames(n=1))
    del ds.PixelData
    path = save(ds, tmp_path / "header_only.dcm")
    assert _error(path) == "DICOM file has no pixel data"
    report = Dataset()  # e.g. a structured report: no image attributes at all
    report.file_meta = FileMetaDataset()
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    report.SOPInstanceUID = generate_uid()
    report.Modality = "SR"
    report.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    assert "no pixel data" in _error(tmp_path / "sr.dcm")


def test_unsupported_transfer_syntax(tmp_path):
    ds = dataset(grey_frames(n=1))
    ds.PixelData = encapsulate([bytes(64)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.94"  # JPIP Referenced: pixels live elsewhere
    path = save(ds, tmp_path / "jpip.dcm")
    reason = _error(path, UnsupportedError)
    assert (
        reason.startswith("unsupported transfer syntax JPIP Referenced")
        and "1.2.840.10008.1.2.4.94" in reason
    )


def test_undecodable_video_stream(tmp_path):
    ds = dataset(grey_frames(n=1))
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])  # an MPEG-2 start code, then nothing
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile @ Main Level
    path = save(ds, tmp_path / "mpeg2.dcm")
    assert _error(path) == "the video stream in the pixel data cannot be decoded"


def test_folder_with_no_images(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    (tmp_path / "data.bin").write_bytes(bytes(100))
    assert _error(tmp_path) == "folder holds no readable images or DICOM files"


def test_corrupt_frame_fails_at_decode_with_frame_number(tmp_path):
    frames = grey_frames(n=3, rows=64, cols=64)
    ds, encoded = jpeg_baseline(dataset(frames), frames)
    encoded[1] = encoded[1][:2] + bytes(len(encoded[1]) - 2)  # SOI then zeros
    ds.PixelData = encapsulate(encoded)
    path = save(ds, tmp_path / "corrupt.dcm")
    with open_cine(path) as cine:
        cine.frame(0)
        with pytest.raises(ReadError) as info:
            cine.frame(1)
    assert info.value.reason.startswith("frame 1 cannot be decoded")


def test_unusual_pixel_layouts_are_refused_clearly(tmp_path):
    ds = dataset(grey_frames(n=1))
    ds.BitsAllocated = 32
    assert "32-bit pixels are not supported" in _error(save(ds, tmp_path / "b32.dcm"), UnsupportedError)
    ds = dataset(grey_frames(n=1))
    ds.Rows = 0
    assert _error(save(ds, tmp_path / "rows0.dcm")).startswith("image has no pixels")


@pytest.mark.filterwarnings("ignore")  # pydicom warns about each invalid value it meets
def test_damaged_files_never_escape_as_other_exceptions(tmp_path):
    frames = grey_frames(n=4, rows=32, cols=32)
    ds, _ = jpeg_baseline(dataset(frames, FrameTime=33.0, PixelSpacing=[0.1, 0.1]), frames)
    data = save(ds, tmp_path / "src.dcm").read_bytes()
    rng = np.random.default_rng(1)
    damaged = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 60))]
    for _ in range(60):  # random bytes overwritten in the header
        buf = bytearray(data)
        for pos in rng.integers(132, 700, 4):
            buf[pos] = int(rng.integers(0, 256))
        damaged.append(bytes(buf))
    for k, blob in enumerate(damaged):
        path = tmp_path / f"d{k}.dcm"
        path.write_bytes(blob)
        try:
            with open_cine(path) as cine:
                for i in range(cine.n_frames):
                    cine.frame(i)
        except ReadError as err:
            assert "\n" not in err.one_line()
