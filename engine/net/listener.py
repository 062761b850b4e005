"""Listener: a DICOM storage SCP (C-ECHO, C-STORE) that writes what it receives into a project.

It accepts the ultrasound, secondary-capture, SEG, SR and encapsulated PDF storage classes in
every transfer syntax pynetdicom knows (the dataset is stored as sent, never re-encoded), and only
from the calling AE titles it is told to allow; others are refused at association with a logged
line. ``stop`` stops accepting, lets the associations in flight finish (up to a timeout), then
closes: an instance is acknowledged only once it is on disk and recorded, so stopping, a dropped
association or a killed process loses nothing that was acknowledged.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.net.nodes import DEFAULT_AE_TITLE, DEFAULT_PORT, check_ae_title
from engine.net.receive import CANNOT_UNDERSTAND, STORAGE_CLASSES, InstanceStore, Received, StoreRefused

VERIFICATION = "1.2.840.10008.1.1"
Log = Callable[[str], None]


def _no_log(_line: str) -> None:
    return None


class Listener:
    """A storage SCP for the project in ``project``.

    Args:
        project: the project folder.
        ae_title: our AE title.
        port: TCP port (0: any free port; ``port`` tells which after ``start``).
        host: address to bind ("" for all interfaces).
        allow: calling AE titles that may connect; None accepts any (an explicit choice).
        ssl_context: a server-side TLS context, or None for plain TCP.
        log: called with one line per instance, refusal and association event.
        on_received: called (in the association's thread) with every stored instance.
        store: the InstanceStore to write into (one is opened on ``project`` by default).
    """

    def __init__(
        self,
        project: str | Path,
        ae_title: str = DEFAULT_AE_TITLE,
        port: int = DEFAULT_PORT,
        host: str = "",
        allow: Sequence[str] | None = (),
        ssl_context: ssl.SSLContext | None = None,
        log: Log = _no_log,
        on_received: Callable[[Received], None] | None = None,
        store: InstanceStore | None = None,
    ) -> None:
        self.ae_title = check_ae_title(ae_title, "our AE title")
        if allow is not None:
            allow = tuple(check_ae_title(a.strip(), "allowed AE title") for a in allow)
            if not allow:
                raise ValueError("no calling AE title is allowed: name one, or allow any")
        self.allow = allow
        self.store = store or InstanceStore(project)
        self.host, self._port = host, port
        self.ssl_context = ssl_context
        self.log = log
        self.on_received = on_received
        self.received = 0
        self.refused = 0
        self._server: Any = None
        self._ae: Any = None
        self._count_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server is not None else self._port

    def _make_ae(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES

        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(VERIFICATION)
        for uid in STORAGE_CLASSES:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.require_calling_aet = list(self.allow or [])
        ae.maximum_pdu_size = 0  # no limit on what we accept per PDU
        ae.network_timeout = 60
        ae.dimse_timeout = 120
        return ae

    def start(self) -> None:
        """Start listening in background threads.

        Raises:
            OSError: the port cannot be bound (in use, or a privileged port).
        """
        from pynetdicom import evt

        swept = self.store.sweep()
        for path in swept:
            self.log(f"recorded {path} (stored before the last stop, not yet recorded)")
        self._ae = self._make_ae()
        handlers = [
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_ABORTED, self._on_aborted),
        ]
        self._server = self._ae.start_server(
            (self.host, self._port), block=False, evt_handlers=handlers, ssl_context=self.ssl_context
        )
        allowed = "any AE title" if self.allow is None else ", ".join(self.allow)
        tls = " over TLS" if self.ssl_context is not None else ""
        self.log(f"listening as {self.ae_title} on port {self.port}{tls}; accepting {allowed}")

    def active(self) -> int:
        """Associations in progress."""
        return len(self._server.active_associations) if self._server is not None else 0

    def stop(self, timeout: float = 30.0) -> int:
        """Stop accepting, let the associations in flight finish, then close.

        Returns:
            How many associations were still open after ``timeout`` seconds and were aborted.
        """
        if self._server is None:
            return 0
        server, self._server = self._server, None
        server.shutdown()  # no new associations; those open go on in their own threads
        deadline = time.monotonic() + timeout
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        left = list(server.active_associations)
        for assoc in left:
            assoc.abort()
        self.store.close()
        self.log(f"stopped: {self.received} instances stored, {self.refused} refused")
        return len(left)

    # -- handlers (run in the association's thread) ------------------------------------------
    def _on_echo(self, _event: Any) -> int:
        return 0x0000

    def _on_store(self, event: Any) -> int:
        calling = event.assoc.requestor.ae_title.strip()
        try:
            received = self.store.store_bytes(event.encoded_dataset(), calling)
        except StoreRefused as err:
            with self._count_lock:
                self.refused += 1
            self.log(f"refused an instance from {calling}: {err.one_line()} (status 0x{err.status:04X})")
            return err.status
        except Exception as err:  # a handler must answer; any other failure is "cannot understand"
            with self._count_lock:
                self.refused += 1
            self.log(f"refused an instance from {calling}: {err}")
            return CANNOT_UNDERSTAND
        with self._count_lock:
            self.received += 1
        self.log(received.line())
        if self.on_received is not None:
            self.on_received(received)
        return 0x0000

    def _on_rejected(self, event: Any) -> None:
        calling = event.assoc.requestor.ae_title.strip()
        address = event.assoc.requestor.address
        why = "calling AE title not allowed" if self.allow and calling not in self.allow else "too busy"
        self.log(f"refused association from {calling} at {address}: {why}")

    def _on_aborted(self, event: Any) -> None:
        calling = event.assoc.requestor.ae_title.strip()
        self.log(f"association from {calling} aborted; what was acknowledged is kept")
