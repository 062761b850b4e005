"""A real PACS for the network tests: one Orthanc on loopback per session, emptied before each test.

``make test-tools`` installs Orthanc, its DICOMweb plugin and DCMTK (storescu, echoscu) when they
are missing; without them these tests fail, they never skip.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.orthanc import OrthancServer

# the interop tests' project builder (a project with masks and every annotation kind to send)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

OUR_AE = "ECHOCARE"


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    with OrthancServer(tmp_path_factory.mktemp("orthanc"), modalities={OUR_AE: 11112}) as server:
        yield server


@pytest.fixture
def pacs(orthanc_server: OrthancServer) -> OrthancServer:
    """The session's Orthanc, holding nothing."""
    orthanc_server.clear()
    return orthanc_server


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user config folder, so no configured node of the machine's user leaks in."""
    folder = tmp_path / "config"
    monkeypatch.setenv("ECHOCARE_CONFIG_DIR", str(folder))
    return folder
