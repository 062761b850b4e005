"""Decode one encoded DICOM frame into the array a viewer displays.

Compressed frames go through pydicom's pixel plugins, except JPEG baseline 8-bit, which the
fastest installed libjpeg-turbo wrapper decodes (see ``engine.io.codecs``). Colour is then made
displayable: YBR_* becomes RGB (pydicom or the JPEG codec does it), PALETTE COLOR goes through
its lookup table to RGB uint8, MONOCHROME1 is inverted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.uid import UID, JPEGBaseline8Bit, JPEGExtended12Bit

from engine.io.codecs import JpegDecoder, fastest_jpeg, jpeg_frame_size

FAST_JPEG_SYNTAXES = (JPEGBaseline8Bit, JPEGExtended12Bit)
FAST_JPEG_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "YBR_FULL_422", "YBR_FULL")
# GDCM aborts the whole process (an uncaught C++ exception) on a stream that contradicts the
# header, for example a JPEG 2000 frame whose component count differs from SamplesPerPixel; it is
# used only when no other plugin for the transfer syntax is installed.
UNSAFE_PLUGINS = ("gdcm",)


def safe_plugins(decoder: object) -> tuple[str, ...]:
    """The decoding plugins to try, in pydicom's order, without those that can abort the process.

    An empty name means "let pydicom choose" (only unsafe plugins are installed).
    """
    available = tuple(decoder.available_plugins)  # type: ignore[attr-defined]
    safe = tuple(name for name in available if name not in UNSAFE_PLUGINS)
    return safe or ("",)


@dataclass(frozen=True)
class PixelFormat:
    """The Image Pixel module attributes that decoding needs (PS3.3 C.7.6.3)."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int
    transfer_syntax: UID

    @classmethod
    def from_dataset(cls, ds: Dataset, transfer_syntax: UID) -> PixelFormat:
        """Read the format from ``ds``; missing optional attributes take their defaults."""
        bits_allocated = int(ds.BitsAllocated)
        return cls(
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            samples=int(ds.get("SamplesPerPixel", 1)),
            bits_allocated=bits_allocated,
            bits_stored=int(ds.get("BitsStored", bits_allocated)),
            signed=bool(ds.get("PixelRepresentation", 0)),
            photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
            planar=int(ds.get("PlanarConfiguration", 0) or 0),
            transfer_syntax=transfer_syntax,
        )

    @property
    def native_frame_bytes(self) -> int:
        """Bytes of one uncompressed frame (YBR_FULL_422 stores two samples per pixel)."""
        per_pixel = 2 if self.photometric == "YBR_FULL_422" and self.samples == 3 else self.samples
        return self.rows * self.columns * per_pixel * self.bits_allocated // 8

    @property
    def color(self) -> bool:
        """Whether frames are displayed as RGB."""
        return self.samples == 3 or self.photometric == "PALETTE COLOR"

    def decoder_options(self) -> dict[str, object]:
        """Keyword options for ``pydicom`` ``Decoder.as_array`` on a one-frame buffer."""
        opts: dict[str, object] = {
            "rows": self.rows,
            "columns": self.columns,
            "samples_per_pixel": self.samples,
            "bits_allocated": self.bits_allocated,
            "bits_stored": self.bits_stored,
            "pixel_representation": int(self.signed),
            "photometric_interpretation": self.photometric,
            "number_of_frames": 1,
            "pixel_keyword": "PixelData",
        }
        if self.samples > 1:
            opts["planar_configuration"] = self.planar
        return opts


def palette_lut(ds: Dataset, bits_stored: int) -> np.ndarray:
    """The PALETTE COLOR lookup table as ``[N, 3]`` RGB uint8, indexed by stored value.

    16-bit tables are scaled to 8 bits unless every entry already fits in 8 bits (some
    scanners declare 16 but store 8-bit values).
    """
    values = np.arange(0, 1 << min(bits_stored, 16), dtype=np.uint16 if bits_stored > 8 else np.uint8)
    lut = apply_color_lut(values, ds)
    if lut.ndim != 2 or lut.shape[1] != 3 or not len(lut):
        # a damaged (segmented) table can expand to the wrong number of channels
        raise ValueError(f"palette colour lookup table has shape {lut.shape}, expected [N, 3]")
    if lut.dtype != np.uint8:
        lut = (lut >> 8).astype(np.uint8) if int(lut.max()) > 255 else lut.astype(np.uint8)
    return np.ascontiguousarray(lut)


class FrameDecoder:
    """Turns one frame's encoded bytes into a display frame.

    Args:
        fmt: the pixel format of every frame.
        encapsulated: whether frames are compressed fragments (else native bytes).
        lut: ``[N, 3]`` uint8 palette for PALETTE COLOR, else None.
        jpeg: override of the fast JPEG decoder (None picks the fastest installed).
    """

    def __init__(
        self,
        fmt: PixelFormat,
        encapsulated: bool,
        lut: np.ndarray | None = None,
        jpeg: tuple[str, JpegDecoder] | None = None,
    ) -> None:
        self.fmt = fmt
        self.encapsulated = encapsulated
        self.lut = lut
        self._decoder = get_decoder(fmt.transfer_syntax)
        self._plugins = safe_plugins(self._decoder)
        self._options = fmt.decoder_options()
        fast = (
            fmt.transfer_syntax in FAST_JPEG_SYNTAXES
            and fmt.bits_allocated == 8
            and fmt.bits_stored == 8
            and fmt.photometric in FAST_JPEG_PHOTOMETRICS
        )
        self.jpeg = (jpeg or fastest_jpeg()) if fast else None

    @property
    def codec(self) -> str:
        """Name of what decodes the frames: a fast JPEG decoder, ``pydicom`` or ``native``."""
        if self.jpeg is not None:
            return self.jpeg[0]
        return "pydicom" if self.encapsulated else "native"

    def _check_stream(self, data: bytes) -> None:
        size = jpeg_frame_size(data) if self.encapsulated else None
        if size is not None and size != (self.fmt.rows, self.fmt.columns):
            raise ValueError(
                f"the JPEG stream holds {size[0]} x {size[1]} pixels, the header says "
                f"{self.fmt.rows} x {self.fmt.columns}"
            )

    def _stored(self, data: bytes) -> np.ndarray:
        self._check_stream(data)
        if self.jpeg is not None:
            arr = self.jpeg[1](data)
            expected = (self.fmt.rows, self.fmt.columns) + ((3,) if self.fmt.samples == 3 else ())
            if arr is not None and arr.shape == expected:
                return arr
        src = encapsulate([data]) if self.encapsulated else data
        for plugin in self._plugins[:-1]:
            try:
                return self._decoder.as_array(
                    src, index=0, as_rgb=True, decoding_plugin=plugin, **self._options
                )[0]
            except (RuntimeError, ValueError):  # the next plugin may read what this one cannot
                continue
        plugin = self._plugins[-1]
        return self._decoder.as_array(src, index=0, as_rgb=True, decoding_plugin=plugin, **self._options)[0]

    def decode(self, data: bytes) -> np.ndarray:
        """Decode one frame: ``[H, W]`` uint8/uint16 grey or ``[H, W, 3]`` RGB uint8."""
        arr = self._stored(data)
        photometric = self.fmt.photometric
        if photometric == "PALETTE COLOR" and self.lut is not None:
            return self.lut[np.clip(arr, 0, len(self.lut) - 1)]
        if self.fmt.signed:
            arr = arr.astype(np.int32) + (1 << (self.fmt.bits_stored - 1))
        if photometric == "MONOCHROME1":
            arr = ((1 << self.fmt.bits_stored) - 1) - arr.astype(np.int32)
        if arr.ndim == 3 and self.fmt.bits_allocated > 8:
            shift = max(self.fmt.bits_stored - 8, 0)
            return (arr.astype(np.uint32) >> shift).astype(np.uint8)
        out_dtype = np.uint8 if self.fmt.bits_stored <= 8 else np.uint16
        if arr.dtype != out_dtype:
            arr = arr.astype(out_dtype)
        return np.ascontiguousarray(arr)
