"""Facts about the machine the figures come from (read from /proc, no extra tools).

Why in the report: a ratio measured on a 2-core shared VM says little without the CPU, the
filesystem and the load it ran under; the load average is taken at the end of the run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from benchmarks._models import MachineFacts

__all__ = ["machine_facts"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _filesystem(path: Path) -> str:
    """``type device (mount point)`` of the longest mount point containing ``path``."""
    target = os.path.realpath(path)
    best = ("", "unknown", "unknown")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[0]):
                best = (mount, fstype, device)
    except OSError:
        pass
    return f"{best[1]} on {best[2]} (mounted at {best[0] or '?'})"


def source_revision() -> str:
    """``HEAD`` of the project checkout and how many paths differ from it (read-only git).

    Why: other engineers change the code while benchmarks run; a figure is only meaningful
    with the code it measured.
    """
    root = Path(__file__).resolve().parent.parent
    try:
        head = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git checkout)"
    changed = len([line for line in status.splitlines() if line.strip()])
    return f"{head} + {changed} uncommitted paths" if changed else head


def machine_facts(workdir: Path, tool_versions: dict[str, str]) -> MachineFacts:
    """What the report says about the machine."""
    return MachineFacts(
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 0,
        ram_gib=_ram_gib(),
        kernel=f"{platform.system()} {platform.release()}",
        filesystem=_filesystem(workdir),
        python=sys.version.split()[0],
        load_average=[round(value, 2) for value in os.getloadavg()],
        tool_versions=tool_versions,
        source_revision=source_revision(),
    )
