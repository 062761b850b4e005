"""Ejection fraction from a segmented ventricle over a cine (area-length volumes, cycle by cycle).

Volumes use the single-plane area-length method ``V = 8 A^2 / (3 pi L)`` with A the mask area
and L its long-axis length, both at the scale all the mask's pixels share (a mask is not a set
of points: ``engine.tasks.units.mask_scale``).

EF needs a full cardiac cycle. An end-diastole (ED) is a peak of the volume curve: the largest
volume within a beat's shortest length (``min_gap`` frames, about a quarter of a second) on
either side. A cycle is an ED, the end-systole (ES: the smallest volume after it) and the next
ED, where

* the two EDs are more than ``min_gap`` frames apart and the cycle holds at least
  ``MIN_CYCLE_FRAMES`` analysed frames (ED to next ED, both included), so ES is sampled;
* the volume falls from the first ED to ES and rises from ES to the next ED;
* an ED on the first or last analysed frame (where the curve may have been rising still, or
  already falling) counts only when its volume and the cycle's other ED's differ by at most
  ``END_TOLERANCE`` of the cycle's stroke volume: the curve has come round to where it started.

EF is the mean over the cycles found, ``100 (V_ED - V_ES) / V_ED`` each. A cine holding no
full cycle (e.g. four frames of a beating heart) has no EF (NaN); its ED/ES marks are the
peaks and troughs found between its ends, if any.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from engine.io.calibration import Calibration
from engine.tasks.units import mask_scale

MIN_CYCLE_FRAMES = 8  # analysed frames from ED to the next ED, both included
END_TOLERANCE = 0.1  # of the stroke volume: an ED on a range end must come back this close


def area_length_volume(mask: np.ndarray, cal: Calibration) -> tuple[float, bool]:
    """Volume of a boolean ``[H, W]`` ventricle mask: (ml, True) when its pixels share a spatial
    scale (``mask_scale``), else (px3, False), as ``engine.tasks.units.area`` stays in pixels
    where a pixel has no spatial scale.

    The long axis is the extent of the mask along its principal axis. The principal axis comes
    from the mask's second moments and the extent from its outer outline (a linear function of
    the pixels is largest and smallest on the outline), so no list of every pixel is built.
    """
    binary = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    m = cv2.moments(binary, binaryImage=True)
    count = m["m00"]
    if count < 3:
        return 0.0, cal.calibrated
    cx, cy = m["m10"] / count, m["m01"] / count
    scale = mask_scale(mask, cal)
    sx, sy = scale if scale is not None else (1.0, 1.0)
    cov = np.array([[m["mu20"] * sx * sx, m["mu11"] * sx * sy], [m["mu11"] * sx * sy, m["mu02"] * sy * sy]])
    _, vecs = np.linalg.eigh(cov)
    outlines, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    xy = np.concatenate(outlines).reshape(-1, 2).astype(np.float64)
    proj = ((xy[:, 0] - cx) * sx) * vecs[0, -1] + ((xy[:, 1] - cy) * sy) * vecs[1, -1]
    pixel = math.hypot(sx * vecs[0, -1], sy * vecs[1, -1])
    length = float(proj.max() - proj.min()) + pixel
    area = count * sx * sy
    volume = 8.0 * area**2 / (3.0 * math.pi * length)
    return (volume / 1000.0, True) if scale is not None else (volume, False)


def end_diastoles(volumes: np.ndarray, min_gap: int) -> list[int]:
    """Peaks of the (3-frame smoothed) volume curve, more than ``min_gap`` frames apart: each the
    largest volume within ``min_gap`` frames on either side (the first of a plateau)."""
    v = np.asarray(volumes, dtype=np.float64)
    n = v.size
    smooth = np.convolve(np.pad(v, 1, mode="edge"), np.ones(3) / 3, mode="valid") if n >= 3 else v
    peaks = [
        i
        for i in range(n)
        if smooth[i] == smooth[max(0, i - min_gap) : i + min_gap + 1].max()
        and (not 0 < i < n - 1 or smooth[i] > min(smooth[i - 1], smooth[i + 1]))
    ]
    out: list[int] = []
    for p in peaks:
        if not out or p - out[-1] > min_gap:
            out.append(p)
    return out


def find_cycles(volumes: np.ndarray, min_gap: int) -> list[tuple[int, int, int]]:
    """(ED, ES, next ED) indices into ``volumes`` of every full cardiac cycle (module docstring).

    Args:
        volumes: ``[N]`` volume per analysed frame.
        min_gap: fewest frames between two end-diastoles (a quarter of a second or so).
    """
    v = np.asarray(volumes, dtype=np.float64)
    last = v.size - 1
    cycles = []
    eds = end_diastoles(v, min_gap)
    for a, b in itertools.pairwise(eds):
        if b - a + 1 < MIN_CYCLE_FRAMES or b - a <= min_gap:
            continue
        s = a + 1 + int(np.argmin(v[a + 1 : b]))
        if not v[s] < min(v[a], v[b]):
            continue
        stroke = max(v[a], v[b]) - v[s]
        if (a == 0 or b == last) and abs(v[a] - v[b]) > END_TOLERANCE * stroke:
            continue
        cycles.append((a, s, b))
    return cycles


def find_beats(volumes: np.ndarray, min_gap: int) -> tuple[list[int], list[int]]:
    """(ED indices, ES indices) into ``volumes``, one pair per full cycle (``find_cycles``).

    Without a full cycle, the marks the curve shows between its ends: each peak (``end_diastoles``)
    that is not the first or last frame, with the smallest volume after it when that is a trough
    (lower than the peak and not on the last frame); no marks where none is found.
    """
    v = np.asarray(volumes, dtype=np.float64)
    cycles = find_cycles(v, min_gap)
    if cycles:
        return [a for a, _, _ in cycles], [s for _, s, _ in cycles]
    eds, ess = [], []
    peaks = end_diastoles(v, min_gap)
    for k, p in enumerate(peaks):
        end = peaks[k + 1] if k + 1 < len(peaks) else v.size
        if not 0 < p < v.size - 1:
            continue
        s = p + int(np.argmin(v[p:end]))
        if v[s] < v[p] and s < v.size - 1:
            eds.append(p)
            ess.append(s)
    return eds, ess


def ejection_fraction(volumes: np.ndarray, min_gap: int) -> tuple[float, list[int], list[int]]:
    """(EF %, ED indices, ES indices) from a volume curve: EF is the mean over full cycles, NaN
    without one (the indices are then ``find_beats``' marks)."""
    v = np.asarray(volumes, dtype=np.float64)
    cycles = find_cycles(v, min_gap)
    efs = [100.0 * (v[a] - v[s]) / v[a] for a, s, _ in cycles if v[a] > 0]
    eds, ess = find_beats(v, min_gap)
    return (float(np.mean(efs)) if efs else math.nan), eds, ess
