"""DimsePeer: a PACS or modality over DIMSE (pynetdicom): C-ECHO, C-FIND, C-GET, C-STORE.

Retrieval is C-GET on the same association (no port for the PACS to call back on); what arrives
is stored with ``InstanceStore`` as it was sent. Each storage class is offered once per transfer
syntax, so the PACS sends every instance in the syntax it holds it in, without transcoding.
Every failure is a ``NetworkError`` naming the node.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import NetworkError
from engine.net.nodes import DEFAULT_AE_TITLE, Node
from engine.net.query import SeriesRow, StudyQuery, StudyRow, series_identifier, series_row, study_row
from engine.net.receive import CANNOT_UNDERSTAND, STORAGE_CLASSES, InstanceStore, Received, StoreRefused

VERIFICATION = "1.2.840.10008.1.1"
FIND_MODEL = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Query/Retrieve - FIND
GET_MODEL = "1.2.840.10008.5.1.4.1.2.2.3"  # Study Root Query/Retrieve - GET
# the syntaxes a retrieve accepts, each in its own presentation context (13 classes x 8 + 1 <= 128)
RETRIEVE_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)
PENDING = (0xFF00, 0xFF01)


class DimsePeer:
    """A DIMSE node.

    Args:
        node: where it lives.
        calling_ae: our AE title as the node knows it.
        ssl_context: a client TLS context (``node.tls`` without one uses the system's defaults).
        timeout: seconds to wait for the node at each step.
    """

    def __init__(
        self, node: Node, calling_ae: str = DEFAULT_AE_TITLE, ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:  # fmt: skip
        self.node = node
        self.calling_ae = calling_ae
        if ssl_context is None and node.tls:
            ssl_context = ssl.create_default_context()
        self.ssl_context = ssl_context
        self.timeout = timeout

    def __str__(self) -> str:
        return self.node.address()

    def _ae(self) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = self.timeout
        return ae

    def _associate(self, ae: Any, **kwargs: Any) -> Any:
        tls = (self.ssl_context, self.node.host) if self.ssl_context is not None else None
        assoc = ae.associate(
            self.node.host, self.node.port, ae_title=self.node.ae_title, tls_args=tls, **kwargs
        )
        if not assoc.is_established:
            why = "rejected the association" if assoc.is_rejected else "cannot be reached"
            raise NetworkError(self.node.address(), f"{why} (calling AE {self.calling_ae})")
        return assoc

    def echo(self) -> None:
        """C-ECHO; returns when the node answered success."""
        ae = self._ae()
        ae.add_requested_context(VERIFICATION)
        assoc = self._associate(ae)
        try:
            status = assoc.send_c_echo()
        finally:
            assoc.release()
        _check(status, self.node, "C-ECHO")

    def _find(self, identifier: Any) -> list[Any]:
        ae = self._ae()
        ae.add_requested_context(FIND_MODEL)
        assoc = self._associate(ae)
        answers: list[Any] = []
        try:
            for status, ds in assoc.send_c_find(identifier, FIND_MODEL):
                if not status:
                    raise NetworkError(
                        self.node.address(),
                        "the association dropped during C-FIND"
                        f" (does the node know our AE title {self.calling_ae}?)",
                    )
                if status.Status in PENDING:
                    answers.append(ds)
                elif status.Status != 0x0000:
                    raise NetworkError(self.node.address(), f"C-FIND failed (status 0x{status.Status:04X})")
        finally:
            if assoc.is_established:
                assoc.release()
        return answers

    def find(self, query: StudyQuery) -> list[StudyRow]:
        """C-FIND at study level."""
        return [study_row(ds) for ds in self._find(query.identifier())]

    def series(self, study_uid: str) -> list[SeriesRow]:
        """C-FIND at series level for one study."""
        return [series_row(ds) for ds in self._find(series_identifier(study_uid))]

    def get(
        self, study_uid: str, store: InstanceStore, on_received: Callable[[Received], None] | None = None
    ) -> int:
        """C-GET one study into ``store``; returns how many instances arrived.

        Raises:
            NetworkError: the node refused, or some instances did not arrive (those that did
                are kept).
        """
        from pydicom.dataset import Dataset
        from pynetdicom import build_role, evt

        ae = self._ae()
        ae.add_requested_context(GET_MODEL)
        for uid in STORAGE_CLASSES:
            for syntax in RETRIEVE_SYNTAXES:
                ae.add_requested_context(uid, syntax)
        roles = [build_role(uid, scp_role=True) for uid in STORAGE_CLASSES]
        arrived: list[Received] = []

        def on_store(event: Any) -> int:
            try:
                received = store.store_bytes(event.encoded_dataset(), source=self.node.address())
            except StoreRefused as err:
                return err.status
            except Exception:  # any other failure must still be answered
                return CANNOT_UNDERSTAND
            arrived.append(received)
            if on_received is not None:
                on_received(received)
            return 0x0000

        assoc = self._associate(ae, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = study_uid
        final: Any = None
        try:
            for status, _ds in assoc.send_c_get(identifier, GET_MODEL):
                if not status:
                    raise NetworkError(
                        self.node.address(), f"the association dropped during C-GET ({len(arrived)} kept)"
                    )
                final = status
        finally:
            if assoc.is_established:
                assoc.release()
        code = final.Status if final is not None else 0xC000
        failed = int(final.get("NumberOfFailedSuboperations", 0) or 0) if final is not None else 0
        if code not in (0x0000, 0xB000) or failed:
            raise NetworkError(
                self.node.address(),
                f"C-GET of study {study_uid} ended with status 0x{code:04X}:"
                f" {len(arrived)} arrived, {failed} failed",
            )
        if not arrived:
            raise NetworkError(self.node.address(), f"holds no instance of study {study_uid}")
        return len(arrived)

    def send(self, paths: Sequence[Path]) -> int:
        """C-STORE files in their own transfer syntaxes; returns how many the node accepted.

        Raises:
            NetworkError: the node refused one or more (named with their status).
        """
        import pydicom

        datasets = [pydicom.dcmread(p) for p in paths]
        ae = self._ae()
        contexts = sorted({(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) for ds in datasets})
        if len(contexts) > 128:
            raise NetworkError(self.node.address(), "more than 128 kinds of instance in one send")
        for sop_class, syntax in contexts:
            ae.add_requested_context(sop_class, syntax)
        assoc = self._associate(ae)
        refused: list[str] = []
        try:
            for path, ds in zip(paths, datasets, strict=True):
                try:
                    status = assoc.send_c_store(ds)
                except ValueError:  # the node accepted no context for this class and syntax
                    refused.append(f"{Path(path).name} (not accepted: {ds.SOPClassUID.name})")
                    continue
                if not status:
                    raise NetworkError(self.node.address(), f"the association dropped while sending {path}")
                if status.Status not in (0x0000, 0xB000, 0xB007, 0xB006):
                    refused.append(f"{Path(path).name} (0x{status.Status:04X})")
        finally:
            if assoc.is_established:
                assoc.release()
        if refused:
            raise NetworkError(
                self.node.address(), f"refused {len(refused)} of {len(paths)}: {', '.join(refused)}"
            )
        return len(paths)


def _check(status: Any, node: Node, what: str) -> None:
    if not status:
        raise NetworkError(node.address(), f"no answer to {what}")
    if status.Status != 0x0000:
        raise NetworkError(node.address(), f"{what} failed (status 0x{status.Status:04X})")
