"""Small torch blocks shared by the heads (importing this package imports torch)."""

from engine.layers.blocks import ConvNormAct, PyramidFuse
from engine.layers.pooling import PooledFeatures

__all__ = ["ConvNormAct", "PooledFeatures", "PyramidFuse"]
