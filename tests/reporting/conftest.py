"""Fixtures for report tests: a work directory with a base under it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The working directory the CLI runs in; the base is ``var/reports`` under it."""
    (tmp_path / "var" / "reports").mkdir(parents=True)
    return tmp_path


@pytest.fixture
def base(work: Path) -> Path:
    return work / "var" / "reports"
