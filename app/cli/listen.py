"""``echocare listen --project DIR``: receive studies from scanners and PACS (a DICOM storage SCP).

Answers C-ECHO and C-STORE for the ultrasound, secondary-capture, SEG, SR and PDF storage classes;
each instance is written atomically into the project (one folder per StudyInstanceUID) and its
images appear as studies; one line per instance on stdout. Only the calling AE titles of the
configured DICOM nodes and ``--allow`` may connect (``--allow-any`` lifts that). SIGINT or SIGTERM
finishes the instances in flight and exits 0. With ``--auto-infer MODEL`` every received image is
analysed in the background, as ``echocare infer --tasks auto``, into ``PROJECT/results/``.
"""

from __future__ import annotations

import argparse
import queue
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.net.nodes import DEFAULT_AE_TITLE, DEFAULT_PORT

RESULTS = "results"


def add_parser(sub: Any) -> None:
    """Register ``listen`` on the ``echocare`` parser."""
    p = sub.add_parser("listen", help="receive DICOM studies from scanners and PACS into a project")
    p.add_argument("--project", required=True, type=Path, help="the project folder (created when missing)")
    p.add_argument("--ae-title", default=None, help=f"our AE title (settings, else {DEFAULT_AE_TITLE})")
    p.add_argument("--port", type=int, default=None, help=f"TCP port (settings, else {DEFAULT_PORT})")
    p.add_argument("--host", default="", help="address to listen on (default: all)")
    p.add_argument("--allow", default="", help="calling AE titles allowed besides the configured nodes: A,B")
    p.add_argument("--allow-any", action="store_true", help="accept any calling AE title")
    p.add_argument("--max-mb", type=float, default=2048, help="refuse instances larger than this (MB)")
    p.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate: DICOM over TLS")
    p.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    p.add_argument("--auto-infer", default=None, metavar="MODEL", help="analyse every received image")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _say(line: str) -> None:
    print(line, flush=True)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A server TLS context from a PEM certificate and key, or None without them."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError(cert or key, "TLS needs both --tls-cert and --tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(cert, f"cannot load the TLS certificate and key ({err})") from None
    return context


class AutoInfer:
    """Analyses received images one at a time in a background thread."""

    def __init__(self, model: str, project: Path) -> None:
        self.model = model
        self.project = project
        self.jobs: queue.Queue[tuple[int, Path] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="auto-infer", daemon=True)
        self._loaded: Any = None

    def start(self) -> None:
        self.thread.start()

    def add(self, study_id: int, path: Path) -> None:
        self.jobs.put((study_id, path))

    def stop(self) -> None:
        """Finish the analysis in progress; say how many were left for later."""
        left = 0
        while True:
            try:
                left += self.jobs.get_nowait() is not None
            except queue.Empty:
                break
        self.jobs.put(None)
        self.thread.join()
        if left:
            _say(f"{left} received studies not analysed: run `echocare infer` on them")

    def _work(self) -> None:
        from engine.errors import EchoCareError

        while (job := self.jobs.get()) is not None:
            study_id, path = job
            try:
                _say(self._analyse(study_id, path))
            except EchoCareError as err:
                _say(f"analysis of study {study_id} failed: {err.one_line()}")

    def _analyse(self, study_id: int, path: Path) -> str:
        from engine.factory import load_model
        from engine.inference import Predictor
        from engine.io import open_cine
        from engine.tasks.outputs import write_outputs
        from engine.tasks.runner import run_tasks

        if self._loaded is None:
            loaded = load_model(self.model)
            self._loaded = (loaded, Predictor(loaded))
        loaded, predictor = self._loaded
        out = self.project / RESULTS / f"study-{study_id}"
        with open_cine(path) as cine:
            frames = list(range(cine.n_frames))
            result = run_tasks(cine, predictor, loaded.cfg, loaded.ref, "auto", frames)
            write_outputs(result, cine, loaded.cfg, loaded.ref, out)
        return f"analysed study {study_id} ({', '.join(result.tasks) or 'no task applies'}) -> {out}"


def allowed_callers(args: argparse.Namespace, configured: tuple[str, ...]) -> tuple[str, ...] | None:
    """The calling AE titles to accept (the configured nodes and ``--allow``); None for any."""
    if args.allow_any:
        return None
    allow = configured + tuple(a.strip() for a in args.allow.split(",") if a.strip())
    if not allow:
        raise ConfigError(
            None, "no calling AE title is allowed: configure a DICOM node, or pass --allow AE or --allow-any"
        )
    return allow


def run(args: argparse.Namespace) -> int:
    """Listen until SIGINT or SIGTERM; returns 0 after a clean stop."""
    from app.model.settings import load_settings
    from engine.net.listener import Listener
    from engine.net.receive import InstanceStore

    settings, warning = load_settings()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    allow = allowed_callers(args, settings.node_ae_titles())
    context = tls_context(args.tls_cert, args.tls_key)
    auto = AutoInfer(args.auto_infer, args.project) if args.auto_infer else None
    store = InstanceStore(args.project, max_bytes=int(args.max_mb * 1e6))

    def received(item: Any) -> None:
        if auto is not None and item.record.study_id is not None:
            auto.add(item.record.study_id, item.path)

    try:
        listener = Listener(
            args.project, args.ae_title or settings.listen_ae_title, args.port or settings.listen_port,
            args.host, allow, context, _say, received, store,
        )  # fmt: skip
    except ValueError as err:
        raise ConfigError(None, str(err)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        listener.start()
    except OSError as err:
        raise ConfigError(None, f"cannot listen on port {listener.port}: {err.strerror or err}") from None
    if auto is not None:
        auto.start()
    while not stop.wait(0.5):
        pass
    _say("stopping: finishing the instances in flight")
    aborted = listener.stop()
    if auto is not None:
        auto.stop()
    if aborted:
        _say(f"{aborted} associations did not finish in time and were aborted")
    return 0
