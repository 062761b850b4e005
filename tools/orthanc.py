"""A throwaway Orthanc PACS on loopback, for the network tests and ``bench/network.py``.

    with OrthancServer(tmp_path, modalities={"ECHOCARE": 11112}) as pacs:
        pacs.dimse_port, pacs.web_url, pacs.rest("/studies")

Orthanc (Debian ``orthanc``, with ``orthanc-dicomweb``) is started with a temporary configuration
and storage on free ports, and stopped (its storage removed with ``tmp``) on exit. ``modalities``
maps the AE titles that may query and retrieve to the ports they listen on.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BINARY = "Orthanc"
SBIN_BINARY = Path("/usr/sbin/Orthanc")  # where Debian puts it, outside a plain user's PATH
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
AE_TITLE = "ORTHANC"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary() -> str | None:
    """The Orthanc executable, or None."""
    return shutil.which(BINARY) or (str(SBIN_BINARY) if SBIN_BINARY.exists() else None)


def available() -> str:
    """What of Orthanc and its DICOMweb plugin is missing ("" when both are installed)."""
    found = {BINARY: binary() is not None, str(DICOMWEB_PLUGIN): DICOMWEB_PLUGIN.exists()}
    return ", ".join(name for name, ok in found.items() if not ok)


class OrthancServer:
    """Orthanc on loopback with its storage in ``folder``."""

    def __init__(self, folder: Path, modalities: Mapping[str, int] | None = None) -> None:
        self.folder = Path(folder)
        self.modalities = dict(modalities or {})
        self.dimse_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    @property
    def peer(self) -> str:
        return f"{AE_TITLE}@127.0.0.1:{self.dimse_port}"

    def config(self) -> dict[str, Any]:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        return {
            "Name": "echocare-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dimse_port,
            "DicomAet": AE_TITLE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": {ae.lower(): [ae, "127.0.0.1", port] for ae, port in self.modalities.items()},
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "StableAge": 1,
        }

    def start(self) -> OrthancServer:
        missing = available()
        if missing:
            raise RuntimeError(f"Orthanc is not installed ({missing}): run `make test-tools`")
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(self.config(), indent=1))
        log = (self.folder / "orthanc.log").open("wb")
        self.process = subprocess.Popen(
            [str(binary()), str(path)], stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start: see {self.folder / 'orthanc.log'}")
            try:
                self.rest("/system")
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("Orthanc did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rest(self, path: str, data: bytes | None = None, method: str | None = None) -> Any:
        """Orthanc's REST API: the JSON answer, or the raw bytes when it is not JSON."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        request = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        try:
            return json.loads(body)
        except ValueError:
            return body

    def upload(self, path: Path) -> str:
        """Store a file through the REST API; returns Orthanc's instance id."""
        return str(self.rest("/instances", data=Path(path).read_bytes(), method="POST")["ID"])

    def instance_file(self, sop_instance_uid: str) -> bytes:
        """The stored file of an instance, by SOP Instance UID."""
        found = self.rest("/tools/lookup", data=sop_instance_uid.encode(), method="POST")
        ids = [f["ID"] for f in found if f["Type"] == "Instance"]
        if not ids:
            raise KeyError(sop_instance_uid)
        return bytes(self.rest(f"/instances/{ids[0]}/file"))

    def clear(self) -> None:
        """Delete every study."""
        for study in self.rest("/studies"):
            self.rest(f"/studies/{study}", method="DELETE")

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
