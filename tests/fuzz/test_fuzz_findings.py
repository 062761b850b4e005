"""Files the fuzzer found that once crashed, aborted or exhausted the reader; each now ends clean.

Each runs in the memory-capped worker, because the failure it guards against takes the whole
process down (an abort inside GDCM, a 4 GB allocation, a 2**31-frame timestamp table).
"""

from __future__ import annotations

import io
import struct
import zlib

from fuzz_seeds import dataset, frames, seeds, to_bytes
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian


def _check(worker, path, data, expect=("read_error", "unsupported")):
    path.write_bytes(data)
    outcome = worker.check(path)
    assert outcome.kind in expect, f"{outcome.kind}: {outcome.detail}"
    return outcome


def test_value_length_of_4_gb_is_refused_without_allocating_it(worker, tmp_path):
    data = bytearray(seeds()["dcm_grey.dcm"])
    at = data.find(b"UI", 132)  # the first file meta UI value: make its length 0xFFFF and the file short
    data[at + 2 : at + 4] = b"\xff\xff"
    long_at = data.find(b"OB", 132)  # (0002,0001) OB: a 4 GB value length
    data[long_at + 4 : long_at + 8] = struct.pack("<I", 0xFFFFFFF0)
    outcome = _check(worker, tmp_path / "long.dcm", bytes(data))
    assert "MemoryError" not in outcome.detail


def test_jpeg2000_stream_that_contradicts_samples_per_pixel(worker, tmp_path):
    ds = dcmread(get_testdata_file("examples_jpeg2k.dcm"))  # a 3-component colour stream
    del ds.SamplesPerPixel
    buf = io.BytesIO()
    ds.save_as(buf)
    _check(worker, tmp_path / "j2k.dcm", buf.getvalue())  # GDCM used to abort the process here


def test_negative_number_of_frames(worker, tmp_path):
    ds = dataset(frames())
    ds.NumberOfFrames = -3
    outcome = _check(worker, tmp_path / "neg.dcm", to_bytes(ds))
    assert "NumberOfFrames" in outcome.detail


def test_frame_size_beyond_what_can_be_displayed_is_refused_before_decoding(worker, tmp_path):
    ds = dcmread(io.BytesIO(seeds()["dcm_jpeg_bot.dcm"]))
    ds.Rows = ds.Columns = 65535
    buf = io.BytesIO()
    ds.save_as(buf)
    outcome = _check(worker, tmp_path / "huge.dcm", buf.getvalue(), expect=("unsupported",))
    assert "too large" in outcome.detail


def test_damaged_deflate_stream(worker, tmp_path):
    data = bytearray(to_bytes(dataset(frames()), DeflatedExplicitVRLittleEndian))
    data[-40:] = b"\x00" * 40
    _check(worker, tmp_path / "deflated.dcm", bytes(data))
    assert zlib  # the reader names the zlib error in its one line


def test_avi_claiming_two_billion_frames_opens_with_the_frames_it_has(worker, tmp_path):
    data = bytearray(seeds()["vid_mjpg.avi"])
    at = data.find(b"strh") + 8 + 32  # AVISTREAMHEADER.dwLength
    data[at : at + 4] = struct.pack("<I", 0x7FFFFFFF)
    path = tmp_path / "claims.avi"
    _check(worker, path, bytes(data), expect=("ok",))
    from engine.io import open_cine

    with open_cine(path) as cine:
        assert cine.n_frames == 4


def test_tiff_with_damaged_tags(worker, tmp_path):
    data = bytearray(seeds()["img_pages.tif"])
    for at in range(8, len(data) - 1, 12):  # knock out tag ids through the directories
        data[at : at + 2] = b"\x01\x88"
    _check(worker, tmp_path / "tags.tif", bytes(data), expect=("ok", "read_error", "unsupported"))


def test_jpeg_frame_claiming_another_size_is_refused_before_decoding(worker, tmp_path):
    ds = dcmread(io.BytesIO(seeds()["dcm_jpeg_bot.dcm"]))
    data = bytearray(ds.PixelData)
    sof = data.find(b"\xff\xc0")  # first frame's SOF0: height 0 (no DNL follows), width 128
    data[sof + 5 : sof + 9] = struct.pack(">HH", 0, 128)
    ds.PixelData = bytes(data)
    buf = io.BytesIO()
    ds.save_as(buf)
    outcome = _check(worker, tmp_path / "sof.dcm", buf.getvalue())
    # the frame header is checked before any decoder sees the stream (libjpeg would spend ~10 s
    # failing to allocate it): this refusal names the header's size, not a decoder's error
    assert f"the JPEG stream holds 0 x 128 pixels, the header says {ds.Rows} x {ds.Columns}" in outcome.detail


def test_grey_jpeg_frames_declared_as_a_dicom_video_stream(worker, tmp_path):
    from fuzz_mutate import TWEAKS, tweak_dicom

    to_mpeg4 = next(t for t in TWEAKS if t.__name__ == "TransferSyntaxUID='1.2.840.10008.1.2.4.102'")
    data = tweak_dicom(seeds()["dcm_jpeg_nobot.dcm"], [to_mpeg4])
    # FFmpeg decodes the JPEG frames as video, in RGB: the cine must say colour, not grey
    _check(worker, tmp_path / "video.dcm", data, expect=("ok",))
