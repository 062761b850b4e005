"""Every listed transfer syntax, generated here; lossless ones pixel-exact against the source."""

import numpy as np
import pydicom
import pytest
from dicom_factory import (
    SECONDARY_CAPTURE,
    US_IMAGE,
    dataset,
    grey_frames,
    jpeg_baseline,
    rgb_frames,
    save,
)
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import pixel_array
from pydicom.pixels.decoders import JPEG2000Decoder
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from engine.io import open_cine

NATIVE = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]


def _read_all(path):
    with open_cine(path) as cine:
        return cine.info, np.stack([cine.frame(i) for i in range(cine.n_frames)])


@pytest.mark.parametrize("ts", NATIVE, ids=lambda t: t.name)
@pytest.mark.parametrize("bits", [8, 12, 16])
def test_native_syntaxes_are_exact(tmp_path, ts, bits):
    frames = grey_frames(bits=bits)
    path = save(dataset(frames, bits=bits), tmp_path / "native.dcm", ts)
    info, out = _read_all(path)
    assert info.transfer_syntax == ts.name and info.bits == bits
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(out, frames)


@pytest.mark.parametrize("ts", NATIVE, ids=lambda t: t.name)
def test_native_rgb_is_exact(tmp_path, ts):
    frames = rgb_frames()
    info, out = _read_all(save(dataset(frames, "RGB"), tmp_path / "rgb.dcm", ts))
    assert info.color
    np.testing.assert_array_equal(out, frames)


def test_raw_dataset_without_preamble_or_file_meta(tmp_path):
    frames = grey_frames(n=2)
    ds = dataset(frames)
    ds.file_meta = FileMetaDataset()
    path = tmp_path / "raw_implicit"
    ds.save_as(path, implicit_vr=True, little_endian=True)  # no preamble, no "DICM", no group 0002
    assert path.read_bytes()[128:132] != b"DICM" and path.read_bytes()[:2] == b"\x08\x00"
    info, out = _read_all(path)
    assert info.kind == "dicom" and info.transfer_syntax == "Implicit VR Little Endian"
    np.testing.assert_array_equal(out, frames)


LOSSLESS = [
    (RLELossless, {}),
    (JPEGLSLossless, {}),
    (JPEG2000Lossless, {}),
]


@pytest.mark.parametrize(("ts", "kwargs"), LOSSLESS, ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize("bits", [8, 16])
def test_lossless_codecs_are_exact(tmp_path, ts, kwargs, bits):
    frames = grey_frames(n=4, bits=bits)
    ds = dataset(frames, bits=bits)
    ds.compress(ts, **kwargs)
    info, out = _read_all(save(ds, tmp_path / "c.dcm"))
    assert info.transfer_syntax == ts.name and info.frames == 4
    np.testing.assert_array_equal(out, frames)


def test_rle_rgb_is_exact(tmp_path):
    frames = rgb_frames()
    ds = dataset(frames, "RGB")
    ds.compress(RLELossless)
    _, out = _read_all(save(ds, tmp_path / "rle.dcm"))
    np.testing.assert_array_equal(out, frames)


def _gdcm_convert(src, dst, syntax):
    gdcm = pytest.importorskip("gdcm")
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    writer.SetFileName(str(dst))
    assert writer.Write()
    return dst


@pytest.mark.parametrize("syntax", ["JPEGLosslessProcess14", "JPEGLosslessProcess14_1"])
@pytest.mark.parametrize("kind", ["grey8", "grey12", "rgb"])
def test_jpeg_lossless_is_exact(tmp_path, syntax, kind):
    frames = {"grey8": grey_frames(), "grey12": grey_frames(bits=12), "rgb": rgb_frames()}[kind]
    bits = 12 if kind == "grey12" else None
    src = save(dataset(frames, "RGB" if kind == "rgb" else "MONOCHROME2", bits=bits), tmp_path / "src.dcm")
    info, out = _read_all(_gdcm_convert(src, tmp_path / "ll.dcm", syntax))
    assert "Lossless" in info.transfer_syntax
    np.testing.assert_array_equal(out, frames)


def test_jpeg_extended_8bit(tmp_path):
    frames = grey_frames(rows=64, cols=64)
    src = save(dataset(frames), tmp_path / "src.dcm")
    path = _gdcm_convert(src, tmp_path / "ext.dcm", "JPEGExtendedProcess2_4")
    info, out = _read_all(path)
    assert info.transfer_syntax.startswith("JPEG Extended")
    np.testing.assert_array_equal(out, pydicom.dcmread(path).pixel_array)
    assert np.abs(out.astype(int) - frames).mean() < 4


@pytest.mark.parametrize("color", [False, True])
def test_jpeg_baseline_fast_path_matches_pydicom(tmp_path, color):
    frames = grey_frames(rows=64, cols=80)
    if color:  # a red left half and a blue right half: swapped channels or wrong YBR would show
        frames = np.stack([frames // 4, frames // 8, frames // 8], axis=-1)
        frames[:, :, :40, 0] += 160
        frames[:, :, 40:, 2] += 160
    ds, _ = jpeg_baseline(dataset(frames, "RGB" if color else "MONOCHROME2"), frames, quality=95)
    path = save(ds, tmp_path / "jpeg.dcm")
    info, out = _read_all(path)
    assert info.extra["codec"] in ("opencv", "pillow")
    assert info.photometric == ("YBR_FULL_422" if color else "MONOCHROME2")
    # pydicom's plugins convert YBR -> RGB themselves; separately built libjpeg IDCTs and the
    # colour conversion round differently by a few levels on a small share of the pixels
    for plugin in ("pillow", "gdcm"):
        diff = np.abs(out.astype(int) - pixel_array(path, decoding_plugin=plugin))
        assert diff.max() <= 3 and diff.mean() < 0.1, plugin
    assert np.abs(out.astype(int) - frames).mean() < 4
    if color:
        assert out[:, :, :32, 0].mean() > out[:, :, :32, 2].mean() + 100
        assert out[:, :, 48:, 2].mean() > out[:, :, 48:, 0].mean() + 100


def test_jpeg_ls_near_lossless_stays_within_bound(tmp_path):
    frames = grey_frames(n=2)
    ds = dataset(frames)
    ds.compress(JPEGLSNearLossless, jls_error=3)
    info, out = _read_all(save(ds, tmp_path / "nl.dcm"))
    assert info.transfer_syntax == JPEGLSNearLossless.name
    assert np.abs(out.astype(int) - frames).max() <= 3


@pytest.mark.parametrize(("ts", "photometric"), [(JPEG2000Lossless, "YBR_RCT"), (JPEG2000, "YBR_ICT")])
def test_jpeg2000_colour_transforms(tmp_path, ts, photometric):
    frames = rgb_frames(n=2, rows=64, cols=64)
    ds = dataset(frames, "RGB")
    ds.PhotometricInterpretation = photometric
    ds.compress(ts, frames, **({"j2k_cr": [4]} if ts == JPEG2000 else {}))
    path = save(ds, tmp_path / "j2k.dcm")
    info, out = _read_all(path)
    assert info.photometric == photometric and out.shape == (2, 64, 64, 3)
    if ts == JPEG2000Lossless:
        np.testing.assert_array_equal(out, frames)
        return
    # lossy: the same file through each reference decoder, which undoes the ICT itself
    plugins = JPEG2000Decoder.available_plugins
    assert "pillow" in plugins
    for plugin in plugins:
        diff = np.abs(out.astype(int) - pixel_array(path, decoding_plugin=plugin))
        assert diff.max() <= 2, plugin
    for channel in range(3):  # R, G and B each still follow the source (an ICT left undone would not)
        r = np.corrcoef(out[..., channel].ravel(), frames[..., channel].ravel())[0, 1]
        assert r > 0.95, channel


@pytest.mark.parametrize(
    ("sop_class", "name"), [(US_IMAGE, "Ultrasound Image"), (SECONDARY_CAPTURE, "Secondary")]
)
def test_single_frame_objects(tmp_path, sop_class, name):
    frames = grey_frames(n=1)
    ds = dataset(frames, sop_class=sop_class)
    assert "NumberOfFrames" not in ds
    info, out = _read_all(save(ds, tmp_path / "one.dcm"))
    assert info.frames == 1 and info.timing_source == "single"
    assert info.extra["sop_class"].startswith(name)
    np.testing.assert_array_equal(out[0], frames[0])
