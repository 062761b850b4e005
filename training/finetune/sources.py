"""Labelled-sample sources for fine-tuning, registered by name in :data:`LABELLED_SOURCES`.

A source returns the samples and, per head, the label names the head is built with (classes,
structures, landmark names, quantities, report vocabulary):

* "sim": scenes of the ultrasound simulator with exact labels, optionally at a shifted site;
* "project": human-final labels of a project folder (``engine.project``); AI drafts are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError
from engine.registry import Registry
from engine.tasks.report import build_vocab
from training.finetune.samples import LabelledSample

if TYPE_CHECKING:
    from training.config import FinetuneCfg

Labels = dict[str, tuple[str, ...]]
LABELLED_SOURCES: Registry[Callable[[FinetuneCfg], tuple[list[LabelledSample], Labels]]] = Registry(
    "labelled source"
)

# the simulator scene used for a head when the config names none, and the quantities regressed
DEFAULT_SCENES = {
    "segmentation": "lesion",
    "classification": "lesion",
    "detection": "organs",
    "landmarks": "fetal_head",
    "regression": "fetal_head",
    "enhancement": "enhance",
    "report": "lesion",
    "prompt": "organs",
}
REGRESSED = {"cardiac": ("ef",), "fetal_head": ("hc_mm", "bpd_mm"), "lesion": ("area_mm2",)}


def _sim_target(head: str, truth: Any, frame: int, scene: str) -> Any:
    table: dict[str, Callable[[], Any]] = {
        "segmentation": lambda: truth.masks[frame],
        "classification": lambda: truth.class_index,
        "detection": lambda: (truth.boxes[frame], truth.box_labels[frame]) if truth.box_classes else None,
        "landmarks": lambda: truth.landmarks[frame] if truth.landmark_names else None,
        "regression": lambda: (
            np.array([truth.values[k].value for k in REGRESSED[scene]]) if scene in REGRESSED else None
        ),
        "enhancement": lambda: None if truth.clean is None else truth.clean[frame],
        "report": lambda: truth.report or None,
        "prompt": lambda: truth.masks[frame] if truth.labels else None,
    }
    return table[head]()


def _sim_labels(head: str, truth: Any, scene: str, reports: Sequence[str]) -> tuple[str, ...]:
    table: dict[str, Callable[[], tuple[str, ...]]] = {
        "segmentation": lambda: tuple(truth.labels[k] for k in sorted(truth.labels)),
        "classification": lambda: tuple(truth.class_names),
        "detection": lambda: tuple(truth.box_classes),
        "landmarks": lambda: tuple(truth.landmark_names),
        "regression": lambda: REGRESSED.get(scene, ()),
        "enhancement": lambda: (),
        "report": lambda: build_vocab(reports),
        "prompt": lambda: (),
    }
    return table[head]()


def sim_config(size: tuple[int, int], site: dict[str, Any]) -> Any:
    """The simulator configuration of a site: the reference one, or shifted by ``site``."""
    from training.sim import CONVEX, LINEAR, PHASED, SimConfig, site_shift

    cfg = SimConfig(height=size[0], width=size[1])
    if not site:
        return cfg
    args = dict(site)
    probes = {"linear": LINEAR, "convex": CONVEX, "phased": PHASED}
    if "probe" in args:
        if args["probe"] not in probes:
            raise ConfigError(None, f"data.site.probe must be one of {', '.join(probes)}")
        args["probe"] = probes[args["probe"]]
    try:
        return site_shift(cfg, **args)
    except TypeError as err:
        raise ConfigError(None, f"data.site: {err}") from None


def simulated_samples(
    scene: str, heads: Sequence[str], count: int, seed: int, size: tuple[int, int], site: dict[str, Any]
) -> tuple[list[LabelledSample], Labels]:
    """``count`` simulated frames of ``scene`` labelled for ``heads`` (seeds ``seed * 100003 + i``)."""
    from training.sim import simulate

    sim_cfg = sim_config(size, site)
    samples, truths = [], []
    for i in range(count):
        s = seed * 100_003 + i
        result = simulate(scene, seed=s, cfg=sim_cfg)
        truth = result.truth
        frame = i % len(result.frames)
        targets = {h: _sim_target(h, truth, frame, scene) for h in heads}
        missing = [h for h, t in targets.items() if t is None]
        if missing:
            raise ConfigError(
                None, f"no labels for head {missing[0]!r}: scene {scene!r} does not provide them"
            )
        samples.append(
            LabelledSample(
                image=result.frames[frame],
                targets=targets,
                patient=f"{scene}-{s}",
                spacing_mm=tuple(truth.spacing_mm),  # type: ignore[arg-type]
                key=f"sim:{scene}:{s}:{frame}:{sorted(site.items())}",
            )
        )
        truths.append(truth)
    reports = [t.report for t in truths]
    labels = {h: _sim_labels(h, truths[0], scene, reports) for h in heads}
    return samples, labels


@LABELLED_SOURCES.register("sim")
def _sim_source(cfg: FinetuneCfg) -> tuple[list[LabelledSample], Labels]:
    from training.sim import list_scenes

    scene = cfg.data.scene or DEFAULT_SCENES[cfg.heads[0]]
    if scene not in list_scenes():
        raise ConfigError(None, f"unknown simulator scene {scene!r} (known: {', '.join(list_scenes())})")
    return simulated_samples(
        scene, cfg.heads, cfg.data.count, cfg.data.seed, cfg.input_size, dict(cfg.data.site)
    )


def _project_samples(folder: Path, heads: Sequence[str]) -> tuple[list[LabelledSample], Labels]:
    from engine.io import open_cine
    from engine.project import ProjectStore, from_record
    from engine.provenance import Origin

    store = ProjectStore(folder)
    try:
        names = {lab.id: lab.name for lab in store.labels()}
        samples: list[LabelledSample] = []
        for study in store.studies():
            masks = {f: m for f, m in store.masks(study.id).items() if m.origin == Origin.HUMAN_FINAL}
            classes = {
                a.frame: names.get(a.label_id, a.name)
                for a in map(from_record, store.annotations(study.id))
                if a.kind == "class" and a.origin == Origin.HUMAN_FINAL
            }
            frames = sorted(set(masks) | {f for f in classes if f >= 0})
            if not frames:
                continue
            cine = open_cine(store.resolve(study))
            for f in frames:
                targets: dict[str, Any] = {}
                if f in masks:
                    targets["segmentation"] = masks[f].plane
                    if "prompt" in heads:  # every accepted mask teaches the prompt head too
                        targets["prompt"] = masks[f].plane
                label = classes.get(f, classes.get(-1))
                if label:
                    targets["classification"] = label
                frame = cine.frame(f)
                plane = masks[f].plane if f in masks else None
                spacing = frame_spacing(cine.calibration_for(f), frame.shape, plane)
                samples.append(
                    LabelledSample(frame, targets, study.rel_path, spacing, f"project:{study.rel_path}:{f}")
                )
    finally:
        store.close()
    return _index_project_labels(samples, names, heads)


def _index_project_labels(
    samples: list[LabelledSample], names: dict[int, str], heads: Sequence[str]
) -> tuple[list[LabelledSample], Labels]:
    labels: Labels = {}
    if "segmentation" in heads:
        ids = sorted(names)
        labels["segmentation"] = tuple(names[i] for i in ids)
        lut = np.zeros(256, np.uint8)
        for k, i in enumerate(ids):
            lut[i] = k + 1
        samples = [
            replace(s, targets={**s.targets, "segmentation": lut[s.targets["segmentation"]]})
            if "segmentation" in s.targets
            else s
            for s in samples
        ]
    if "classification" in heads:
        classes = tuple(
            sorted({s.targets["classification"] for s in samples if "classification" in s.targets})
        )
        labels["classification"] = classes
        samples = [
            replace(s, targets={**s.targets, "classification": classes.index(s.targets["classification"])})
            if "classification" in s.targets
            else s
            for s in samples
        ]
    if "prompt" in heads:
        labels["prompt"] = ()  # class-agnostic: any structure of any label
    unsupported = [h for h in heads if h not in labels]
    if unsupported:
        raise ConfigError(None, f"no labels for head {unsupported[0]!r} in the project (human-final only)")
    return [s for s in samples if all(h in s.targets for h in heads)], labels


def frame_spacing(cal: Any, shape: tuple[int, ...], plane: np.ndarray | None) -> tuple[float, float] | None:
    """A sample's (x, y) mm per pixel: the one scale every labelled pixel of its label plane has
    (no plane or an empty one: every pixel of the frame); None where they have none or several."""
    from engine.tasks.units import mask_scale

    labelled = np.asarray(plane) > 0 if plane is not None else None
    if labelled is None or not labelled.any():
        labelled = np.ones(shape[:2], bool)
    return mask_scale(labelled, cal)


@LABELLED_SOURCES.register("project")
def _project_source(cfg: FinetuneCfg) -> tuple[list[LabelledSample], Labels]:
    samples: list[LabelledSample] = []
    labels: Labels = {}
    for folder in cfg.data.paths:
        found, labels = _project_samples(Path(folder), cfg.heads)
        samples.extend(found)
    return samples, labels
