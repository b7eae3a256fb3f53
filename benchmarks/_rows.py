"""The rows of the benchmark: for each, the project's command and the OS tools' equivalent.

Each row function returns a :class:`RowSpec`: the project side first, then one side per
baseline with the target from issue 8.  Nothing is run here; :mod:`benchmarks._run` runs the
sides alternately and turns the samples into :class:`~benchmarks._models.RowResult`.

Rows that need the same data use the same data: "half the reports" is always the reports of
:data:`~benchmarks._tree.SELECTED_CATEGORIES`, as listed by an untimed purge dry run.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter

from benchmarks._measure import BenchmarkError, Side
from benchmarks._models import Sample, Target
from benchmarks._s3 import SeaweedServer
from benchmarks._tools import Tools
from benchmarks._tree import SELECTED_CATEGORIES, Tree, remove, restore_copy
from bot_core.reporting import ArchiveResult, PurgeResult

__all__ = [
    "OVERVIEW_RSS_TARGET",
    "PY",
    "ROW_NAMES",
    "Baseline",
    "RowContext",
    "RowSpec",
    "Skip",
    "build_row",
    "clean_env",
]

PY = sys.executable
OVERVIEW_RSS_TARGET = Target(kind="max_peak_rss_mb", value=300, text="peak RSS <= 300 MiB")
UI_BRIDGE = [PY, "-m", "bot_core.reporting.ui_bridge"]
GZIP6 = "gzip -6"


class Skip(Exception):
    """A row cannot run here (a tool is missing); the message is the row's reason."""


@dataclass
class Baseline:
    """A baseline side and the target the project must meet against it."""

    side: Side
    target: Target


@dataclass
class RowSpec:
    """What one row runs."""

    name: str
    description: str
    project: Side
    baselines: list[Baseline]
    notes: list[str] = field(default_factory=list)


@dataclass
class RowContext:
    """Everything the rows share: the tree, the tools and (lazily) the S3 server."""

    tree: Tree
    tools: Tools
    s3_files: int
    server: SeaweedServer | None = None
    s3_source: Path | None = None
    s3_file_count: int = 0
    s3_bytes: int = 0

    def out(self, name: str) -> Path:
        return self.tree.out / name


def clean_env(**extra: str) -> dict[str, str]:
    """The harness's environment without our settings or AWS variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BOT_CORE_", "AWS_", "PREFECT_"))
    }
    env.update(extra)
    return env


def _category_args() -> list[str]:
    args: list[str] = []
    for category in SELECTED_CATEGORIES:
        args += ["--category", category]
    return args


def _ratio(value: float, text: str) -> Target:
    return Target(kind="max_wall_ratio", value=value, text=text)


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


# -- checks: a run that did not do the work must not count -------------------------------------


def _check_nonempty(path: Path) -> Callable[[Sample], None]:
    def check(sample: Sample) -> None:
        del sample
        if not path.exists() or path.stat().st_size == 0:
            raise BenchmarkError(f"{path} is missing or empty after the run")

    return check


def _check_purge(ctx: RowContext, stdout: Path) -> Callable[[Sample], None]:
    expected = len(ctx.tree.targets)

    def check(sample: Sample) -> None:
        del sample
        result = TypeAdapter(PurgeResult).validate_json(stdout.read_bytes())
        if result.status != "completed" or result.deleted_count != expected:
            raise BenchmarkError(
                f"purge {result.status}: deleted {result.deleted_count} of {expected}"
            )

    return check


def _check_gone(ctx: RowContext) -> Callable[[Sample], None]:
    def check(sample: Sample) -> None:
        del sample
        left = [p for p in ctx.tree.targets if os.path.lexists(ctx.tree.copy / p)]
        if left:
            raise BenchmarkError(f"rm -rf left {len(left)} targets, e.g. {left[0]}")

    return check


def _check_archive(ctx: RowContext, stdout: Path) -> Callable[[Sample], None]:
    expected = len(ctx.tree.targets)

    def check(sample: Sample) -> None:
        del sample
        result = TypeAdapter(ArchiveResult).validate_json(stdout.read_bytes())
        if result.status != "completed" or result.copied_count != expected:
            raise BenchmarkError(
                f"archive {result.status}: copied {result.copied_count} of {expected}"
            )

    return check


# -- rows ---------------------------------------------------------------------------------------


def overview_row(ctx: RowContext) -> RowSpec:
    base = str(ctx.tree.pristine)
    stdout = ctx.out("overview.json")
    project = Side(
        name="ui_bridge overview",
        argv=[*UI_BRIDGE, "overview", "--base-dir", base],
        cwd=ctx.tree.workdir,
        stdout=stdout,
        env=clean_env(),
        check=_check_nonempty(stdout),
    )
    listing, summaries = ctx.out("find-listing.txt"), ctx.out("find-summaries.txt")
    q = shlex.quote
    script = (
        f"find {q(base)} -printf '%s %T@ %p\\n' > {q(str(listing))} && "
        f"find {q(base)} -name summary.json -type f -exec cat {{}} + > {q(str(summaries))}"
    )
    baseline = Side(
        name="find -printf + cat summary.json",
        argv=_sh(script),
        cwd=ctx.tree.workdir,
        stdout=ctx.out("find.stdout"),
        check=_check_nonempty(summaries),
    )
    return RowSpec(
        name="overview",
        description="full scan of the tree, overview JSON to a file",
        project=project,
        baselines=[Baseline(baseline, _ratio(2.0, "<= 2.0x find + cat"))],
    )


def _cli_purge_side(ctx: RowContext, name: str) -> Side:
    stdout = ctx.out(f"{name}.json")
    return Side(
        name="ui_bridge purge",
        argv=[
            *UI_BRIDGE,
            "purge",
            "--base-dir",
            str(ctx.tree.copy),
            *_category_args(),
            "--signal-quality-dir",
            str(ctx.tree.missing_signal_quality),
        ],
        cwd=ctx.tree.workdir,
        stdout=stdout,
        env=clean_env(),
        prepare=lambda: restore_copy(ctx.tree),
        check=_check_purge(ctx, stdout),
        notes=["includes the CLI's own scan and plan of the whole tree before it deletes"],
    )


def purge_row(ctx: RowContext) -> RowSpec:
    project = _cli_purge_side(ctx, "purge")
    baseline = Side(
        name="xargs rm -rf",
        argv=_sh(f"xargs -0 rm -rf < {shlex.quote(str(ctx.tree.targets_file))}"),
        cwd=ctx.tree.copy,
        stdout=ctx.out("rm.stdout"),
        prepare=lambda: restore_copy(ctx.tree),
        check=_check_gone(ctx),
    )
    # cwd must exist before prepare runs the first time
    restore_copy(ctx.tree)
    return RowSpec(
        name="purge",
        description=f"purge of {len(ctx.tree.targets)} reports ({'+'.join(SELECTED_CATEGORIES)})",
        project=project,
        baselines=[Baseline(baseline, _ratio(1.3, "<= 1.3x rm -rf"))],
        notes=[
            "project: a real `ui_bridge purge` with the same filters (scan + plan + re-walk and "
            "fingerprint check of every target + delete); baseline: `rm -rf` of the planned "
            "target directories, given by xargs from the untimed dry run"
        ],
    )


def _archive_side(ctx: RowContext, fmt: str) -> Side:
    destination = ctx.out(f"archive-{fmt}")
    stdout = ctx.out(f"archive-{fmt}.json")
    return Side(
        name=f"ui_bridge archive --format {fmt}",
        argv=[
            *UI_BRIDGE,
            "archive",
            "--base-dir",
            str(ctx.tree.pristine),
            *_category_args(),
            "--format",
            fmt,
            "--destination",
            str(destination),
        ],
        cwd=ctx.tree.workdir,
        stdout=stdout,
        env=clean_env(),
        prepare=lambda: remove(destination),
        check=_check_archive(ctx, stdout),
    )


def archive_tar_row(ctx: RowContext) -> RowSpec:
    tar = ctx.tools.system("tar")
    if tar is None or ctx.tools.system("gzip") is None:
        raise Skip(ctx.tools.missing.get("tar") or ctx.tools.missing["gzip"])
    output = ctx.out("baseline.tar.gz")
    baseline = Side(
        name="tar -czf (gzip -6)",
        argv=[
            tar,
            f"--use-compress-program={GZIP6}",
            "-cf",
            str(output),
            "--null",
            "-T",
            str(ctx.tree.targets_file),
        ],
        cwd=ctx.tree.pristine,
        stdout=ctx.out("tar.stdout"),
        prepare=lambda: remove(output),
        check=_check_nonempty(output),
    )
    return RowSpec(
        name="archive-tar",
        description=f"archive of {len(ctx.tree.targets)} reports as tar.gz (gzip level 6)",
        project=_archive_side(ctx, "tar"),
        baselines=[Baseline(baseline, _ratio(1.5, "<= 1.5x tar -czf"))],
        notes=[
            "the project writes one .tar.gz per report (the contract's layout), each under a "
            "temporary name, fsynced, hashed and renamed; tar writes one archive of them all"
        ],
    )


def archive_zip_row(ctx: RowContext) -> RowSpec:
    zip_tool = ctx.tools.system("zip")
    if zip_tool is None:
        raise Skip(ctx.tools.missing["zip"])
    output = ctx.out("baseline.zip")
    q = shlex.quote
    script = (
        f"tr '\\0' '\\n' < {q(str(ctx.tree.targets_file))} | "
        f"{q(zip_tool)} -q -r -6 -y {q(str(output))} -@"
    )
    baseline = Side(
        name="zip -r -6",
        argv=_sh(script),
        cwd=ctx.tree.pristine,
        stdout=ctx.out("zip.stdout"),
        prepare=lambda: remove(output),
        check=_check_nonempty(output),
    )
    return RowSpec(
        name="archive-zip",
        description=f"archive of {len(ctx.tree.targets)} reports as zip (deflate level 6)",
        project=_archive_side(ctx, "zip"),
        baselines=[Baseline(baseline, _ratio(1.5, "<= 1.5x zip -r -6"))],
        notes=["the project writes one .zip per report; zip writes one archive (-y: links kept)"],
    )


def backup_row(ctx: RowContext) -> RowSpec:
    tar = ctx.tools.system("tar")
    if tar is None or ctx.tools.system("sha256sum") is None:
        raise Skip(ctx.tools.missing.get("tar") or ctx.tools.missing["sha256sum"])
    store = ctx.out("backup-store")
    project = Side(
        name="bot_core.audit backup (tar.gz)",
        argv=[
            PY,
            "-m",
            "bot_core.audit",
            "backup",
            "--url",
            str(store),
            "--source-root",
            str(ctx.tree.pristine),
            *SELECTED_CATEGORIES,
        ],
        cwd=ctx.tree.workdir,
        stdout=ctx.out("backup.json"),
        env=clean_env(),
        prepare=lambda: remove(store),
        check=_check_nonempty(ctx.out("backup.json")),
    )
    output = ctx.out("baseline-backup.tar.gz")
    q = shlex.quote
    script = (
        f"{q(tar)} --use-compress-program={q(GZIP6)} -cf {q(str(output))} "
        f"{' '.join(SELECTED_CATEGORIES)} && sha256sum {q(str(output))}"
    )
    baseline = Side(
        name="tar -czf + sha256sum",
        argv=_sh(script),
        cwd=ctx.tree.pristine,
        stdout=ctx.out("baseline-backup.stdout"),
        prepare=lambda: remove(output),
        check=_check_nonempty(output),
    )
    return RowSpec(
        name="backup",
        description=f"verified backup of {'+'.join(SELECTED_CATEGORIES)} (write + sha256 verify)",
        project=project,
        baselines=[Baseline(baseline, _ratio(1.5, "<= 1.5x tar -czf + sha256sum"))],
        notes=[
            "the project's verify re-reads the archive, decompresses it and hashes every member "
            "against the manifest; the baseline only hashes the archive file"
        ],
    )


def flow_purge_row(ctx: RowContext) -> RowSpec:
    audit = ctx.out("flow-audit")
    stdout = ctx.out("flow-purge.json")
    prefect_home = ctx.tree.workdir / "prefect-home"

    def prepare() -> None:
        restore_copy(ctx.tree)
        remove(audit)

    startups: list[float] = []

    def check(sample: Sample) -> None:
        text = stdout.read_text(encoding="utf-8")
        if '"outcome":"completed"' not in text.replace(" ", ""):
            raise BenchmarkError(f"flow purge did not complete: {text[:300]}")
        phases = prefect_phases(stdout.with_name(stdout.name + ".stderr"))
        if phases is not None:
            startups.append(phases[0])
            project.notes[:] = [
                f"last run: {sample.wall_seconds:.1f} s = temporary Prefect server start "
                f"{phases[0]:.1f} s + flow body {phases[1]:.1f} s + until the server stop "
                f"message {phases[2]:.1f} s + the rest (Python start-up, imports, shutdown) "
                f"{sample.wall_seconds - sum(phases):.1f} s",
                "temporary server start per run (s): "
                + ", ".join(f"{value:.1f}" for value in startups),
            ]

    project = Side(
        name="flows run purge --approve-as",
        argv=[
            PY,
            "-m",
            "flows",
            "run",
            "purge",
            "--base-dir",
            str(ctx.tree.copy),
            *_category_args(),
            "--signal-quality-dir",
            str(ctx.tree.missing_signal_quality),
            "--requester",
            "bench-requester",
            "--approve-as",
            "bench",
            "--audit-url",
            str(audit),
            "--operations-log",
            str(ctx.out("flow-operations.md")),
        ],
        cwd=ctx.tree.workdir,
        stdout=stdout,
        env=clean_env(PREFECT_HOME=str(prefect_home)),
        prepare=prepare,
        check=check,
    )
    return RowSpec(
        name="flow-purge",
        description=f"purge flow (approved inline) of {len(ctx.tree.targets)} reports",
        project=project,
        baselines=[Baseline(_cli_purge_side(ctx, "flow-cli-purge"), _ratio(1.3, "<= 1.3x CLI"))],
        notes=[
            "the flow adds: a temporary Prefect server (PREFECT_API_URL unset, PREFECT_HOME in "
            "the work dir), the overview, six audit records, and a verified tar.gz backup of "
            "every target before deleting"
        ],
    )


_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) \| ")


def _seconds(line: str) -> float | None:
    match = _STAMP.match(line)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def prefect_phases(stderr: Path) -> tuple[float, float, float] | None:
    """(server start, flow body, server stop) in seconds, from Prefect's log timestamps.

    Why from the log: the temporary server is started inside the flows CLI process, so its
    cost can only be separated by the moments Prefect logs "Starting temporary server",
    "Beginning flow run", the flow's "Finished in state" and "Stopping temporary server".
    """
    marks: dict[str, float] = {}
    for line in stderr.read_text(encoding="utf-8", errors="replace").splitlines():
        moment = _seconds(line)
        if moment is None:
            continue
        if "Starting temporary server" in line:
            marks.setdefault("start", moment)
        elif "Beginning flow run" in line:
            marks.setdefault("begin", moment)
        elif "Flow run" in line and "Finished in state" in line:
            marks["end"] = moment
        elif "Stopping temporary server" in line:
            marks["stop"] = moment
    if len(marks) < 4:
        return None
    day = 86400.0
    start, begin = marks["start"], (marks["begin"] - marks["start"]) % day
    body = (marks["end"] - marks["begin"]) % day
    stop = (marks["stop"] - marks["end"]) % day
    del start
    return begin, body, stop


ROW_NAMES = (
    "overview",
    "overview-rss",
    "purge",
    "archive-tar",
    "archive-zip",
    "backup",
    "s3-upload",
    "flow-purge",
)

_BUILDERS: dict[str, Callable[[RowContext], RowSpec]] = {
    "overview": overview_row,
    "purge": purge_row,
    "archive-tar": archive_tar_row,
    "archive-zip": archive_zip_row,
    "backup": backup_row,
    "flow-purge": flow_purge_row,
}


def build_row(name: str, ctx: RowContext) -> RowSpec:
    """The spec of row ``name`` (``s3-upload`` lives in :mod:`benchmarks._upload`)."""
    if name == "s3-upload":
        from benchmarks._upload import upload_row

        return upload_row(ctx)
    return _BUILDERS[name](ctx)
