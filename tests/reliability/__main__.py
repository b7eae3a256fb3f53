"""``python -m tests.reliability``: the long reliability run, then its summary table.

Runs ``tests/reliability`` with ``RELIABILITY_LONG=1`` (10k hostile-path cases, 50+ crash
injections, ...) and no per-test timeout, then prints the table of figures the tests measured
(test, cases run, failures, data lost).  ``--reduced`` runs the CI sizes instead.  Exit status:
pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.reliability._figures import LONG_RUN_VARIABLE, SUMMARY_VARIABLE, Summary, render_table

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__)
    parser.add_argument("--reduced", action="store_true", help="run CI's reduced sizes")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        summary_path = Path(scratch) / "summary.json"
        env = dict(os.environ)
        env[SUMMARY_VARIABLE] = str(summary_path)
        env[LONG_RUN_VARIABLE] = "0" if args.reduced else "1"
        command = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider"]
        if not args.reduced:
            command.append("--timeout=0")
        done = subprocess.run([*command, *args.pytest_args], env=env, check=False)
        if summary_path.exists():
            summary = Summary.model_validate_json(summary_path.read_text("utf-8"))
            print()
            print("long run" if summary.long_run else "reduced run")
            print(render_table(summary.figures))
        else:
            print("no figures were recorded", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
