"""Open fuzzed files in a separate, memory-capped process: a crash, hang or runaway allocation is a finding.

The parent writes one case to a file and sends its path on the worker's stdin; the worker opens it
with ``engine.io.open_cine``, decodes the first, middle and last frames, and answers one JSON line.
An outcome is ``ok``, ``read_error`` or ``unsupported`` (the clean ends), or ``bug``: any other
exception, an error message that is not one line, a frame that contradicts the cine's info, a
worker that died (signal, abort) or one that did not answer within the time limit.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT_BYTES = 3 * 1024**3  # address space of the worker: an absurd allocation fails fast
CLEAN = ("ok", "read_error", "unsupported")


@dataclass(frozen=True)
class Outcome:
    """How one case ended.

    Attributes:
        kind: ``ok``, ``read_error``, ``unsupported``, ``bug``, ``crash`` or ``hang``.
        detail: the error line, or the traceback or signal of a bug.
        seconds: wall time of the case.
    """

    kind: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """Whether the case ended in a result or the one-line error."""
        return self.kind in CLEAN


def _check_frame(cine: object, index: int) -> str | None:
    frame = cine.frame(index)  # type: ignore[attr-defined]
    info = cine.info  # type: ignore[attr-defined]
    expected = (info.rows, info.columns) + ((3,) if info.color else ())
    if frame.shape != expected:
        return f"frame {index} has shape {frame.shape}, info says {expected}"
    if frame.dtype.name not in ("uint8", "uint16"):
        return f"frame {index} has dtype {frame.dtype}"
    return None


def check_file(path: str) -> dict[str, str]:
    """Open ``path`` and decode a few frames; the outcome as a JSON-ready dict."""
    from engine.errors import ReadError, UnsupportedError
    from engine.io import open_cine

    try:
        with open_cine(path, cache_bytes=64 * 1024 * 1024) as cine:
            json.dumps(cine.info.as_dict())
            n = cine.n_frames
            if n < 1 or len(cine.timestamps_ms) != n:
                return {"kind": "bug", "detail": f"{n} frames with {len(cine.timestamps_ms)} timestamps"}
            for index in sorted({0, n // 2, n - 1}):
                problem = _check_frame(cine, index)
                if problem:
                    return {"kind": "bug", "detail": problem}
        return {"kind": "ok"}
    except ReadError as err:
        kind = "unsupported" if isinstance(err, UnsupportedError) else "read_error"
        line = str(err)
        if "\n" in line or not line.startswith(str(path)):
            return {"kind": "bug", "detail": f"error is not one 'PATH: reason' line: {line!r}"}
        return {"kind": kind, "detail": line}
    except BaseException:
        return {"kind": "bug", "detail": traceback.format_exc()}


def serve() -> None:
    """Worker loop: one path per stdin line, one JSON outcome per stdout line."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import engine.io  # noqa: F401 - import before the first case, so it is not timed

    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints from a library must not corrupt the protocol
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        out.write(json.dumps(check_file(line.strip())) + "\n")
        out.flush()


class Worker:
    """A reader worker process, restarted after a crash or hang.

    Args:
        timeout_s: how long one case may take before it counts as a hang.
    """

    def __init__(self, timeout_s: float = 20.0) -> None:
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])
        )
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        if self._readline(proc, 120.0) != "ready":
            proc.kill()
            raise RuntimeError("the fuzz worker did not start")
        return proc

    @staticmethod
    def _readline(proc: subprocess.Popen[str], timeout: float) -> str | None:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = proc.stdout.readline()  # type: ignore[union-attr]
        return line.strip() if line else None

    def check(self, path: Path) -> Outcome:
        """Run one case file through the worker."""
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        start = time.perf_counter()
        try:
            self._proc.stdin.write(f"{path}\n")  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        line = self._readline(self._proc, self.timeout_s)
        seconds = time.perf_counter() - start
        if line is None:
            try:  # the answer pipe closed: the worker is dying, collect its status
                died: int | None = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                died = None
            self.close()
            if died is None:
                return Outcome("hang", f"no answer within {self.timeout_s:.0f} s", seconds)
            return Outcome("crash", f"worker exited with status {died}", seconds)
        result = json.loads(line)
        return Outcome(result["kind"], result.get("detail", ""), seconds)

    def close(self) -> None:
        """Stop the worker process."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve()
