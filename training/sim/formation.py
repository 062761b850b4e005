"""B-mode image formation on the beam grid: speckle, point-spread blur, attenuation, TGC, log compression.

The model, per beam-grid sample and per look:

    field    = PSF * (echo * texture * speckle + clutter(depth) * spread(echo * texture) * speckle')
    field    = field * 10^((TGC - tissue - shadow attenuation + shading) / 20) + noise
    envelope = |field| * 10^(gain / 20)
    grey     = 255 * clip((20 log10(envelope) - headroom + DR) / DR, 0, 1)

The PSF is an anisotropic Gaussian normalised to unit energy, so a homogeneous region of
background tissue keeps E[envelope^2] = 1 and a Rayleigh-distributed envelope. Clutter (0 by
default) adds an independent speckle whose amplitude is the tissue's echo spread widely
(``spread``: RMS over a Gaussian of ``clutter_width_mm``), scaled so that homogeneous tissue keeps
E[envelope^2] = 1; it fills in what is darker than its surroundings.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.sim.config import ImagingParams
from training.sim.geometry import Scanner
from training.sim.phantom import Phantom


def _kernel_size(sigma: float) -> int:
    return 2 * int(np.ceil(3.0 * sigma)) + 1


def _energy_norm(sigma_x: float, sigma_y: float) -> float:
    """Factor that gives a Gaussian blur of white noise unit variance."""
    kx = cv2.getGaussianKernel(_kernel_size(sigma_x), sigma_x)
    ky = cv2.getGaussianKernel(_kernel_size(sigma_y), sigma_y)
    return float(1.0 / np.sqrt(np.sum(kx**2) * np.sum(ky**2)))


def texture_field(grid_shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth, zero-mean, unit-variance random field ``[S, B]`` (float32): slow tissue texture."""
    n_samples, n_beams = grid_shape
    coarse = rng.standard_normal((max(4, n_samples // 24), max(4, n_beams // 12)), dtype=np.float32)
    field = cv2.resize(coarse, (n_beams, n_samples), interpolation=cv2.INTER_CUBIC)
    field -= field.mean()
    return field / max(float(field.std()), 1e-6)


def shading_field(grid_shape: tuple[int, int], seed: int) -> np.ndarray:
    """A very smooth, zero-mean, unit-variance field ``[S, B]`` (float32) from ``seed``: a 3x3 to
    5x5 grid of random levels, cubically interpolated (slow gain changes across the image)."""
    rng = np.random.default_rng([int(seed), 0x5AE])  # not the stream that decides on shading
    coarse = rng.standard_normal((int(rng.integers(3, 6)), int(rng.integers(3, 6))), dtype=np.float32)
    field = cv2.resize(coarse, (grid_shape[1], grid_shape[0]), interpolation=cv2.INTER_CUBIC)
    field -= field.mean()
    return field / max(float(field.std()), 1e-6)


def density_field(
    grid_shape: tuple[int, int], scatterers_per_sample: float, rng: np.random.Generator
) -> np.ndarray:
    """Unit-mean gamma-distributed local scatterer density ``[S, B]`` (float32).

    It weights the scatterer power of each beam-grid sample before the point-spread blur, so
    few scatterers per sample (``scatterers_per_sample`` below about 2) leave sparse, bright
    points and a heavier-tailed (K-like) envelope; many approach fully developed speckle.
    """
    nu = float(scatterers_per_sample)
    return rng.gamma(nu, 1.0 / nu, grid_shape).astype(np.float32)


class Renderer:
    """Forms B-mode frames of phantoms for one scanner and parameter set.

    The speckle field persists between calls, decorrelating by
    ``params.speckle_correlation`` per frame, so consecutive frames form a realistic cine.

    Args:
        scanner: geometry and scan-conversion tables.
        params: image formation parameters.
        rng: the random source of speckle and noise; the renderer draws from it and nothing else.
        field: ``[S, B]`` unit-variance smooth field of tissue texture, shared by renderers that
            must show the same tissue (e.g. a low/high quality pair); drawn from ``rng`` if omitted.
        density: ``[S, B]`` unit-mean local scatterer density (``density_field``), shared like
            ``field``; used only when ``params.scatterer_density > 0``, drawn from ``rng`` if omitted.
    """

    def __init__(
        self,
        scanner: Scanner,
        params: ImagingParams,
        rng: np.random.Generator,
        field: np.ndarray | None = None,
        density: np.ndarray | None = None,
    ) -> None:
        self.scanner = scanner
        self.params = params
        self.rng = rng
        n_samples = scanner.grid_shape[0]
        dr = scanner.probe.depth_mm / n_samples
        du = scanner.beam_u[1] - scanner.beam_u[0]
        mid = scanner.probe.depth_mm / 2.0
        wavelength = 1.54 / scanner.probe.frequency_mhz
        lateral_mm = params.psf_lateral_wavelengths * wavelength
        floor = params.psf_min_sigma
        self._sigma_ax = max(floor, params.psf_axial_wavelengths * wavelength / dr)
        self._sigma_lat = max(floor, lateral_mm / (du * scanner.beams.mm_per_u(mid)))
        self._norm = np.float32(_energy_norm(self._sigma_lat, self._sigma_ax))
        self._dr = dr
        r_cm = scanner.beam_r / 10.0
        tissue_db = 2.0 * params.attenuation_db_cm_mhz * scanner.probe.frequency_mhz * r_cm
        self._tissue_db = tissue_db.astype(np.float32)[:, None]
        self._tgc_db = (params.tgc_compensation * tissue_db).astype(np.float32)[:, None]
        if params.shading_db > 0:
            shading = np.float32(params.shading_db) * shading_field(scanner.grid_shape, params.shading_seed)
            self._tgc_db = self._tgc_db + shading
        if field is None:
            field = texture_field(scanner.grid_shape, rng)
        self._texture = np.exp(np.float32(params.texture) * field).astype(np.float32)
        if params.scatterer_density > 0:
            if density is None:
                density = density_field(scanner.grid_shape, params.scatterer_density, rng)
            self._texture *= np.sqrt(density)
        self._sidelobe = self._sidelobe_kernel(params.psf_sidelobe)
        self._speckle: list[np.ndarray] | None = None
        self._clutter: np.ndarray | None = None
        if params.clutter > 0:
            level = np.full(n_samples, params.clutter, np.float32)
            if params.clutter_depth_mm > 0:
                level = level * np.exp(-scanner.beam_r / params.clutter_depth_mm).astype(np.float32)
            self._clutter = level[:, None]
            self._clutter_sigma = (
                params.clutter_width_mm / (du * scanner.beams.mm_per_u(mid)),
                params.clutter_width_mm / dr,
            )

    def _sidelobe_kernel(self, level: float) -> np.ndarray | None:
        """Lateral kernel adding two side lobes ``2.5 sigma`` off-axis (unit power gain), or ``None``."""
        if level <= 0:
            return None
        offset = max(1, round(2.5 * self._sigma_lat))
        kernel = np.zeros(2 * offset + 1, np.float32)
        kernel[offset] = 1.0
        kernel[0] = kernel[-1] = -np.float32(level)  # side lobes are out of phase with the main lobe
        # unit gain in power for the Gaussian-blurred field, whose correlation at lag d is
        # exp(-d^2 / (4 sigma^2))
        lags = np.subtract.outer(np.arange(kernel.size), np.arange(kernel.size))
        power = float(kernel @ np.exp(-(lags**2) / (4.0 * self._sigma_lat**2)) @ kernel)
        return kernel / np.float32(np.sqrt(power))

    def _complex_noise(self) -> np.ndarray:
        n = self.rng.standard_normal((2, *self.scanner.grid_shape), dtype=np.float32)
        return n * np.float32(np.sqrt(0.5))

    def _next_speckle(self) -> list[np.ndarray]:
        looks = max(1, self.params.looks)
        if self._speckle is None:
            self._speckle = [self._complex_noise() for _ in range(looks)]
        else:
            rho = np.float32(self.params.speckle_correlation)
            keep = np.float32(np.sqrt(max(0.0, 1.0 - float(rho) ** 2)))
            self._speckle = [rho * s + keep * self._complex_noise() for s in self._speckle]
        return self._speckle

    def _blur(self, a: np.ndarray) -> np.ndarray:
        k = (_kernel_size(self._sigma_lat), _kernel_size(self._sigma_ax))
        out = cv2.GaussianBlur(a, k, self._sigma_lat, sigmaY=self._sigma_ax, borderType=cv2.BORDER_REFLECT)
        if self._sidelobe is None:
            return out
        one = np.ones(1, np.float32)
        return cv2.sepFilter2D(out, -1, self._sidelobe, one, borderType=cv2.BORDER_REFLECT)

    def _mean_power(self, amp: np.ndarray) -> np.ndarray:
        """Expected speckle intensity (the limit of infinitely many looks): amp^2 blurred by PSF^2."""
        sx, sy = self._sigma_lat / np.sqrt(2.0), self._sigma_ax / np.sqrt(2.0)
        k = (_kernel_size(sx), _kernel_size(sy))
        return cv2.GaussianBlur(amp * amp, k, sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)

    def envelope(self, phantom: Phantom) -> np.ndarray:
        """Echo envelope before log compression.

        ``params.looks == 0`` gives the speckle-free limit of infinite compounding.

        Args:
            phantom: the tissue of this frame.

        Returns:
            ``[S, B]`` float32 envelope on the beam grid; background tissue without
            attenuation, gain or noise has E[envelope^2] = 1.
        """
        echo, extra = phantom.echo_map(self.scanner.beam_x, self.scanner.beam_z)
        amp = echo * self._texture
        clutter = None
        if self._clutter is not None:
            sx, sy = self._clutter_sigma
            spread = cv2.GaussianBlur(amp * amp, (0, 0), sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)
            clutter = self._clutter * np.sqrt(spread)
            # tissue keeps its mean power: echo and clutter share it
            amp = amp / np.sqrt(np.float32(1.0) + self._clutter**2)
            clutter = clutter / np.sqrt(np.float32(1.0) + self._clutter**2)
        shadow_db = 2.0 * np.cumsum(extra, axis=0) * np.float32(self._dr)
        # attenuation, shadowing and TGC act on the echo; electronic noise joins after TGC
        tgc = np.power(np.float32(10.0), (self._tgc_db - self._tissue_db - shadow_db) / 20.0)
        gain = np.float32(10.0 ** (self.params.gain_db / 20.0))
        if self.params.looks == 0:
            mean = self._mean_power(amp) + (0.0 if clutter is None else self._mean_power(clutter))
            power = mean * tgc * tgc + np.float32(self.params.noise**2)
            return np.sqrt(power) * gain
        power = np.zeros(amp.shape, dtype=np.float32)
        speckle = self._next_speckle()
        for s in speckle:
            a, b = amp * s[0], amp * s[1]
            if clutter is not None:
                c = self._complex_noise()
                a, b = a + clutter * c[0], b + clutter * c[1]
            re = self._blur(a) * (self._norm * tgc)
            im = self._blur(b) * (self._norm * tgc)
            if self.params.noise > 0:
                n = self._complex_noise() * np.float32(self.params.noise)
                re, im = re + n[0], im + n[1]
            power += re * re + im * im
        return np.sqrt(power / np.float32(len(speckle))) * gain

    def log_compress(self, envelope: np.ndarray) -> np.ndarray:
        """Envelope to grey levels in [0, 255] (float32, same shape)."""
        p = self.params
        db = 20.0 * np.log10(envelope + np.float32(1e-6))
        grey = (db - np.float32(p.headroom_db - p.dynamic_range_db)) * np.float32(255.0 / p.dynamic_range_db)
        return np.clip(grey, 0.0, 255.0)

    def frame(self, phantom: Phantom) -> np.ndarray:
        """One scan-converted B-mode frame, ``[H, W]`` uint8, 0 outside the fan."""
        grey = self.log_compress(self.envelope(phantom))
        out = self.scanner.scan_convert(grey.astype(np.float32))
        return (out + 0.5).astype(np.uint8)
