"""Contract 7: ``promote``'s ``audit_entry`` is the entry as an overview report object."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot_core.reporting import Report, scan_reports
from bot_core.reporting._execute import open_base
from bot_core.reporting._overview import report_document

SAMPLES = Path(__file__).resolve().parents[2] / "deploy/packaging/samples/var/models/quality"


def test_audit_entry_is_an_overview_report_of_the_written_entry(tmp_path: Path) -> None:
    shutil.copytree(SAMPLES, tmp_path / "var/models/quality")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_core.reporting.ui_bridge",
            "promote",
            "--model",
            "decision_engine",
            "--version",
            "v2",
            "--reason",
            "Manual override",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["audit_entry"]
    report = Report.model_validate(entry)  # every field of an overview report, valid
    assert report.relative_path.startswith("decision_engine/") and report.relative_path.endswith(
        "_v2"
    )
    assert report.category == "decision_engine" and report.has_summary and not report.has_exports

    audit_dir = tmp_path / "audit/champion_promotions"
    catalog = scan_reports(str(audit_dir))
    [scanned] = catalog.reports
    base_fd = open_base(str(audit_dir))
    assert base_fd is not None
    try:
        seen = report_document(catalog, scanned, base_fd)
    finally:
        os.close(base_fd)
    assert seen.relative_path == report.relative_path
    assert seen.summary_path == report.summary_path and seen.absolute_path == report.absolute_path
    assert seen.summary == report.summary
