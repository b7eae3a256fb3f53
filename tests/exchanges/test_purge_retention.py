"""Contract section 5 meets section 8: the purge recognises and removes our files.

The reporter writes ``<exchange>.json`` in the default directory under the working
directory; ``python -m bot_core.reporting.ui_bridge purge --signal-quality-retention-days N``
run from there removes it once its mtime is at or before the cutoff, and keeps it otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot_core.exchanges import EventBus, SignalQualityReporter, SignalQualitySettings


def purge(cwd: Path, days: int, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_core.reporting.ui_bridge",
            "purge",
            "--signal-quality-retention-days",
            str(days),
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    cleanup: dict[str, object] = json.loads(done.stdout)["signal_quality_cleanup"]
    return cleanup


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var/reports").mkdir(parents=True)
    reporter = SignalQualityReporter(
        "binance", bus=EventBus(), settings=SignalQualitySettings(fsync=False)
    )
    reporter.record_health_check(backend="native", ok=True, latency=0.01)
    return tmp_path / reporter.path


def test_a_recent_file_is_kept_and_an_old_one_removed(written: Path, tmp_path: Path) -> None:
    cleanup = purge(tmp_path, 7)
    assert cleanup["matched"] == 0 and written.exists()

    eight_days_ago = time.time() - 8 * 86400
    os.utime(written, (eight_days_ago, eight_days_ago))
    assert purge(tmp_path, 9)["matched"] == 0 and written.exists()
    preview = purge(tmp_path, 7, "--dry-run")
    assert preview["status"] == "preview" and written.exists()
    cleanup = purge(tmp_path, 7)
    assert cleanup["status"] == "completed" and cleanup["removed"] == 1
    assert cleanup["directory"] == str(tmp_path / "reports/exchanges/signal_quality")
    targets: list[dict[str, object]] = cleanup["targets"]  # type: ignore[assignment]
    [target] = targets
    assert target["path"] == str(written) and target["status"] == "deleted"
    assert not written.exists()
