"""Helpers shared by the registry tests: paths, command names, a CLI result, factories."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLE_REGISTRY = REPO / "deploy" / "packaging" / "samples" / "var" / "models" / "quality"
SAMPLE_REPORTS = Path(__file__).with_name("sample_reports.json")

UI_BRIDGE = "bot_core.reporting.ui_bridge"
RUNTIME = "bot_core.runtime.ui_bridge"
CHAMPION_DIFF = "scripts.audit.champion_diff"


@dataclass(frozen=True)
class Result:
    """What a CLI run produced."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.stderr
        assert self.stderr == ""
        return json.loads(self.stdout)

    def assert_error(self, code: int) -> str:
        """Exit ``code``, nothing on stdout, one line on stderr without a traceback."""
        assert self.returncode == code, (self.returncode, self.stdout, self.stderr)
        assert self.stdout == ""
        assert "Traceback" not in self.stderr
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: ")
        return lines[0]


def report(
    model: str = "decision_engine",
    version: str = "v1",
    *,
    day: int = 1,
    status: str = "ok",
    da: float | None = 0.55,
    mae: float | None = 0.02,
    pnl: float | None = 100.0,
    nested: bool = False,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A quality report as the evaluation pipeline writes it (``None`` drops a metric)."""
    values = {"directional_accuracy": da, "mae": mae, "expected_pnl": pnl}
    metrics: dict[str, Any] = {key: value for key, value in values.items() if value is not None}
    return {
        "model_name": model,
        "version": version,
        "evaluated_at": f"2024-05-{day:02d}T08:00:00+00:00",
        "status": status,
        "metrics": {"summary": metrics} if nested else metrics,
        "delta": {},
        "parameters": dict(parameters or {"learning_rate": 0.05}),
    }


def tree(root: Path) -> dict[str, bytes | None]:
    """Every directory (``None``) and file (its bytes) under ``root``, by relative path."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        found[relative] = None if path.is_dir() else path.read_bytes()
    return found
