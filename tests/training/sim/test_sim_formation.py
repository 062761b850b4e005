"""Image formation: speckle statistics, attenuation, scan conversion and overlay placement."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from training.sim.config import CONVEX, LINEAR, PHASED, ImagingParams
from training.sim.formation import Renderer
from training.sim.geometry import make_scanner
from training.sim.overlay import burn_in_layer
from training.sim.phantom import Layer, Phantom
from training.sim.shapes import Ellipse

FLAT = ImagingParams(attenuation_db_cm_mhz=0.0, tgc_compensation=0.0, texture=0.0, noise=0.0, gain_db=0.0)


def test_simulator_imports_neither_torch_nor_qt() -> None:
    code = (
        "import sys, training.sim, training.sim.dicom; "
        "print(','.join(m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_homogeneous_speckle_is_rayleigh_before_log_compression() -> None:
    scanner = make_scanner(LINEAR, 256, 256)
    env = Renderer(scanner, FLAT, np.random.default_rng(0)).envelope(Phantom())
    core = env[10:-10, 10:-10].astype(np.float64).ravel()
    # Rayleigh: E[A^2] = 1 here, mean/std = sqrt(pi / (4 - pi)), intensity is exponential (E[I^2] = 2 E[I]^2)
    assert np.mean(core**2) == pytest.approx(1.0, rel=0.05)
    assert core.mean() / core.std() == pytest.approx(np.sqrt(np.pi / (4.0 - np.pi)), rel=0.05)
    intensity = core**2
    assert np.mean(intensity**2) / np.mean(intensity) ** 2 == pytest.approx(2.0, rel=0.1)
    # exponential intensity: P(I > t) = exp(-t / E[I])
    for t in (0.5, 1.0, 2.0):
        assert np.mean(intensity > t * intensity.mean()) == pytest.approx(np.exp(-t), abs=0.02)


def test_compounding_reduces_speckle_contrast() -> None:
    scanner = make_scanner(LINEAR, 128, 128)
    single = Renderer(scanner, FLAT, np.random.default_rng(1)).envelope(Phantom())
    many = Renderer(scanner, replace(FLAT, looks=8), np.random.default_rng(1)).envelope(Phantom())
    limit = Renderer(scanner, replace(FLAT, looks=0), np.random.default_rng(1)).envelope(Phantom())
    assert many.std() / many.mean() < 0.6 * single.std() / single.mean()
    assert limit[10:-10, 10:-10].std() < 1e-3


def test_depth_attenuation_slope_without_tgc() -> None:
    params = replace(FLAT, attenuation_db_cm_mhz=0.5, looks=4)
    scanner = make_scanner(LINEAR, 256, 256)
    env = Renderer(scanner, params, np.random.default_rng(2)).envelope(Phantom())
    level_db = 10.0 * np.log10(np.mean(env.astype(np.float64) ** 2, axis=1))
    slope = np.polyfit(scanner.beam_r / 10.0, level_db, 1)[0]
    expected = -2.0 * 0.5 * LINEAR.frequency_mhz  # round trip, dB per cm
    assert slope == pytest.approx(expected, rel=0.1)


def test_hypo_and_hyper_structures_have_the_contrast_sign_of_their_echo() -> None:
    scanner = make_scanner(LINEAR, 192, 192)
    for echo, sign in ((0.2, -1), (3.0, 1)):
        shape = Ellipse(0.0, 20.0, 8.0, 6.0)
        frame = Renderer(scanner, ImagingParams(), np.random.default_rng(3)).frame(
            Phantom((Layer(shape, echo, label=1),))
        )
        inner = Ellipse(0.0, 20.0, 6.0, 4.0).inside(scanner.pix_x, scanner.pix_z)
        ring = Ellipse(0.0, 20.0, 14.0, 12.0).inside(scanner.pix_x, scanner.pix_z) & ~shape.inside(
            scanner.pix_x, scanner.pix_z
        )
        assert sign * (frame[inner].mean() - frame[ring].mean()) > 20


def test_clutter_fills_in_a_hypoechoic_lesion_most_near_the_probe_and_keeps_the_tissues_power() -> None:
    scanner = make_scanner(LINEAR, 192, 192)

    def contrast_db(cz: float, **clutter: float) -> float:
        shape = Ellipse(0.0, cz, 5.0, 5.0)
        inner = Ellipse(0.0, cz, 3.5, 3.5).inside(scanner.beam_x, scanner.beam_z)
        ring = Ellipse(0.0, cz, 10.0, 10.0).inside(scanner.beam_x, scanner.beam_z) & ~shape.inside(
            scanner.beam_x, scanner.beam_z
        )
        params = replace(FLAT, looks=0, **clutter)  # the mean power, without speckle
        env = Renderer(scanner, params, np.random.default_rng(4)).envelope(Phantom((Layer(shape, 0.2),)))
        return float(10 * np.log10(np.mean(env[inner] ** 2) / np.mean(env[ring] ** 2)))

    clear, near = contrast_db(10.0), contrast_db(10.0, clutter=0.8)
    assert clear < -12.0 and clear + 6.0 < near < -2.0, "clutter fills the lesion in"
    falling = {"clutter": 0.8, "clutter_depth_mm": 15.0}
    assert contrast_db(30.0, **falling) < contrast_db(8.0, **falling) - 3.0, "less of it deeper"
    tissue = Renderer(scanner, replace(FLAT, clutter=0.8), np.random.default_rng(5)).envelope(Phantom())
    assert np.mean(tissue[10:-10, 10:-10].astype(np.float64) ** 2) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("probe", [LINEAR, CONVEX, PHASED], ids=lambda p: p.kind)
def test_pixel_mm_round_trip_and_fan_area(probe) -> None:
    s = make_scanner(probe, 200, 240)
    pts = np.array([[10.5, 30.25], [100.0, 150.0]])
    back = s.mm_to_px(*s.px_to_mm(pts[:, 0], pts[:, 1]).T)
    np.testing.assert_allclose(back, pts, atol=1e-9)
    if probe.kind == "linear":
        area = probe.width_mm * probe.depth_mm
    else:
        r0, r1 = probe.radius_mm, probe.radius_mm + probe.depth_mm
        area = np.deg2rad(probe.angle_deg) / 2.0 * (r1**2 - r0**2)
    perimeter = 2 * (probe.depth_mm + (probe.width_mm if probe.kind == "linear" else 2 * r1))
    assert abs(s.fan_mask.sum() * s.spacing_mm**2 - area) < perimeter * s.spacing_mm


@pytest.mark.parametrize("probe", [LINEAR, CONVEX, PHASED], ids=lambda p: p.kind)
def test_overlay_stays_outside_the_fan(probe) -> None:
    s = make_scanner(probe, 256, 256)
    layer = burn_in_layer(s, ("SIMULATED PATIENT", "ID SIM-1"), ("L7.5 MHz", "D 4.0 cm"))
    assert (layer > 0).sum() > 200
    assert not np.any((layer > 0) & s.fan_mask)


def test_frames_are_black_outside_the_fan() -> None:
    s = make_scanner(PHASED, 128, 128)
    frame = Renderer(s, ImagingParams(), np.random.default_rng(0)).frame(Phantom())
    assert frame[~s.fan_mask].max() == 0
    assert frame[s.fan_mask].mean() > 50
