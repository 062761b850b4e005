"""Fixtures of the reader fuzz tests: one worker process shared by the module."""

from __future__ import annotations

import warnings

import pytest
from fuzz_worker import Worker


@pytest.fixture(scope="module")
def worker():
    with Worker(timeout_s=120.0) as w:  # a hang guard, generous for a loaded machine
        yield w


@pytest.fixture(autouse=True)
def _quiet_pydicom():
    """pydicom warns about every invalid value the mutators write on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
