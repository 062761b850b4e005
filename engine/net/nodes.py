"""DICOM nodes: where a peer lives (AE title, host and port for DIMSE, or a DICOMweb URL).

A node is written ``AE@HOST:PORT`` on the command line (``ORTHANC@pacs.local:4242``), or named by
the name it has in the settings. ``DEFAULT_AE_TITLE`` is EchoCare Studio's own AE title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import ConfigError

DEFAULT_AE_TITLE = "ECHOCARE"
DEFAULT_PORT = 11112
_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # DICOM AE: 16 printable characters, no backslash
_PEER = re.compile(r"^(?P<ae>[^@]+)@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Node:
    """A DICOM node.

    Attributes:
        name: what the user calls it ("PACS", "Scanner 2").
        ae_title: its AE title (DIMSE).
        host: host name or address (DIMSE).
        port: TCP port (DIMSE).
        url: DICOMweb base URL (QIDO/WADO/STOW); when set, the node is reached over HTTP.
        tls: DIMSE over TLS (the system's trusted certificates).
    """

    name: str
    ae_title: str = ""
    host: str = ""
    port: int = 0
    url: str = ""
    tls: bool = False

    def __post_init__(self) -> None:
        if self.url:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError(f"node {self.name!r}: a DICOMweb URL starts with http:// or https://")
            return
        check_ae_title(self.ae_title, f"node {self.name!r}")
        if not self.host or not 0 < self.port < 65536:
            raise ValueError(f"node {self.name!r}: needs a host and a port in 1..65535")

    @property
    def is_web(self) -> bool:
        return bool(self.url)

    def address(self) -> str:
        """``AE@HOST:PORT`` or the URL: how messages name the node."""
        return self.url or f"{self.ae_title}@{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", 0, False)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Node:
        known = {"name", "ae_title", "host", "port", "url", "tls"}
        if not isinstance(raw, Mapping) or set(raw) - known or "name" not in raw:
            raise ValueError(f"a DICOM node is an object with a name and {sorted(known - {'name'})}")
        return cls(**{k: raw[k] for k in raw})


def check_ae_title(title: str, what: str = "AE title") -> str:
    """``title`` when it is a valid AE title (1-16 printable characters, no backslash)."""
    if not _AE.match(title) or not title.strip():
        raise ValueError(f"{what}: {title!r} is not an AE title (1-16 characters, no backslash)")
    return title


def parse_node(spec: str, known: Iterable[Node] = ()) -> Node:
    """A node from ``AE@HOST:PORT``, a URL, or the name of a configured node.

    Raises:
        ConfigError: ``spec`` is none of these.
    """
    for node in known:
        if node.name == spec:
            return node
    try:
        if spec.startswith(("http://", "https://")):
            return Node(name=spec, url=spec.rstrip("/"))
        match = _PEER.match(spec)
        if match:
            host = match["host"].strip("[]")
            return Node(spec, match["ae"], host, int(match["port"]))
    except ValueError as err:
        raise ConfigError(None, str(err)) from None
    raise ConfigError(None, f"{spec!r} is not AE@HOST:PORT, a DICOMweb URL or a configured node")
