"""Task heads over the EchoCare encoder: one declaration per head kind (``engine.heads.kinds``).

Importing this package does not import torch. A kind's ``HeadSpec`` (``engine.heads.spec``) names
its network and loss (the torch modules beside this file), its task, its results JSON, its
training targets and its primary metric; :func:`head_spec` finds it by name.
"""

from engine.heads.base import HEADS, FeatureSpec, register_head
from engine.heads.spec import HeadSpec, head_spec, load_kinds, network_class, task_names

__all__ = [
    "HEADS",
    "FeatureSpec",
    "HeadSpec",
    "head_spec",
    "load_kinds",
    "network_class",
    "register_head",
    "task_names",
]
