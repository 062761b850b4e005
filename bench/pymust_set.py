"""Render the independent held-out lesion set with PyMUST (a physics-based simulator from PyPI).

    python -m venv /tmp/pymust && /tmp/pymust/bin/pip install pymust opencv-python-headless
    /tmp/pymust/bin/python bench/pymust_set.py [--per-kind 4] [--seed 0] [--out bench/out/pymust]
    python bench/independent.py --images bench/out/pymust

PyMUST (Garcia's MUST in Python) simulates the RF signals of a real probe model (``L11-5v``, 7.6
MHz, 128 elements) from point scatterers (``simus``), then demodulates, beamforms (delay-and-sum
of one plane wave) and log-compresses (``bmode``, 50 dB). It is not a project dependency: it
pulls scipy and matplotlib, and one image costs about 20 s on 2 cores, so it runs in its own
virtual environment and its images are written once per folder. Nothing in the recipes reads it.

Lesion kinds and their ranges are those of ``bench/independent.py`` (``KINDS``): Rayleigh
scatterer amplitudes whose mean is scaled inside each lesion. The phantom is 25 mm wide, 5-35 mm
deep, with 10,000 scatterers; the image is 240 x 200 pixels of 0.125 mm. Each image is written
as ``<kind>_<nn>.png`` with its lesion mask ``<kind>_<nn>.mask.png`` (255 inside), and the
folder's ``set.json`` records the spacing and every lesion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from independent import KINDS

WIDTH_M, Z0_M, Z1_M = 0.025, 0.005, 0.035
ROWS, COLS = 240, 200
SCATTERERS = 10_000
SPACING_MM = WIDTH_M * 1000 / COLS


def layout(kind: str, seed: int) -> list[tuple[float, float, float, float]]:
    """Lesions ``(x_mm, z_mm, diameter_mm, amplitude)`` of ``kind``, clear of each other and the edges."""
    count, (d0, d1), (a0, a1) = KINDS[kind]
    rng = np.random.default_rng([seed, 0x9A5])
    out: list[tuple[float, float, float, float]] = []
    w, z0, z1 = WIDTH_M * 1000, Z0_M * 1000, Z1_M * 1000
    while len(out) < count:
        d, a = float(rng.uniform(d0, d1)), float(rng.uniform(a0, a1))
        x = float(rng.uniform(-w / 2 + d / 2 + 1.5, w / 2 - d / 2 - 1.5))
        z = float(rng.uniform(z0 + d / 2 + 2.0, z1 - d / 2 - 2.0))
        if all(np.hypot(x - ox, z - oz) > (d + od) / 2 + 2.0 for ox, oz, od, _ in out):
            out.append((x, z, d, a))
    return out


def render(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float, float]]]:
    import pymust

    lesions = layout(kind, seed)
    rng = np.random.default_rng([seed, 0x5CA7])
    xs = rng.uniform(-WIDTH_M / 2, WIDTH_M / 2, SCATTERERS)
    zs = rng.uniform(Z0_M, Z1_M, SCATTERERS)
    rc = rng.rayleigh(1.0, SCATTERERS)
    for x, z, d, a in lesions:
        rc[(xs - x / 1000) ** 2 + (zs - z / 1000) ** 2 < (d / 2000) ** 2] *= a
    param = pymust.getparam("L11-5v")
    dels = pymust.txdelay(param, 0)
    rf, _ = pymust.simus(xs, zs, rc, dels, param)
    iq = pymust.rf2iq(rf, param)
    xi, zi = np.meshgrid(
        (np.arange(COLS) + 0.5) * SPACING_MM / 1000 - WIDTH_M / 2,
        Z0_M + (np.arange(ROWS) + 0.5) * SPACING_MM / 1000,
    )
    das = pymust.dasmtx(iq, xi, zi, dels, param)
    iqb = (das @ iq.flatten(order="F")).reshape(xi.shape, order="F")
    image = np.clip(pymust.bmode(iqb, 50), 0, 255).astype(np.uint8)
    mask = np.zeros((ROWS, COLS), bool)
    for x, z, d, _ in lesions:
        mask |= (xi * 1000 - x) ** 2 + (zi * 1000 - z) ** 2 < (d / 2) ** 2
    return image, mask, lesions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "pymust")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"simulator": "pymust L11-5v, one plane wave, 50 dB", "spacing_mm": SPACING_MM, "images": {}}
    for kind in KINDS:
        for i in range(args.per_kind):
            t0 = time.perf_counter()
            image, mask, lesions = render(kind, args.seed + i)
            name = f"{kind}_{i:02d}"
            cv2.imwrite(str(args.out / f"{name}.png"), image)
            cv2.imwrite(str(args.out / f"{name}.mask.png"), mask.astype(np.uint8) * 255)
            record["images"][name] = {"kind": kind, "seed": args.seed + i, "lesions": lesions}
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    (args.out / "set.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
