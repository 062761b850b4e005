"""A fuzzing campaign: derive cases from the seeds, run each in the worker, collect the findings.

Cases are reproducible: case ``i`` of a campaign with seed ``s`` is always the same bytes, so a
finding is replayed with ``python tools/fuzz_readers.py --seed s --only i``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fuzz_mutate import TWEAKS, mutate_bytes, tweak_dicom
from fuzz_seeds import seeds
from fuzz_worker import Outcome, Worker


@dataclass
class Report:
    """What a campaign saw.

    Attributes:
        cases: cases run.
        outcomes: count of each outcome kind.
        findings: (case index, seed name, recipe, outcome) of every case that did not end clean.
        slowest_s: the longest case.
        seconds: wall time of the campaign.
    """

    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[int, str, str, Outcome]] = field(default_factory=list)
    slowest_s: float = 0.0
    seconds: float = 0.0


def make_case(index: int, seed: int, names: list[str]) -> tuple[str, str, bytes]:
    """Case ``index``: (seed name, recipe, bytes)."""
    rng = random.Random(f"{seed}:{index}")
    name = rng.choice(names)
    data = seeds()[name]
    recipe = []
    if name.endswith(".dcm") and rng.random() < 0.5:
        tweaks = rng.sample(TWEAKS, rng.randint(1, 3))
        tweaked = tweak_dicom(data, tweaks)
        if tweaked is not None:
            data = tweaked
            recipe += [t.__name__ for t in tweaks]
    if not recipe or rng.random() < 0.5:
        data = mutate_bytes(data, rng)
        recipe.append("bytes")
    return name, " + ".join(recipe), data


def run_campaign(
    cases: Iterable[int],
    seed: int,
    workdir: Path,
    names: list[str] | None = None,
    progress: Callable[[Report], None] | None = None,
    timeout_s: float = 20.0,
) -> Report:
    """Run ``cases`` through a fresh worker; every case file is written under ``workdir``."""
    names = sorted(names or seeds())
    report = Report()
    start = time.perf_counter()
    with Worker(timeout_s) as worker:
        for index in cases:
            name, recipe, data = make_case(index, seed, names)
            path = workdir / f"case{Path(name).suffix}"
            path.write_bytes(data)
            outcome = worker.check(path)
            report.cases += 1
            report.outcomes[outcome.kind] += 1
            report.slowest_s = max(report.slowest_s, outcome.seconds)
            if not outcome.clean:
                keep = workdir / f"finding_{index}_{name}"
                keep.write_bytes(data)
                report.findings.append((index, name, recipe, outcome))
            if progress is not None and report.cases % 500 == 0:
                progress(report)
    report.seconds = time.perf_counter() - start
    return report
