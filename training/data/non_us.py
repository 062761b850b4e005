"""Images that are not ultrasound, for checking that the exam head answers ``unknown``.

Two kinds, both read back through the product's reader (``engine.io.open.open_cine``), so the
frames reach the model by the path ``echocare infer`` takes:

* DICOM files of other modalities that ship with pydicom (its ``data/test_files`` folder,
  found next to the installed package; nothing is downloaded): CT, MR, nuclear medicine and
  colour secondary captures. Files the engine cannot read (no pixel data, 32-bit pixels) are
  left out and counted.
* generated images, written to a folder first: noise (Gaussian, uniform, salt-and-pepper, grey
  and colour, several sizes), photograph-like colour scenes and documents. The "photographs"
  are synthetic (a sky and ground gradient, 1/f texture, random shapes, blur, saved as JPEG),
  not real photographs. Everything generated is a function of its seed alone.

The set is for evaluation only: nothing is fitted or chosen on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# category -> file name patterns in pydicom's test files (only images of that modality)
DICOM_PATTERNS: dict[str, tuple[str, ...]] = {
    "ct": ("CT_small.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm"),
    "mr": ("MR_small*.dcm", "MR2_*.dcm", "examples_overlay.dcm"),
    "nm": ("JPEG2000.dcm", "JPGExtended.dcm"),
    "secondary_capture": (
        "SC_rgb*.dcm",
        "SC_jpeg_no_color_transform*.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
    ),
}
NOISE_SIZES = ((64, 64), (128, 128), (256, 256), (300, 400), (480, 640))
PHOTO_SIZES = ((240, 320), (480, 640), (600, 800), (512, 512))
PAGE_SIZES = ((842, 595), (600, 480), (400, 560))
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class NonUsItem:
    """One input of the set.

    Attributes:
        category: "ct", "mr", "nm", "secondary_capture", "noise", "photo" or "document".
        path: the file the reader opens.
        name: a short stable name.
    """

    category: str
    path: Path
    name: str


def pydicom_test_files() -> Path:
    """The folder of DICOM test files installed with pydicom."""
    import pydicom

    return Path(pydicom.__file__).resolve().parent / "data" / "test_files"


def dicom_items(root: Path | None = None) -> list[NonUsItem]:
    """pydicom's CT, MR, NM and secondary-capture files, in a stable order."""
    root = root or pydicom_test_files()
    out: list[NonUsItem] = []
    for category, patterns in DICOM_PATTERNS.items():
        seen: set[Path] = set()
        for pattern in patterns:
            for path in sorted(root.glob(pattern)):
                if path not in seen:
                    seen.add(path)
                    out.append(NonUsItem(category, path, path.name))
    return out


def noise_image(kind: str, size: tuple[int, int], colour: bool, seed: int) -> np.ndarray:
    """Gaussian, uniform or salt-and-pepper noise, ``[H, W]`` or ``[H, W, 3]`` uint8."""
    rng = np.random.default_rng(seed)
    shape = (*size, 3) if colour else size
    if kind == "gaussian":
        img = rng.normal(rng.uniform(60, 190), rng.uniform(15, 70), shape)
    elif kind == "uniform":
        img = rng.uniform(0, 256, shape)
    elif kind == "salt_pepper":
        img = np.full(shape, rng.uniform(40, 200))
        u = rng.random(shape)
        share = rng.uniform(0.02, 0.2)
        img[u < share / 2] = 0
        img[u > 1 - share / 2] = 255
    else:
        raise ValueError(f"unknown noise {kind!r}")
    return np.clip(img, 0, 255).astype(np.uint8)


def _pink(rng: np.random.Generator, size: tuple[int, int], exponent: float = 1.0) -> np.ndarray:
    """1/f^exponent noise scaled to [-1, 1]."""
    h, w = size
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f**exponent
    spectrum[0, 0] = 0
    img = np.fft.irfft2(spectrum, s=(h, w))
    return img / max(1e-9, float(np.abs(img).max()))


def photo_image(size: tuple[int, int], seed: int) -> np.ndarray:
    """A synthetic photograph-like colour scene ``[H, W, 3]`` uint8 (RGB): sky and ground
    gradients split by a horizon, 1/f texture, a few filled shapes, then a slight blur."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    horizon = int(h * rng.uniform(0.3, 0.7))
    y = np.linspace(0, 1, h)[:, None, None]
    sky_top, sky_low = (
        rng.uniform([40, 90, 150], [140, 170, 255]),
        rng.uniform([150, 180, 200], [230, 230, 255]),
    )
    ground_top, ground_low = (
        rng.uniform([50, 80, 20], [160, 170, 90]),
        rng.uniform([20, 40, 10], [110, 110, 70]),
    )
    sky = sky_top + (sky_low - sky_top) * y
    ground = ground_top + (ground_low - ground_top) * y
    img = np.where(np.arange(h)[:, None, None] < horizon, sky, ground) * np.ones((1, w, 1))
    img += 40 * _pink(rng, size)[..., None] * rng.uniform(0.5, 1.5, 3)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(horizon // 2, h))
        r = int(rng.integers(max(4, min(h, w) // 30), max(8, min(h, w) // 5)))
        shape = rng.integers(0, 3)
        if shape == 0:
            cv2.circle(img, (cx, cy), r, colour, -1)
        elif shape == 1:
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + int(r * rng.uniform(0.5, 2))), colour, -1)
        else:
            pts = np.array([[cx + rng.integers(-r, r), cy + rng.integers(-r, r)] for _ in range(5)], np.int32)
            cv2.fillPoly(img, [pts], colour)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.6, 2.0)))
    return np.clip(img, 0, 255).astype(np.uint8)


def _word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(_LETTERS), int(rng.integers(2, 10))))


def document_image(size: tuple[int, int], seed: int) -> np.ndarray:
    """A page ``[H, W]`` uint8: a title, lines of text and, on some pages, a ruled table."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    page = np.full((h, w), int(rng.integers(225, 256)), np.uint8)
    ink = int(rng.integers(0, 60))
    margin = int(w * 0.08)
    scale = float(rng.uniform(0.4, 0.7)) * w / 600
    step = int(28 * scale / 0.55) + 4
    y = margin + step
    cv2.putText(page, " ".join(_word(rng) for _ in range(3)).title(), (margin, y), 0, scale * 1.6, ink, 2)
    y += 2 * step
    table_at = int(rng.integers(3, 12)) if rng.random() < 0.6 else -1
    line = 0
    while y < h - margin:
        if line == table_at:
            rows, cols = int(rng.integers(3, 7)), int(rng.integers(2, 5))
            x_edges = np.linspace(margin, w - margin, cols + 1).astype(int)
            for r in range(rows + 1):
                yy = min(h - margin, y + r * step)
                cv2.line(page, (margin, yy), (w - margin, yy), ink, 1)
            bottom = min(h - margin, y + rows * step)
            for x in x_edges:
                cv2.line(page, (int(x), y), (int(x), bottom), ink, 1)
            for r in range(rows):
                for c in range(cols):
                    text = f"{rng.uniform(0, 100):.1f}" if c else _word(rng)
                    org = (int(x_edges[c]) + 4, min(h - margin, y + r * step + step - 6))
                    cv2.putText(page, text, org, 0, scale, ink, 1)
            y = bottom + 2 * step
        else:
            text, x = [], margin
            while True:
                word = _word(rng)
                (tw, _), _ = cv2.getTextSize(word + " ", 0, scale, 1)
                if x + tw > w - margin:
                    break
                text.append(word)
                x += tw
            cv2.putText(page, " ".join(text), (margin, y), 0, scale, ink, 1)
            y += step
        line += 1
    return page


def _generated(seed: int) -> Iterator[tuple[str, str, np.ndarray, str]]:
    """(category, name, image, file suffix) of every generated image."""
    k = 0
    for kind in ("gaussian", "uniform", "salt_pepper"):
        for size in NOISE_SIZES:
            for colour in (False, True):
                name = f"{kind}_{size[0]}x{size[1]}_{'rgb' if colour else 'grey'}"
                yield "noise", name, noise_image(kind, size, colour, seed * 1000 + k), ".png"
                k += 1
    for i in range(24):
        size = PHOTO_SIZES[i % len(PHOTO_SIZES)]
        yield "photo", f"photo_{i:02d}_{size[0]}x{size[1]}", photo_image(size, seed * 1000 + 100 + i), ".jpg"
    for i in range(15):
        size = PAGE_SIZES[i % len(PAGE_SIZES)]
        yield (
            "document",
            f"document_{i:02d}_{size[0]}x{size[1]}",
            document_image(size, seed * 1000 + 200 + i),
            ".png",
        )


def write_generated(folder: Path, seed: int = 0) -> list[NonUsItem]:
    """Write the generated images into ``folder`` (PNG; the photographs as JPEG)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for category, name, img, suffix in _generated(seed):
        path = folder / f"{name}{suffix}"
        bgr = img[..., ::-1] if img.ndim == 3 else img
        if not cv2.imwrite(str(path), np.ascontiguousarray(bgr)):
            raise OSError(f"cannot write {path}")
        out.append(NonUsItem(category, path, name))
    return out


def non_us_items(folder: Path, seed: int = 0, dicom_root: Path | None = None) -> list[NonUsItem]:
    """The whole set: pydicom's non-ultrasound files, then the generated images (written to ``folder``)."""
    return dicom_items(dicom_root) + write_generated(folder, seed)
