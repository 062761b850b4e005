"""Quantitative regression: per-frame and per-cine scalars with units, and the ejection fraction.

The regression head gives scalars per frame (units from its ``units`` parameter). A model card
measurement ``{"name": "EF", "kind": "ejection_fraction", "structure": "lv"}`` adds the EF of
the cine, computed from the segmented structure's volume over time (ED/ES found from the cine)
over full cardiac cycles only (``engine.tasks.ejection``): where the analysed frames hold no
end-diastole, end-systole and next end-diastole, the EF is NaN and the ED/ES marks found are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info
from engine.tasks.ejection import area_length_volume, ejection_fraction
from engine.types import EjectionFraction, Quantity, Regression, SegmentationResult, TaskResult

BEAT_FRACTION_S = 0.25  # end-diastoles are at least this many seconds apart (heart rate < 240/min)


class MeasureTask:
    """Scalars of the regression head ``values`` ``[K]`` and, for a cine, the ejection fraction."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "regression", "Measure", uses=("segmentation",))
        head = cfg.heads_by_name["regression"]
        units = tuple(head.params.get("units", ())) or ("",) * len(self.info.labels)
        self.units = units
        self.ef = next((m for m in cfg.measurements if m.get("kind") == "ejection_fraction"), None)
        seg = cfg.heads_by_name.get("segmentation")
        if self.ef is not None and (seg is None or self.ef.get("structure") not in seg.labels):
            raise ConfigError(
                cfg.name, f"ejection fraction needs a segmented structure {self.ef.get('structure')!r}"
            )

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> Regression:
        values = outputs["values"].astype(np.float64)
        q = tuple(
            Quantity(name, float(v), unit, True, ctx.index)
            for name, v, unit in zip(self.info.labels, values, self.units)
        )
        return Regression(ctx.index, q, self.info.model)

    def summarize(
        self, frames: Sequence[Regression], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[object, ...]:
        out: list[object] = []
        for k, name in enumerate(self.info.labels):
            if frames:
                mean = float(np.mean([f.values[k].value for f in frames]))
                out.append(Quantity(f"mean {name}", mean, self.units[k], True, None))
        seg = others.get("segmentation")
        if self.ef is not None and seg is not None and len(seg.frames) >= 3:
            out.append(self.ejection(seg.frames, cine))  # type: ignore[arg-type]
        return tuple(out)

    def ejection(self, frames: Sequence[SegmentationResult], cine: CineContext) -> EjectionFraction:
        """EF from the ventricle volume curve over segmented ``frames`` (in frame order); NaN
        unless they hold a full cardiac cycle."""
        assert self.ef is not None
        structure = self.ef["structure"]
        label = frames[0].labels.index(structure) + 1
        vols, calibrated = [], True
        for f in frames:
            v, cal = area_length_volume(f.mask == label, cine.calibration)
            vols.append(v)
            calibrated &= cal
        volumes = np.asarray(vols)
        index = np.array([f.frame for f in frames])
        times = np.asarray(cine.timestamps_ms)[index] if cine.timestamps_ms else index * 1000.0 / 30
        step = float(np.median(np.diff(times))) if index.size > 1 else 1000.0 / 30
        min_gap = max(2, round(BEAT_FRACTION_S * 1000.0 / max(step, 1e-3)))
        ef, eds, ess = ejection_fraction(volumes, min_gap)
        return EjectionFraction(
            structure,
            ef,
            tuple(int(index[i]) for i in eds),
            tuple(int(index[i]) for i in ess),
            volumes,
            index,
            "ml" if calibrated else "px3",
            calibrated,
            self.info.model,
        )
