"""WebPeer: a PACS over DICOMweb (dicomweb-client): QIDO-RS, WADO-RS, STOW-RS.

Retrieval asks for every instance in the transfer syntax the server holds it in (``*``), so
what is stored is the server's copy, not a transcoded one. Every failure is a ``NetworkError``
naming the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import NetworkError
from engine.net.nodes import Node
from engine.net.query import SeriesRow, StudyQuery, StudyRow, series_row, study_row
from engine.net.receive import InstanceStore, Received

STUDY_FIELDS = (
    "StudyDescription",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "StudyTime",
)
ORIGINAL_SYNTAX = (("application/dicom", "*"),)


class WebPeer:
    """A DICOMweb node at ``node.url`` (its DICOMweb root, e.g. ``http://pacs:8042/dicom-web``)."""

    def __init__(self, node: Node, timeout: float = 30.0) -> None:
        self.node = node
        self.timeout = timeout

    def __str__(self) -> str:
        return self.node.url

    @contextmanager
    def _client(self, what: str, not_found: str = "") -> Iterator[Any]:
        import requests
        from dicomweb_client.api import DICOMwebClient

        try:
            yield DICOMwebClient(self.node.url, timeout=self.timeout)
        except requests.HTTPError as err:
            code = err.response.status_code if err.response is not None else "?"
            if code == 404 and not_found:
                raise NetworkError(self.node.url, not_found) from None
            raise NetworkError(self.node.url, f"{what} failed (HTTP {code})") from None
        except (requests.RequestException, OSError) as err:
            raise NetworkError(self.node.url, f"{what}: cannot be reached ({type(err).__name__})") from None
        except ValueError as err:  # an answer that is not DICOM JSON or multipart DICOM
            raise NetworkError(self.node.url, f"{what}: unreadable answer ({err})") from None

    def echo(self) -> None:
        """A QIDO-RS query for one study: returns when the server answered."""
        with self._client("QIDO-RS") as client:
            client.search_for_studies(limit=1)

    def _qido(self, path: str, filters: dict[str, str], fields: Sequence[str]) -> list[Any]:
        """A QIDO-RS search, its matching keys left readable in the URL.

        Wildcards and separators stay unescaped (``*``, ``?``, ``-``), and the PN component
        separator ``^`` is sent as the one-character wildcard ``?``: some servers (Orthanc 1.10
        with its DICOMweb plugin) match the query text without percent-decoding it, so an
        escaped ``SMITH%5EJ*`` would match nobody.
        """
        import requests

        pairs = [(k, v.replace("^", "?")) for k, v in filters.items()] + [("includefield", f) for f in fields]
        query = "&".join(f"{k}={quote(v, safe='*?-.,')}" for k, v in pairs)
        with self._client("QIDO-RS"):
            answer = requests.get(
                f"{self.node.url}/{path}?{query}",
                headers={"Accept": "application/dicom+json"},
                timeout=self.timeout,
            )
            answer.raise_for_status()
            return list(answer.json()) if answer.status_code != 204 and answer.content else []

    def find(self, query: StudyQuery) -> list[StudyRow]:
        return [study_row(a) for a in self._qido("studies", query.qido_filters(), STUDY_FIELDS)]

    def series(self, study_uid: str) -> list[SeriesRow]:
        fields = ("NumberOfSeriesRelatedInstances", "SeriesDescription")
        return [series_row(a) for a in self._qido(f"studies/{study_uid}/series", {}, fields)]

    def get(
        self, study_uid: str, store: InstanceStore, on_received: Callable[[Received], None] | None = None
    ) -> int:
        """WADO-RS one study into ``store``; returns how many instances arrived (each stored as it
        comes, so an interrupted retrieve keeps what arrived)."""
        count = 0
        with self._client("WADO-RS", f"holds no instance of study {study_uid}") as client:
            for ds in client.iter_study(study_uid, media_types=ORIGINAL_SYNTAX):
                received = store.store_dataset(ds, source=self.node.url)
                count += 1
                if on_received is not None:
                    on_received(received)
        if not count:
            raise NetworkError(self.node.url, f"holds no instance of study {study_uid}")
        return count

    def send(self, paths: Sequence[Path]) -> int:
        """STOW-RS files (one request per study); returns how many the server accepted.

        Raises:
            NetworkError: the server refused one or more (named with their reason code).
        """
        import pydicom

        by_study: dict[str, list[Any]] = {}
        for path in paths:
            ds = pydicom.dcmread(path)
            by_study.setdefault(str(ds.StudyInstanceUID), []).append(ds)
        refused: list[str] = []
        with self._client("STOW-RS") as client:
            for study_uid, datasets in by_study.items():
                answer = client.store_instances(datasets, study_instance_uid=study_uid)
                for item in answer.get("FailedSOPSequence", []) or []:
                    reason = item.get("FailureReason", "")
                    refused.append(f"{item.get('ReferencedSOPInstanceUID', '?')} (reason {reason})")
        if refused:
            raise NetworkError(self.node.url, f"refused {len(refused)} of {len(paths)}: {', '.join(refused)}")
        return len(paths)
