"""A phantom: background tissue plus ordered layers of shapes with echogenicity, attenuation and labels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from training.sim.shapes import Shape, inside


@dataclass(frozen=True)
class Layer:
    """One structure of the phantom.

    Attributes:
        shape: where the structure is.
        echo: backscatter amplitude inside, relative to background tissue (1.0); 0.02 is
            anechoic fluid, 0.3 hypoechoic, 3 hyperechoic, 8 a bright specular bone.
        attenuation_db_mm: extra one-way attenuation inside (dB/mm); positive values cast
            an acoustic shadow behind the structure, negative ones enhance (fluid).
        label: label id painted into the ground-truth mask; ``None`` leaves labels as they are.
        multiply: multiply the echo underneath instead of replacing it.
    """

    shape: Shape
    echo: float
    attenuation_db_mm: float = 0.0
    label: int | None = None
    multiply: bool = False

    def moved(self, dx: float, dz: float) -> Layer:
        return replace(self, shape=self.shape.moved(dx, dz))


@dataclass(frozen=True)
class Phantom:
    """Tissue seen by one frame; later layers are painted over earlier ones."""

    layers: tuple[Layer, ...] = ()
    background: float = 1.0

    def echo_map(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Echogenicity and extra attenuation at points.

        Args:
            x: ``[S, B]`` lateral positions (mm).
            z: ``[S, B]`` depths (mm).

        Returns:
            ``(echo, attenuation)``: float32 amplitude factors and extra one-way attenuation
            in dB/mm, both ``[S, B]``.
        """
        echo = np.full(x.shape, self.background, dtype=np.float32)
        att = np.zeros(x.shape, dtype=np.float32)
        for layer in self.layers:
            hit = inside(layer.shape, x, z)
            if layer.multiply:
                echo[hit] *= layer.echo
            else:
                echo[hit] = layer.echo
            if layer.attenuation_db_mm:
                att[hit] = layer.attenuation_db_mm
        return echo, att

    def label_map(self, x: np.ndarray, z: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Ground-truth labels at points (pixel centres), 0 outside ``valid``.

        Args:
            x: ``[H, W]`` lateral positions (mm).
            z: ``[H, W]`` depths (mm).
            valid: ``[H, W]`` bool, typically the fan mask.

        Returns:
            ``[H, W]`` uint8 label ids.
        """
        labels = np.zeros(x.shape, dtype=np.uint8)
        for layer in self.layers:
            if layer.label is not None:
                labels[inside(layer.shape, x, z)] = layer.label
        if valid is not None:
            labels[~valid] = 0
        return labels

    def moved(self, dx: float, dz: float) -> Phantom:
        """The whole phantom translated (probe motion), bands included."""
        return replace(self, layers=tuple(layer.moved(dx, dz) for layer in self.layers))
