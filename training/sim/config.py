"""Typed settings of the ultrasound simulator: probe geometry, image formation and scene size.

Everything here is a frozen dataclass, so a configuration is hashable (the scan-conversion
tables are cached per configuration) and a "site shift" is a ``dataclasses.replace`` away.
Physical units: millimetres, degrees, decibels, megahertz.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ProbeGeometry:
    """Where the beams go.

    Attributes:
        kind: ``"linear"`` (parallel beams), ``"convex"`` (sector from a virtual apex behind a
            curved face of ``radius_mm``) or ``"phased"`` (sector from a point apex).
        depth_mm: imaging depth along each beam, from the transducer face.
        width_mm: aperture width of a linear probe (ignored for sectors).
        angle_deg: opening angle of a sector (ignored for linear probes).
        radius_mm: radius of curvature of a convex face; 0 for phased arrays.
        frequency_mhz: centre frequency, used for depth attenuation.
    """

    kind: str = "linear"
    depth_mm: float = 40.0
    width_mm: float = 38.0
    angle_deg: float = 70.0
    radius_mm: float = 0.0
    frequency_mhz: float = 7.5


LINEAR = ProbeGeometry("linear", depth_mm=40.0, width_mm=38.0, frequency_mhz=7.5)
CONVEX = ProbeGeometry("convex", depth_mm=140.0, angle_deg=60.0, radius_mm=50.0, frequency_mhz=3.5)
PHASED = ProbeGeometry("phased", depth_mm=150.0, angle_deg=75.0, radius_mm=0.0, frequency_mhz=2.5)


@dataclass(frozen=True)
class ImagingParams:
    """How echoes become grey levels.

    Attributes:
        attenuation_db_cm_mhz: one-way tissue attenuation (dB per cm per MHz); the echo
            travels the depth twice.
        tgc_compensation: fraction of the mean tissue attenuation that time-gain
            compensation gives back (1 = fully flat brightness with depth).
        gain_db: overall receive gain.
        dynamic_range_db: span of envelope levels mapped onto 0..255 by log compression.
        headroom_db: envelope level (relative to the mean background echo) shown as white.
        psf_axial_wavelengths: standard deviation of the point-spread function along the
            beam, in wavelengths (1.54 / frequency_mhz mm), so resolution follows the probe.
        psf_lateral_wavelengths: standard deviation across beams at mid-depth, in wavelengths.
        looks: independent speckle realisations averaged incoherently (compounding);
            more looks give smoother, cleaner images; 0 gives the speckle-free limit.
        noise: electronic noise amplitude relative to the mean background echo after
            TGC, before the overall gain.
        speckle_correlation: frame-to-frame correlation of the speckle field in a cine
            (0 = independent frames, 1 = frozen speckle).
        texture: standard deviation of the slow log-echogenicity variation of tissue.
        beam_density: beams per output pixel of fan width (the grid the echoes are formed on).
        scatterer_density: mean scatterers per beam-grid sample; 0 gives fully developed
            speckle (Rayleigh envelope), a small value (0.2-2) sparse, spiky speckle with a
            heavier-tailed envelope.
        psf_sidelobe: amplitude of the lateral side lobes of the point-spread function
            (relative to the main lobe; 0 = a plain Gaussian, 0.3 = a sinc-like beam).
        shading_db: standard deviation (dB) of a smooth gain field over the image, in depth and
            across it (an unfocused or plane-wave beam's diffraction pattern, a focal zone,
            uneven probe contact); 0 for none.
        shading_seed: the seed of that field, so renderers of the same tissue share it.
        psf_min_sigma: the narrowest PSF, in beam-grid samples (sigma), whatever the wavelength;
            below about 0.5 the speckle is nearly white on the grid, a cell about a pixel.
        clutter: amplitude, relative to the local mean echo, of diffuse clutter (an unfocused or
            single-angle plane-wave beam's grating and side lobes, reverberation near the probe):
            echoes of the tissue around a point, spread ``clutter_width_mm`` across and along,
            with their own speckle, that fill in a hypoechoic lesion and lower its contrast; 0
            for none.
        clutter_width_mm: standard deviation of that spread.
        clutter_depth_mm: depth over which the clutter falls to 1/e of its level at the probe
            face (reverberation, a plane wave's near field); 0 keeps it at one level.
    """

    attenuation_db_cm_mhz: float = 0.5
    tgc_compensation: float = 0.9
    gain_db: float = 0.0
    dynamic_range_db: float = 60.0
    headroom_db: float = 15.0
    psf_axial_wavelengths: float = 0.8
    psf_lateral_wavelengths: float = 2.5
    looks: int = 1
    noise: float = 0.0
    speckle_correlation: float = 0.85
    texture: float = 0.2
    beam_density: float = 0.5
    scatterer_density: float = 0.0
    psf_sidelobe: float = 0.0
    shading_db: float = 0.0
    shading_seed: int = 0
    psf_min_sigma: float = 0.7
    clutter: float = 0.0
    clutter_width_mm: float = 4.0
    clutter_depth_mm: float = 0.0


@dataclass(frozen=True)
class SimConfig:
    """One simulated acquisition.

    Attributes:
        height: output rows (pixels).
        width: output columns (pixels).
        probe: probe geometry; ``None`` lets each scene use its natural probe.
        imaging: image formation parameters.
        frames: number of frames; ``None`` lets each scene pick (1 for stills).
        fps: frame rate of cines (frames per second).
        overlay: burn text and depth markers into the area outside the fan.
    """

    height: int = 256
    width: int = 256
    probe: ProbeGeometry | None = None
    imaging: ImagingParams = ImagingParams()
    frames: int | None = None
    fps: float = 30.0
    overlay: bool = True

    def with_probe(self, default: ProbeGeometry) -> SimConfig:
        """This configuration with ``default`` filled in when no probe was chosen."""
        return self if self.probe is not None else replace(self, probe=default)


def site_shift(
    cfg: SimConfig,
    *,
    probe: ProbeGeometry | None = None,
    gain_db: float = -6.0,
    psf_scale: float = 1.6,
    dynamic_range_db: float = 48.0,
    noise: float = 0.05,
    texture: float = 0.35,
) -> SimConfig:
    """The same scenes as seen by another site: other probe, gain, speckle size and noise.

    Args:
        cfg: the reference configuration.
        probe: the other site's probe; ``None`` keeps the scene's own.
        gain_db: gain added to the reference gain.
        psf_scale: factor on both point-spread widths (coarser speckle).
        dynamic_range_db: the other site's log-compression range.
        noise: electronic noise amplitude.
        texture: tissue texture strength.

    Returns:
        A new configuration; ``cfg`` is unchanged.
    """
    im = cfg.imaging
    imaging = replace(
        im,
        gain_db=im.gain_db + gain_db,
        psf_axial_wavelengths=im.psf_axial_wavelengths * psf_scale,
        psf_lateral_wavelengths=im.psf_lateral_wavelengths * psf_scale,
        dynamic_range_db=dynamic_range_db,
        noise=noise,
        texture=texture,
    )
    return replace(cfg, imaging=imaging, probe=probe if probe is not None else cfg.probe)
