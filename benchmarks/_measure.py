"""Timing one command as a child process, and running two or more sides alternately.

Peak RSS: ``ru_maxrss`` of a waited-for child is the peak RSS of that child *and* of every
descendant it waited for (Linux keeps the maximum, not the sum), so a shell pipeline and a
Python CLI are measured the same way.  But Linux also carries the high-water mark of the
memory image a process had *before* ``exec`` into ``ru_maxrss``, and a child forked (or
vforked) from this harness starts with the harness's ~40 MiB image: ``os.wait4`` on our own
child would report at least that for ``rm`` or ``tar``.  So when ``/usr/bin/time`` exists the
command runs under ``/usr/bin/time -f %M`` (GNU time forks the command from its own ~2 MiB
image and reports its ``wait4`` figure); otherwise our ``wait4`` figure is used and the
sample says it is an upper bound.  Wall time is always the harness's own clock around the
whole child (GNU time adds about a millisecond).

Why alternate: the machine is shared, and noise that lasts minutes would otherwise land on
one side only.  Each side first gets one untimed warm-up run (caches cannot be dropped
without root, so both sides start equally warm); then the timed runs go A, B, B, A, A, B ...
so a slow drift hits both sides evenly.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._models import Sample, SideStats

__all__ = [
    "GNU_TIME",
    "BenchmarkError",
    "Side",
    "measure",
    "run_alternating",
    "side_stats",
    "stderr_log",
]

GNU_TIME = "/usr/bin/time"


class BenchmarkError(RuntimeError):
    """A command failed: the row cannot be measured (its stderr tail is in the message)."""


@dataclass
class Side:
    """One command to compare, and what must happen (untimed) before each of its runs.

    ``prepare`` restores the data the command destroys or removes its previous output;
    ``check`` looks at the finished run (e.g. the JSON it printed) and raises
    :class:`BenchmarkError` when the run did not do the work.
    """

    name: str
    argv: Sequence[str]
    cwd: Path
    stdout: Path
    env: Mapping[str, str] | None = None
    prepare: Callable[[], None] | None = None
    check: Callable[[Sample], None] | None = None
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def measure(side: Side) -> Sample:
    """Run ``side`` once (after its untimed ``prepare``); return its wall time and peak RSS."""
    if side.prepare is not None:
        side.prepare()
    stderr_path = side.stdout.with_name(side.stdout.name + ".stderr")
    rss_path = side.stdout.with_name(side.stdout.name + ".maxrss")
    env = dict(os.environ if side.env is None else side.env)
    argv = list(side.argv)
    if os.access(GNU_TIME, os.X_OK):
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_path), "--", *argv]
    with side.stdout.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=side.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    peak = int(usage.ru_maxrss)
    if argv[0] == GNU_TIME:
        peak = _gnu_time_rss(rss_path, fallback=peak)
    sample = Sample(
        wall_seconds=round(wall, 4),
        peak_rss_kib=peak,
        exit_code=process.returncode,
    )
    if sample.exit_code != 0:
        tail = stderr_path.read_bytes()[-2000:].decode("utf-8", "replace")
        raise BenchmarkError(f"{side.name} exited {sample.exit_code}: {side.command}\n{tail}")
    if side.check is not None:
        side.check(sample)
    return sample


def _gnu_time_rss(path: Path, *, fallback: int) -> int:
    """The last line of GNU time's ``-o`` file is ``%M`` (it may be preceded by a
    "Command exited with non-zero status" line)."""
    try:
        lines = path.read_text(encoding="utf-8").split()
        return int(lines[-1])
    except (OSError, ValueError, IndexError):
        return fallback


def _order(count: int, round_index: int) -> list[int]:
    """ABC, CBA, ABC ...: every side runs first as often as last."""
    order = list(range(count))
    return order if round_index % 2 == 0 else order[::-1]


def run_alternating(
    sides: Sequence[Side], *, repeat: int, warmup: int, log: Callable[[str], None]
) -> None:
    """``warmup`` untimed runs of each side, then ``repeat`` timed rounds, alternating."""
    for _ in range(warmup):
        for side in sides:
            log(f"  warm-up {side.name}")
            measure(side)
    for round_index in range(repeat):
        for index in _order(len(sides), round_index):
            side = sides[index]
            sample = measure(side)
            side.samples.append(sample)
            log(
                f"  run {round_index + 1}/{repeat} {side.name}: {sample.wall_seconds:.2f} s, "
                f"{sample.peak_rss_kib / 1024:.0f} MiB"
            )


def side_stats(side: Side) -> SideStats:
    """The medians of a side's timed runs."""
    walls = [sample.wall_seconds for sample in side.samples]
    rss = [sample.peak_rss_kib / 1024 for sample in side.samples]
    return SideStats(
        name=side.name,
        command=side.command,
        samples=list(side.samples),
        median_wall_seconds=round(statistics.median(walls), 4),
        median_peak_rss_mb=round(statistics.median(rss), 1),
        notes=list(side.notes),
    )


def stderr_log(message: str) -> None:
    """Progress for people goes to stderr; stdout carries only the table."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
