"""Start a writer process, SIGKILL it at a random moment, repeat; report which saves completed."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITERS = Path(__file__).with_name("safety_writers.py")
REPO = Path(__file__).resolve().parents[2]


def _acks(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("saved ")]


def kill_during_writes(kind: str, folder: Path, rounds: int, rng: random.Random) -> list[int]:
    """Run ``kind``'s writer ``rounds`` times, killing it 0-300 ms after its first save.

    Returns:
        every save number the writers acknowledged, in order.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    acked: list[int] = []
    for _ in range(rounds):
        proc = subprocess.Popen(
            [sys.executable, str(WRITERS), kind, str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        first = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not first.startswith("saved "):
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"{kind} writer did not save: {first!r} {err[-2000:]}")
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()  # type: ignore[union-attr]  # (communicate() would skip what readline buffered)
        proc.stderr.read()  # type: ignore[union-attr]
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        acked += _acks(first + rest)
    return acked
