"""Scene generators, registered by name; importing this package registers all of them."""

from training.sim.scenes import cardiac, enhance, fetal, lesion, organs, vessels
from training.sim.scenes.base import SCENES, SceneContext, list_scenes, register_scene, simulate

__all__ = [
    "SCENES",
    "SceneContext",
    "cardiac",
    "enhance",
    "fetal",
    "lesion",
    "list_scenes",
    "organs",
    "register_scene",
    "simulate",
    "vessels",
]
