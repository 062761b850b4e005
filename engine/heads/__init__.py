"""Task heads over the EchoCare encoder, one per file, registered by name in ``HEADS``.

Importing this package imports torch. Adding a head touches one new file plus one import
line below. Each head's training loss is registered under the same name in ``LOSSES``.
"""

# each import registers one head and its loss
from engine.heads import (
    classification,  # noqa: F401
    detection,  # noqa: F401
    enhancement,  # noqa: F401
    landmarks,  # noqa: F401
    regression,  # noqa: F401
    report,  # noqa: F401
    segmentation,  # noqa: F401
)
from engine.heads.base import HEADS, FeatureSpec, register_head
from engine.heads.losses import LOSSES, register_loss

__all__ = ["HEADS", "LOSSES", "FeatureSpec", "register_head", "register_loss"]
