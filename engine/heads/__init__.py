"""Task heads over the EchoCare encoder, one per file, registered by name in ``HEADS``.

Importing this package imports torch. Adding a head touches one new file plus one import
line below.
"""

from engine.heads.base import HEADS, FeatureSpec, register_head

__all__ = ["HEADS", "FeatureSpec", "register_head"]
