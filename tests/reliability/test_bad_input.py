"""Bad input corpus: every command and flow parameter, each malformed input refused clearly.

One table of cases across every command line (report bridge, registry, audit, flows,
metrics, exchanges, demo, champion_diff, snapshot): malformed dates and filters, unsafe
paths, corrupt JSON and registry files, bad configuration, a read-only destination, and a
full disk (a 1 MiB tmpfs when we may mount one).  Each case must end with a non-zero exit,
one ``error:`` line on stderr, no traceback, nothing on stdout, and the workspace exactly as
it was before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability._figures import record

SAMPLES = Path(__file__).resolve().parents[2] / "deploy/packaging/samples/var/models/quality"


@dataclass(frozen=True)
class Case:
    """One malformed input: the command, extra environment, and the exit status expected."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 2


def _module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", name, *args]


def ui(*args: str) -> list[str]:
    return _module("bot_core.reporting.ui_bridge", *args)


def audit(*args: str) -> list[str]:
    return _module("bot_core.audit", *args)


def flows(*args: str) -> list[str]:
    return _module("flows", *args)


def metrics(*args: str) -> list[str]:
    return _module("bot_core.metrics", *args)


CASES = [
    # report bridge: filters and paging
    Case("overview: malformed date", ui("overview", "--since", "2024-13-45")),
    Case(
        "overview: reversed range", ui("overview", "--since", "2024-05-01", "--until", "2024-01-01")
    ),
    Case("overview: limit 0", ui("overview", "--limit", "0")),
    Case("overview: negative offset", ui("overview", "--offset", "-1")),
    Case("overview: unknown sort key", ui("overview", "--sort", "colour")),
    Case("overview: unknown summary status", ui("overview", "--summary-status", "maybe")),
    Case("overview: base is a file", ui("overview", "--base-dir", "plain.txt")),
    Case("overview: unknown option", ui("overview", "--frobnicate")),
    Case("purge: blank category", ui("purge", "--category", " ", "--dry-run")),
    Case("purge: retention not a number", ui("purge", "--signal-quality-retention-days", "x")),
    Case("purge: unknown has-exports", ui("purge", "--has-exports", "perhaps")),
    # report bridge: unsafe paths
    Case("delete: parent escape", ui("delete", "../outside.txt")),
    Case("delete: absolute outside", ui("delete", "/etc/passwd")),
    Case("delete: blank path", ui("delete", "  ")),
    Case("delete: nested escape", ui("delete", "daily/../../plain.txt")),
    Case("delete: the base itself", ui("delete", ".")),
    Case("archive: destination inside base", ui("archive", "--destination", "var/reports/x")),
    Case("archive: destination is a file", ui("archive", "--destination", "plain.txt")),
    Case("archive: unknown format", ui("archive", "--format", "rar")),
    Case("bridge: unknown command", ui("explode")),
    # registry
    Case("champion: unsafe model name", ui("champion", "--model", "../etc")),
    Case("champion: registry is a file", ui("champion", "--base-dir", "plain.txt")),
    Case(
        "champion: corrupt champion.json",
        ui("champion", "--base-dir", "corrupt", "--model", "decision_engine"),
    ),
    Case(
        "promote: unknown version",
        ui("promote", "--model", "decision_engine", "--version", "v999", "--reason", "r"),
    ),
    Case("promote: missing version", ui("promote", "--model", "decision_engine")),
    Case(
        "promote: blank reason",
        ui("promote", "--model", "decision_engine", "--version", "v2", "--reason", "  "),
    ),
    Case(
        "promote: corrupt registry",
        ui(
            "promote",
            *("--quality-dir", "corrupt", "--model", "decision_engine"),
            *("--version", "v2", "--reason", "r"),
        ),
    ),
    Case(
        "snapshot: unknown model",
        _module("bot_core.runtime.ui_bridge", "snapshot", "--model", "nope", "--dry-run"),
    ),
    Case(
        "champion_diff: unsafe model name",
        _module(
            "scripts.audit.champion_diff",
            *("--lhs", "corrupt", "--rhs", "var/models/quality", "--model", "../etc"),
        ),
    ),
    # audit storage and configuration
    Case("audit: unsupported store URL", audit("verify"), env={"BOT_CORE_AUDIT_URL": "ftp://x/y"}),
    Case("audit: s3 URL without bucket", audit("verify"), env={"BOT_CORE_AUDIT_URL": "s3://"}),
    Case(
        "audit: negative object-lock days",
        audit("verify"),
        env={"BOT_CORE_AUDIT_URL": "s3://b/p", "BOT_CORE_AUDIT_OBJECT_LOCK_DAYS": "-1"},
    ),
    Case("audit: unknown backup id", audit("restore", "no-such-backup", "--url", "audit")),
    Case(
        "audit: unknown backup format",
        audit("backup", "--source-root", "var/reports", "--format", "zip", "daily"),
    ),
    Case(
        "audit: backup path escaping the root",
        audit("backup", "--source-root", "var/reports", "--url", "audit", "../../plain.txt"),
    ),
    # flows: parameters are refused before any server starts or anything runs
    Case("flow purge: malformed until", flows("run", "purge", "--until", "garbage")),
    Case("flow purge: timeout 0", flows("run", "purge", "--timeout", "0")),
    Case("flow purge: negative cap", flows("run", "purge", "--max-targets", "-1")),
    Case("flow archive: unknown format", flows("run", "archive", "--format", "rar")),
    Case("flow promote: missing version", flows("run", "promote", "--model", "decision_engine")),
    Case("flow restore: missing backup id", flows("run", "restore")),
    Case(
        "flow approve: not a run id",
        flows("approve", "not-a-uuid", "--approver", "bob", "--reason", "r"),
    ),
    # metrics
    Case(
        "metrics: unknown source word",
        metrics("record-retraining", "--model", "m", "--source", "s", "--guardrail-state", "x"),
        env={"BOT_CORE_PUSHGATEWAY_URL": "http://127.0.0.1:9"},
    ),
    Case(
        "metrics: no pushgateway configured", metrics("record-guardrail-block", "--guardrail", "g")
    ),
    Case(
        "metrics: pushgateway URL not http",
        metrics("record-guardrail-block", "--guardrail", "g"),
        env={"BOT_CORE_PUSHGATEWAY_URL": "gopher://x"},
    ),
    # exchanges and demo
    Case("drill: endpoint not a URL", _module("bot_core.exchanges", "drill", "--endpoint", "x")),
    Case(
        "fake server: port out of range",
        _module("bot_core.exchanges", "serve-fake", "--port", "99999"),
    ),
    Case("demo: negative report count", _module("bot_core.demo", "generate", "--reports", "-5")),
]


def _fingerprint(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its type and content hash (links by their target)."""
    seen: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                seen[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                seen[key] = "dir"
            else:
                seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@contextlib.contextmanager
def _small_tmpfs(where: Path) -> Iterator[bool]:
    """Mount a 1 MiB tmpfs at ``where`` when allowed (root); yield whether it is mounted."""
    where.mkdir()
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def _demo_tree(root: Path) -> None:
    subprocess.run(
        _module("bot_core.demo", "generate", "--reports", "40", "--base-dir", "var/reports"),
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo tree, a registry, a corrupt registry and a plain file."""
    root = tmp_path_factory.mktemp("bad-input")
    _demo_tree(root)
    shutil.copytree(SAMPLES, root / "var/models/quality", dirs_exist_ok=True)
    shutil.copytree(SAMPLES, root / "corrupt")
    (root / "corrupt/decision_engine/champion.json").write_text(
        '{"model_name": "decision_', "utf-8"
    )
    (root / "plain.txt").write_text("a file, not a directory\n", "utf-8")
    (root / "outside.txt").write_text("outside\n", "utf-8")
    return root


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A demo tree beside ``full/``, a 1 MiB tmpfs with ~100 KiB left (root only)."""
    _demo_tree(tmp_path)
    with _small_tmpfs(tmp_path / "full") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (not root); ENOSPC is injected in unit tests")
        with open(tmp_path / "full/filler", "wb") as handle:
            handle.write(b"\0" * (1024 * 1024 - 100 * 1024))
        yield tmp_path


def _check(case: Case, root: Path) -> tuple[str | None, int]:
    """Run the case; return what was wrong with its handling (or ``None``) and how many
    paths that existed before were removed or changed (data lost)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_CORE_", "AWS_"))}
    env.update({"PREFECT_HOME": str(root.parent / "prefect-home"), **case.env})
    before = _fingerprint(root)
    done = subprocess.run(case.argv, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    problems = []
    if done.returncode != case.exit_code:
        problems.append(f"exit {done.returncode}, expected {case.exit_code}")
    if done.stdout:
        problems.append(f"stdout {done.stdout[:120]!r}")
    lines = done.stderr.strip().splitlines()
    if "Traceback" in done.stderr:
        problems.append("traceback on stderr")
    if len(lines) != 1 or not lines[0].startswith("error: "):
        problems.append(f"stderr is not one error line: {done.stderr[-300:]!r}")
    after = _fingerprint(root)
    changed = sorted(set(before.items()) ^ set(after.items()))
    if changed:
        problems.append(f"disk changed: {changed[:4]}")
    lost = sum(1 for key, value in before.items() if after.get(key) != value)
    return "; ".join(problems) or None, lost


PARALLEL = 4
"""Cases run four at a time, each in its own copy of the workspace (they are mostly
interpreter start-up; the disk check of each case only sees its own copy)."""


def test_every_malformed_input_is_refused_cleanly(workspace: Path) -> None:
    copies: queue.Queue[Path] = queue.Queue()
    for index in range(PARALLEL):
        copy = workspace.parent / f"{workspace.name}-copy{index}"
        shutil.copytree(workspace, copy, symlinks=True)
        copies.put(copy)

    def check(case: Case) -> tuple[str | None, int]:
        root = copies.get()
        try:
            return _check(case, root)
        finally:
            copies.put(root)

    runnable = CASES
    failures: list[str] = []
    lost = 0
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for case, (problem, case_lost) in zip(runnable, pool.map(check, runnable), strict=True):
            lost += case_lost
            if problem is not None:
                failures.append(f"{case.name}: {problem}")
    record(
        "bad input",
        "malformed input corpus (every command and flow parameter)",
        cases=len(runnable),
        failures=len(failures),
        data_lost=lost,
    )
    assert len(CASES) >= 40
    assert not failures, "\n".join(failures)


def _files_under(root: Path) -> list[Path]:
    return [Path(d, name) for d, _, names in os.walk(root) for name in names]


def test_a_full_disk_leaves_no_partial_archive_or_backup(full_disk: Path) -> None:
    root = full_disk
    reports_before = _fingerprint(root / "var/reports")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_CORE_", "AWS_"))}
    problems: list[str] = []

    archive = subprocess.run(
        ui("archive", "--category", "daily", "--format", "zip", "--destination", "full/archives"),
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "Traceback" in archive.stderr:
        problems.append(f"archive: traceback {archive.stderr[-300:]!r}")
    result = json.loads(archive.stdout)
    if result["status"] not in ("partial_failure", "error"):
        problems.append(f"archive: status {result['status']} on a full disk")
    for path in _files_under(root / "full/archives"):
        if path.name.endswith(".partial") or path.name.startswith("."):
            problems.append(f"archive: left {path.name}")
        else:
            with zipfile.ZipFile(path) as finished:
                if finished.testzip() is not None:
                    problems.append(f"archive: {path.name} is published but corrupt")

    backup = subprocess.run(
        audit("backup", "--source-root", "var/reports", "--url", "full/audit", "daily"),
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = backup.stderr.strip().splitlines()
    if backup.returncode != 1 or backup.stdout or len(lines) != 1 or "Traceback" in backup.stderr:
        problems.append(f"backup: exit {backup.returncode}, stderr {backup.stderr[-300:]!r}")
    left = _files_under(root / "full/audit")
    if left:
        problems.append(f"backup: left {[str(p.relative_to(root)) for p in left][:4]}")

    lost = sum(
        1
        for key, value in reports_before.items()
        if _fingerprint(root / "var/reports").get(key) != value
    )
    record(
        "bad input",
        "full disk (1 MiB tmpfs): archive zip, verified backup",
        cases=2,
        failures=len(problems),
        data_lost=lost,
        detail=f"archive status {result['status']}",
    )
    assert not problems, problems
    assert lost == 0
