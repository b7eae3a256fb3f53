"""Summaries that decode but cannot be written back as JSON are ``invalid``, not a crash.

A lone surrogate escape (``"\\ud800"``) and nesting deeper than the serializer's limit are
accepted by Python's ``json`` decoder; written into the overview they used to raise halfway
through stdout (a traceback after a partial ``{"reports":[``).  Found by the reliability
work on issue 9.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.reporting.helpers import UI_BRIDGE, report


def test_unwritable_summaries_are_listed_as_invalid(base: Path) -> None:
    report(base, "daily/surrogate", b'{"note": "\\ud800"}')
    report(base, "daily/deep", ("[" * 400 + "]" * 400).join([b'{"x": '.decode(), "}"]).encode())
    report(base, "daily/fine", {"status": "ok"})

    done = subprocess.run(
        [*UI_BRIDGE, "overview", "--base-dir", str(base)], capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    by_id = {r["relative_path"]: r for r in json.loads(done.stdout)["reports"]}
    assert by_id["daily/fine"]["summary_status"] == "valid"
    for identifier in ("daily/surrogate", "daily/deep"):
        assert by_id[identifier]["summary_status"] == "invalid", by_id[identifier]
