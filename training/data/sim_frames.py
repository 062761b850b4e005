"""The simulator as a pretraining source ("sim"): frames with a generated metadata tree.

Tree levels: body region -> scene (organ or view) -> probe geometry. Each sample draws a scene
and a probe in turn, so every level is balanced; frames are rendered once, at the model input
size, and kept in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.errors import ConfigError
from training.data.frames import FRAME_SOURCES, FrameRef, SourceResult

if TYPE_CHECKING:
    from training.config import PretrainCfg

REGION_OF_SCENE = {
    "cardiac": "chest",
    "fetal_head": "obstetric",
    "lesion": "breast",
    "organs": "abdomen",
    "enhance": "abdomen",
    "vessels": "neck",
}
SIM_LEVELS = ("region", "scene", "probe")


@FRAME_SOURCES.register("sim")
def simulated_frames(cfg: PretrainCfg) -> SourceResult:
    """``cfg.data.count`` simulated frames labelled (region, scene, probe).

    ``cfg.data.scene`` restricts the scenes (comma-separated); ``cfg.data.site`` shifts the
    imaging like the fine-tuning source.
    """
    from dataclasses import replace

    from training.finetune.sources import sim_config
    from training.sim import CONVEX, LINEAR, PHASED, list_scenes, simulate

    scenes = [s for s in cfg.data.scene.split(",") if s] or [s for s in list_scenes() if s in REGION_OF_SCENE]
    unknown = [s for s in scenes if s not in list_scenes()]
    if unknown:
        raise ConfigError(None, f"unknown simulator scene {unknown[0]!r} (known: {', '.join(list_scenes())})")
    probes = (LINEAR, CONVEX, PHASED)
    base = sim_config(cfg.input_size, dict(cfg.data.site))
    frames: dict[str, np.ndarray] = {}
    refs = []
    for i in range(cfg.data.count):
        scene, first = scenes[i % len(scenes)], (i // len(scenes)) % len(probes)
        seed = cfg.data.seed * 100_003 + i
        for k in range(len(probes)):  # some anatomy does not fit every probe (a fetal head in a linear fan)
            probe = probes[(first + k) % len(probes)]
            try:
                result = simulate(scene, seed=seed, cfg=replace(base, probe=probe, frames=1))
                break
            except RuntimeError:
                continue
        else:
            raise ConfigError(
                None, f"simulator scene {scene!r} fits no probe at {list(cfg.input_size)} pixels"
            )
        name = f"sim:{scene}:{seed}"
        frames[name] = result.frames[0]
        labels = (REGION_OF_SCENE.get(scene, "other"), scene, probe.kind)
        refs.append(
            FrameRef(name, 0, labels[: len(cfg.tree.levels)] if cfg.tree.levels else (), f"{scene}-{seed}")
        )
    return refs, lambda ref: frames[ref.source]
