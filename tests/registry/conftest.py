"""Fixtures for the registry tests: running the real CLIs and building registries.

Every CLI test runs the command in a subprocess with ``cwd=tmp_path`` (so the defaults
``var/models/quality``, ``audit/...`` and ``logs/...`` land in the test's directory), and
parses stdout into the pydantic model of the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot_core.registry import QualityReport, build_registry_from_reports

from .helpers import REPO, SAMPLE_REGISTRY, Result

Runner = Callable[..., Result]

# Runs the reporting ui_bridge in a process that dies (exit 86, no cleanup, like a kill -9)
# right after the named commit step.
_CRASHING_MAIN = """
import os, sys
import bot_core.registry._store as store
step = sys.argv[1]
store._fault_hook = lambda done: os._exit(86) if done == step else None
from bot_core.reporting.ui_bridge import main
sys.exit(main(sys.argv[2:]))
"""


def _environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "BOT_CORE_"))
    }
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONWARNINGS"] = "error"
    return env


def _capture(command: list[str], cwd: Path) -> Result:
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    """``run(module, *args, cwd=tmp_path)``: run ``python -m module args`` and capture it."""

    def _run(module: str, *args: str | os.PathLike[str], cwd: Path | None = None) -> Result:
        return _capture([sys.executable, "-m", module, *map(str, args)], cwd or tmp_path)

    return _run


@pytest.fixture
def run_crashing(tmp_path: Path) -> Runner:
    """``run_crashing(step, *ui_bridge_args)``: the real ui_bridge, killed after ``step``."""

    def _run(step: str, *args: str) -> Result:
        return _capture([sys.executable, "-c", _CRASHING_MAIN, step, *args], tmp_path)

    return _run


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A copy of the sample registry at ``<tmp_path>/var/models/quality`` (the default)."""
    target = tmp_path / "var" / "models" / "quality"
    shutil.copytree(SAMPLE_REGISTRY, target)
    return target


@pytest.fixture
def build(tmp_path: Path) -> Callable[..., Path]:
    """``build(*reports)``: a registry at ``<tmp_path>/var/models/quality`` from reports."""

    def _build(*reports: Mapping[str, Any] | QualityReport) -> Path:
        root = tmp_path / "var" / "models" / "quality"
        build_registry_from_reports(root, reports)
        return root

    return _build
