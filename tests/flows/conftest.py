"""Helpers to drive paused flow runs; every test here uses the session's Prefect API."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows._approval import PlanSummary
from flows._client import pending_runs, plan_of
from tests.s3server import s3_server

__all__ = ["s3_server"]  # re-exported: the SeaweedFS server the S3 archive tests use


@pytest.fixture(scope="session", autouse=True)
def flows_share_the_prefect_api(prefect_api: None) -> None:
    """Every flow test runs against the session's Prefect API (tests/conftest.py)."""


def write_report(base: Path, identifier: str, updated: datetime, *, exports: int = 2) -> Path:
    """A summary report with ``exports`` CSV files, every mtime set to ``updated``."""
    directory = base / identifier
    (directory / "exports").mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(f'{{"name": "{identifier}", "pnl": 1.5}}')
    for index in range(exports):
        (directory / "exports" / f"part{index}.csv").write_text(f"{identifier},{index}\n" * 20)
    stamp = updated.timestamp()
    for path in [*directory.rglob("*"), directory]:
        os.utime(path, (stamp, stamp))
    return directory


@dataclass
class Tree:
    """A small report tree: four old smoke reports, a new one, and a daily report."""

    base: Path
    audit: Path
    signal_quality: Path
    ops_log: Path
    old_smoke: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def files(self) -> set[str]:
        return {p.relative_to(self.base).as_posix() for p in self.base.rglob("*")}


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    base = tmp_path / "reports"
    base.mkdir()
    old = datetime(2024, 3, 1, 12, tzinfo=UTC)
    made = Tree(
        base=base,
        audit=tmp_path / "audit",
        signal_quality=tmp_path / "signal_quality",
        ops_log=tmp_path / "ops" / "paper_trading_log.md",
    )
    for day in range(4):
        identifier = f"smoke/2024-03-0{day + 1}"
        write_report(base, identifier, old + timedelta(days=day))
        made.old_smoke.append(identifier)
    write_report(base, "smoke/2024-05-01", datetime(2024, 5, 1, tzinfo=UTC))
    write_report(base, "daily/2024-03-01", old)
    made.kept = ["smoke/2024-05-01", "daily/2024-03-01"]
    return made


@dataclass
class Background:
    """A flow call running in a thread, and what it returned or raised."""

    thread: threading.Thread
    result: Any = None
    error: BaseException | None = None

    def join(self, timeout: float = 60) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def run_in_background(call: Callable[[], Any]) -> Background:
    """Start ``call`` (a flow) in a daemon thread, as a second operator would see it running."""
    holder = Background(thread=threading.Thread(daemon=True))

    def target() -> None:
        try:
            holder.result = call()
        except BaseException as exc:  # handed to the test thread by join()
            holder.error = exc

    holder.thread = threading.Thread(target=target, daemon=True)
    holder.thread.start()
    return holder


def wait_for_pause(audit_store: str, *, timeout: float = 45) -> PlanSummary:
    """Poll the API (as a second client) until a run writing to ``audit_store`` is Paused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in pending_runs().runs:
            if run.plan.audit_store == audit_store:
                return plan_of(run.flow_run_id)
        time.sleep(0.3)
    raise AssertionError(f"no paused run for {audit_store} within {timeout} s")
