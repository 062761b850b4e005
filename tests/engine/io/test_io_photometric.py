"""Every photometric interpretation becomes the frame a viewer displays."""

import numpy as np
import pydicom
import pytest
from dicom_factory import dataset, grey_frames, palette, rgb_frames, save, ybr_422_native, ybr_full_native
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, RLELossless

from engine.io import open_cine


def _frames(path):
    with open_cine(path) as cine:
        return cine.info, np.stack(list(cine))


@pytest.mark.parametrize("bits", [8, 12])
def test_monochrome1_is_inverted(tmp_path, bits):
    frames = grey_frames(bits=bits)
    info, out = _frames(save(dataset(frames, "MONOCHROME1", bits=bits), tmp_path / "m1.dcm"))
    assert info.photometric == "MONOCHROME1" and not info.color
    np.testing.assert_array_equal(out, ((1 << bits) - 1) - frames.astype(int))


def test_monochrome2_16bit_keeps_depth(tmp_path):
    frames = grey_frames(bits=16)
    info, out = _frames(save(dataset(frames, bits=16), tmp_path / "m2.dcm"))
    assert out.dtype == np.uint16 and info.bits == 16
    np.testing.assert_array_equal(out, frames)


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, RLELossless], ids=lambda t: t.name)
def test_rgb_planar_configuration_1(tmp_path, ts):
    frames = rgb_frames()
    ds = dataset(frames, "RGB")
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(frames.transpose(0, 3, 1, 2)).tobytes()  # RRR..GGG..BBB per frame
    if ts == RLELossless:
        ds.compress(RLELossless, frames)
    _, out = _frames(save(ds, tmp_path / "planar.dcm"))
    np.testing.assert_array_equal(out, frames)


def test_ybr_full_native_becomes_rgb(tmp_path):
    frames = rgb_frames()
    ds, _ = ybr_full_native(dataset(frames, "RGB"), frames)
    path = save(ds, tmp_path / "ybr.dcm")
    info, out = _frames(path)
    assert info.photometric == "YBR_FULL" and info.color
    np.testing.assert_array_equal(out, pydicom.dcmread(path).pixel_array)  # pydicom's conversion
    assert np.abs(out.astype(int) - frames).max() <= 2  # YBR_FULL round trip: rounding only


def test_ybr_full_422_native_becomes_rgb(tmp_path):
    frames = rgb_frames()
    ds, _ = ybr_422_native(dataset(frames, "RGB"), frames)
    path = save(ds, tmp_path / "ybr422.dcm")
    info, out = _frames(path)
    assert info.photometric == "YBR_FULL_422" and out.shape == frames.shape
    np.testing.assert_array_equal(out, pydicom.dcmread(path).pixel_array)
    # luminance is kept at full resolution: grey levels follow the source closely
    luma = lambda a: a @ np.array([0.299, 0.587, 0.114])  # noqa: E731
    err = np.abs(luma(out.astype(float)) - luma(frames.astype(float)))
    assert err.mean() < 1.0 and err.max() < 10  # (clipping to 0..255 after chroma sharing)


@pytest.mark.parametrize(("bits", "lut_bits"), [(8, 8), (8, 16), (16, 16)])
@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ExplicitVRBigEndian], ids=lambda t: t.name)
def test_palette_colour_becomes_rgb_uint8(tmp_path, bits, lut_bits, ts):
    indices = grey_frames(bits=bits)
    ds, tables = palette(dataset(indices, bits=bits), indices, bits=bits, lut_bits=lut_bits)
    info, out = _frames(save(ds, tmp_path / "pal.dcm", ts))
    assert info.color and info.photometric == "PALETTE COLOR" and info.bits == bits
    rgb = np.stack([t[indices] for t in tables], axis=-1)
    expected = (rgb >> 8) if lut_bits == 16 else rgb
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_palette_16bit_table_holding_8bit_values_is_not_darkened(tmp_path):
    indices = grey_frames()
    ds, tables = palette(dataset(indices), indices, bits=8, lut_bits=8)
    for name, table in zip(("Red", "Green", "Blue"), tables):  # declared 16-bit, values < 256
        setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{name}PaletteColorLookupTableData", table.astype("<u2").tobytes())
    _, out = _frames(save(ds, tmp_path / "pal8in16.dcm"))
    np.testing.assert_array_equal(out, np.stack([t[indices] for t in tables], axis=-1))
