"""One face for both protocols: ``open_peer`` gives a ``Peer`` (DIMSE or DICOMweb) for a node, and
``send_results`` exports a project's results (DICOM SEG or SR) and stores them on a peer.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.errors import ConfigError
from engine.net.nodes import DEFAULT_AE_TITLE, Node
from engine.net.query import SeriesRow, StudyQuery, StudyRow
from engine.net.receive import InstanceStore, Received

SEND_FORMATS = ("dicom-seg", "dicom-sr")


class Peer(Protocol):
    """A PACS or modality, reached over DIMSE or DICOMweb."""

    node: Node

    def echo(self) -> None: ...

    def find(self, query: StudyQuery) -> list[StudyRow]: ...

    def series(self, study_uid: str) -> list[SeriesRow]: ...

    def get(
        self, study_uid: str, store: InstanceStore, on_received: Callable[[Received], None] | None = None
    ) -> int: ...

    def send(self, paths: Sequence[Path]) -> int: ...


def open_peer(
    node: Node,
    calling_ae: str = DEFAULT_AE_TITLE,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> Peer:
    """The peer for ``node``: DICOMweb when it has a URL, DIMSE otherwise (over TLS with
    ``ssl_context``, or with the system's trusted certificates when ``node.tls``)."""
    if node.is_web:
        from engine.net.web import WebPeer

        return WebPeer(node, timeout=timeout)
    from engine.net.dimse import DimsePeer

    return DimsePeer(node, calling_ae=calling_ae, ssl_context=ssl_context, timeout=timeout)


def retrieve(
    peer: Peer, study_uid: str, project: str | Path, on_received: Callable[[Received], None] | None = None
) -> int:
    """Bring one study from ``peer`` into the project; returns how many instances arrived."""
    store = InstanceStore(project)
    try:
        return peer.get(study_uid, store, on_received)
    finally:
        store.close()


@dataclass(frozen=True)
class SendResult:
    """What ``send_results`` stored: the files and the notes of the export."""

    files: tuple[Path, ...]
    notes: tuple[str, ...]


def send_results(
    project: str | Path, fmt: str, peer: Peer, study_id: int | None = None, deidentify: bool = False
) -> SendResult:
    """Export the project's results as DICOM SEG or SR and store them on ``peer``.

    Raises:
        ConfigError: not a format that can be sent.
        EchoCareError: the export failed (nothing was sent) or the peer refused (``NetworkError``).
    """
    from engine.interop import export_project

    if fmt not in SEND_FORMATS:
        raise ConfigError(project, f"--format must be one of {', '.join(SEND_FORMATS)} to send to a PACS")
    with tempfile.TemporaryDirectory(prefix="echocare-send-") as tmp:
        out = Path(tmp) / "export"
        result = export_project(project, fmt, out, deidentify=deidentify, study_id=study_id)
        files = sorted(p for p in out.rglob("*.dcm"))
        if not files:
            raise ConfigError(project, f"nothing to send: the {fmt} export wrote no DICOM file")
        peer.send(files)
        names = tuple(Path(p.relative_to(out)) for p in files)
    return SendResult(names, tuple(result.notes))
