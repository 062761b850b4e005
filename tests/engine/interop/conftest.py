"""The ``project`` fixture: the bundled cardiac cine with masks and every annotation kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_project import Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj")
