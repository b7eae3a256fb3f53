"""Crash safety: ``kill -9`` at a random moment of a purge flow, an archive flow (with and
without ``delete_after``), the archive command line and a promotion, then check what is left.

After every kill:
* every file of the original tree is still in place byte-identical, or inside a backup
  that verifies (purge), or inside a complete archive (archive with ``delete_after``);
* no partial file sits under a final archive name (every published archive reads back);
* the registry is the one from before or the one from after the promotion, never a mix;
* running the same operation again converges (ends ``completed``/``empty``, no error);
* the audit chain verifies (a killed run is an unfinished chain, never a broken one).

The kill moment is uniform over the operation's measured duration (imports excluded), so
the injections land in scanning, planning, backup, execution and publication alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_core.audit import (
    LocalAuditStore,
    list_backups,
    load_manifest,
    verify_backup,
    verify_records,
)
from tests.reliability._figures import record, scaled

SAMPLES = Path(__file__).resolve().parents[2] / "deploy/packaging/samples/var/models/quality"
RNG = random.Random(20261124)


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def _files(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if not path.is_symlink():
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _demo(root: Path, reports: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    base = root / "var/reports"
    subprocess.run(
        _python("bot_core.demo", "generate", "--reports", str(reports), "--base-dir", str(base)),
        check=True,
        capture_output=True,
        cwd=root,
    )
    return base


@pytest.fixture(scope="module")
def api_env(prefect_api: None) -> Iterator[dict[str, str]]:
    """The environment of a flow subprocess: the session's Prefect API, our variables out."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_CORE_", "AWS_"))}
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    yield env


def _run_and_kill(argv: list[str], cwd: Path, env: dict[str, str], delay: float) -> bool:
    """Start ``argv``; SIGKILL it after ``delay`` s.  True when it was killed before the end."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return True


def _duration(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    return time.monotonic() - started


def _backed_up(audit: Path) -> dict[tuple[str, str], str]:
    """(source root, path) -> sha256 of every file inside a backup that verifies."""
    store = LocalAuditStore(str(audit))
    found: dict[tuple[str, str], str] = {}
    for summary in list_backups(store):
        if verify_backup(store, summary.backup_id).status != "verified":
            continue
        manifest, _ = load_manifest(store, summary.backup_id)
        root = os.path.realpath(manifest.raw_source_root())
        for entry in manifest.entries:
            if entry.type == "file" and entry.sha256:
                found[(root, entry.raw())] = entry.sha256
    return found


def _archived(destination: Path) -> tuple[dict[str, str], list[str]]:
    """Every file inside a published archive (by path inside the base), and what is wrong
    with the destination (a partial or unreadable file under a final name)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for directory, _, names in os.walk(destination):
        for name in names:
            path = Path(directory, name)
            relative_dir = path.parent.relative_to(destination)
            if name.startswith("."):
                continue  # a temporary name (.<name>.XXXX.partial): never final
            try:
                if name.endswith(".zip"):
                    with zipfile.ZipFile(path) as archive:
                        for info in archive.infolist():
                            if not info.is_dir():
                                data = archive.read(info)
                                found[str(relative_dir / info.filename)] = _sha(data)
                elif name.endswith(".tar.gz"):
                    with tarfile.open(path) as archive:
                        for member in archive.getmembers():
                            handle = archive.extractfile(member) if member.isfile() else None
                            if handle is not None:
                                found[str(relative_dir / member.name)] = _sha(handle.read())
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                problems.append(f"{path.relative_to(destination)} is unreadable: {exc}")
    return found, problems


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _chain_ok(audit: Path) -> list[str]:
    if not audit.exists():
        return []
    verification = verify_records(LocalAuditStore(str(audit)), prefix="maintenance")
    if verification.status == "ok":
        return []
    return [f"audit chain: {verification.status}: {verification.model_dump_json()[:300]}"]


def _flow_case(
    kind: str, root: Path, env: dict[str, str], window: tuple[float, float], rng: random.Random
) -> tuple[list[str], bool]:
    """One kill of a flow run (purge / archive / archive with delete_after) and its checks;
    also whether the kill landed after the run had started writing (audit records exist)."""
    base = root / "var/reports"
    original = _files(base)
    argv = _flow_argv(kind)
    _run_and_kill(argv, root, env, rng.uniform(*window))
    landed = (root / "audit").exists()
    problems = _losses(kind, root, original)
    problems += _chain_ok(root / "audit")
    rerun = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    if rerun.returncode != 0:
        problems.append(f"re-run exit {rerun.returncode}: {rerun.stderr.strip()[-300:]}")
    problems += _losses(kind, root, original)
    problems += _chain_ok(root / "audit")
    return problems, landed


def _flow_argv(kind: str) -> list[str]:
    common = ["--approve-as", "bob", "--requester", "alice", "--no-concurrency-limit"]
    if kind == "purge":
        return _python("flows", "run", "purge", "--category", "smoke", *common)
    argv = _python(
        "flows",
        "run",
        "archive",
        *("--category", "daily", "--format", "zip", "--destination", "archives"),
        "--overwrite",
        *common,
    )
    return [*argv, "--delete-after"] if kind == "archive-delete-after" else argv


def _losses(kind: str, root: Path, original: dict[str, str]) -> list[str]:
    """Every original file not in place, backed up, or archived; partial archives."""
    base = root / "var/reports"
    now = _files(base)
    problems: list[str] = []
    saved: dict[str, str] = {}
    if kind == "purge":
        real_base = os.path.realpath(base)
        for (source, path), sha in _backed_up(root / "audit").items():
            if source == real_base:
                saved[path] = sha
    else:
        saved, partial = _archived(root / "archives")
        problems += partial
    lost = [
        path for path, sha in original.items() if now.get(path) != sha and saved.get(path) != sha
    ]
    if lost:
        problems.append(f"{len(lost)} files lost, e.g. {lost[:3]}")
    return problems


@pytest.mark.parametrize("kind", ["purge", "archive", "archive-delete-after"])
def test_a_killed_flow_loses_nothing_and_converges(
    kind: str, api_env: dict[str, str], tmp_path: Path
) -> None:
    injections = scaled(reduced=2, long=12)
    template = tmp_path / "template"
    _demo(template, 60)
    measure = tmp_path / "measure"
    shutil.copytree(template, measure, symlinks=True)
    duration = _duration(_flow_argv(kind), measure, api_env)
    startup = _duration(_python("flows", "--help"), measure, api_env)
    window = (min(startup, duration) * 0.8, duration)
    failures: list[str] = []
    lost_total = 0
    landed_total = 0
    for index in range(injections):
        root = tmp_path / f"kill{index}"
        shutil.copytree(template, root, symlinks=True)
        problems, landed = _flow_case(kind, root, api_env, window, RNG)
        landed_total += landed
        lost_total += sum(1 for p in problems if "files lost" in p)
        if problems:
            failures.append(f"kill {index}: {problems}")
        shutil.rmtree(root, ignore_errors=True)
    record(
        "crash safety",
        f"kill -9 of the {kind} flow at a random moment",
        cases=injections,
        failures=len(failures),
        data_lost=lost_total,
        detail=f"run ~{duration:.1f} s, {landed_total} kills after the first audit record; "
        "re-run converges; audit chain verifies",
    )
    assert not failures, failures


def test_a_killed_archive_command_publishes_no_partial_archive(tmp_path: Path) -> None:
    injections = scaled(reduced=3, long=15)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_CORE_", "AWS_"))}
    template = tmp_path / "template"
    _demo(template, 300)

    def archive_argv(archive_format: str) -> list[str]:
        return _python(
            "bot_core.reporting.ui_bridge",
            "archive",
            *("--format", archive_format, "--destination", "archives", "--overwrite"),
        )

    measure = tmp_path / "measure"
    shutil.copytree(template, measure, symlinks=True)
    duration = _duration(archive_argv("zip"), measure, env)
    shutil.rmtree(measure)
    failures: list[str] = []
    lost_total = 0
    for index in range(injections):
        root = tmp_path / f"kill{index}"
        shutil.copytree(template, root, symlinks=True)
        archive_format = "zip" if index % 2 == 0 else "tar"
        argv = archive_argv(archive_format)
        original = _files(root / "var/reports")
        _run_and_kill(argv, root, env, RNG.uniform(0.0, duration))
        _, problems = _archived(root / "archives")
        if _files(root / "var/reports") != original:
            lost_total += 1
            problems.append("the archive command changed its sources")
        rerun = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        if rerun.returncode != 0 or json.loads(rerun.stdout)["status"] not in ("completed",):
            problems.append(f"re-run: exit {rerun.returncode} {rerun.stdout[-200:]}")
        archived, partial = _archived(root / "archives")
        problems += partial
        if not archived:
            problems.append("the re-run published nothing")
        if problems:
            failures.append(f"kill {index} ({archive_format}): {problems}")
        shutil.rmtree(root, ignore_errors=True)
    record(
        "crash safety",
        "kill -9 of ui_bridge archive (zip, tar) at a random moment",
        cases=injections,
        failures=len(failures),
        data_lost=lost_total,
        detail="no partial file under a final name; re-run with --overwrite completes",
    )
    assert not failures, failures


def _registry_state(quality: Path) -> tuple[str, list[str]]:
    """The champion's version and the challengers' versions, read from the two files."""
    model = quality / "decision_engine"
    champion = json.loads((model / "champion.json").read_text("utf-8"))
    challengers = json.loads((model / "challengers.json").read_text("utf-8"))
    return (
        champion["report"]["version"],
        [entry["report"]["version"] for entry in challengers["entries"]],
    )


def test_a_killed_promotion_leaves_one_consistent_registry(tmp_path: Path) -> None:
    injections = scaled(reduced=4, long=25)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_CORE_", "AWS_"))}
    argv = _python(
        "bot_core.reporting.ui_bridge",
        "promote",
        *("--model", "decision_engine", "--version", "v2", "--reason", "crash test"),
        *("--quality-dir", "quality", "--audit-dir", "promotions"),
    )
    check = _python("bot_core.reporting.ui_bridge", "champion", "--base-dir", "quality")
    reference = tmp_path / "reference"
    shutil.copytree(SAMPLES, reference / "quality")
    before = _registry_state(reference / "quality")
    duration = _duration(argv, reference, env)
    after = _registry_state(reference / "quality")
    startup = _duration(_python("bot_core.reporting.ui_bridge", "--help"), reference, env)
    failures: list[str] = []
    for index in range(injections):
        root = tmp_path / f"kill{index}"
        shutil.copytree(SAMPLES, root / "quality")
        _run_and_kill(argv, root, env, RNG.uniform(min(startup, duration) * 0.8, duration))
        # Any later command finishes (or discards) an interrupted commit first.
        listed = subprocess.run(check, cwd=root, env=env, capture_output=True, text=True)
        state = _registry_state(root / "quality")
        problems = []
        if listed.returncode != 0:
            problems.append(f"champion after the kill: exit {listed.returncode} {listed.stderr}")
        if state not in (before, after):
            problems.append("champion.json and challengers.json are from different moments")
        if state == before:
            rerun = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
            if rerun.returncode != 0 or _registry_state(root / "quality") != after:
                problems.append(f"re-run: exit {rerun.returncode} {rerun.stderr.strip()}")
        if problems:
            failures.append(f"kill {index}: {problems}")
    record(
        "crash safety",
        "kill -9 of ui_bridge promote at a random moment",
        cases=injections,
        failures=len(failures),
        data_lost=0 if not failures else len(failures),
        detail="registry is all-before or all-after; re-run completes",
    )
    assert not failures, failures
