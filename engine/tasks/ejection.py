"""Ejection fraction from a segmented ventricle over a cine (area-length volumes, beat by beat).

Volumes use the single-plane area-length method ``V = 8 A^2 / (3 pi L)`` with A the mask area
and L its long-axis length, both at the scale all the mask's pixels share (a mask is not a set
of points: ``engine.tasks.units.mask_scale``). End-diastole is a local maximum of the volume
curve, end-systole the minimum between it and the next end-diastole; EF is averaged over the
beats found.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engine.io.calibration import Calibration
from engine.tasks.units import mask_scale


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


def find_beats(volumes: np.ndarray, min_gap: int) -> tuple[list[int], list[int]]:
    """(ED indices, ES indices) into ``volumes``: one pair per beat, ED before ES.

    Args:
        volumes: ``[N]`` volume per analysed frame.
        min_gap: fewest frames between two end-diastoles (about a third of a beat).
    """
    n = volumes.size
    smooth = np.convolve(np.pad(volumes, 1, mode="edge"), np.ones(3) / 3, mode="valid") if n >= 3 else volumes
    peaks = [
        i
        for i in range(n)
        if smooth[i] == smooth[max(0, i - min_gap) : i + min_gap + 1].max()
        and (not 0 < i < n - 1 or smooth[i] > min(smooth[i - 1], smooth[i + 1]) or n < 3)
    ]
    # keep one peak per plateau / window
    ed: list[int] = []
    for p in peaks:
        if not ed or p - ed[-1] > min_gap:
            ed.append(p)
    eds, ess = [], []
    for k, p in enumerate(ed):
        end = ed[k + 1] if k + 1 < len(ed) else n
        if end - p < 2:
            continue
        s = p + int(np.argmin(volumes[p:end]))
        if volumes[s] < volumes[p]:
            eds.append(p)
            ess.append(s)
    # a beat cut by either end of the range (end-diastole on the first frame, volume still
    # falling on the last) is incomplete; keep it only when it is the only one
    if len(eds) > 1 and ess[-1] == n - 1:
        eds, ess = eds[:-1], ess[:-1]
    if len(eds) > 1 and eds[0] == 0:
        eds, ess = eds[1:], ess[1:]
    if not eds and n >= 2:
        eds, ess = [int(np.argmax(volumes))], [int(np.argmin(volumes))]
    return eds, ess


def ejection_fraction(volumes: np.ndarray, min_gap: int) -> tuple[float, list[int], list[int]]:
    """(EF %, ED indices, ES indices) from a volume curve; EF is the mean over beats."""
    eds, ess = find_beats(np.asarray(volumes, dtype=np.float64), min_gap)
    efs = [100.0 * (volumes[e] - volumes[s]) / volumes[e] for e, s in zip(eds, ess) if volumes[e] > 0]
    return (float(np.mean(efs)) if efs else math.nan), eds, ess
