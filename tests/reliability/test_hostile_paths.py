"""Hostile paths (property-based): whatever the tree and the request, nothing outside the base
changes and no archive carries a byte from outside it.

Hypothesis builds a report base with unicode, non-UTF-8 and 255-byte names, symlinks to
files and directories outside the base, to a sibling whose name extends the base's, loops
and self-links, then runs one operation on it: ``delete`` of a hostile path (``..``, absolute,
through a symlink), a full ``purge``, an ``archive`` in each format, or a purge whose target
(or its category) is swapped for a symlink to the outside between planning and execution.
The figure is the number of paths outside the base that changed, which must stay 0.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_core.errors import BotCoreError
from bot_core.reporting import (
    Filters,
    execute_archive,
    execute_purge,
    plan_archive,
    plan_purge,
    scan_reports,
)
from bot_core.reporting import delete as delete_path
from tests.reliability._figures import record, scaled
from tests.reliability._world import SECRET, World, build_world, snapshot, touched

CASES = scaled(reduced=400, long=10_000)
NOW = datetime(2024, 6, 1, tzinfo=UTC)

_FORBIDDEN = {b"", b".", b".."}


def _clean(name: bytes) -> bool:
    return name not in _FORBIDDEN and b"/" not in name and b"\0" not in name and len(name) <= 255


ascii_names = st.from_regex(rb"[a-z0-9_-]{1,12}", fullmatch=True)
unicode_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
    min_size=1,
    max_size=10,
).map(lambda text: text.encode("utf-8"))
non_utf8_names = st.binary(min_size=0, max_size=6).map(lambda raw: raw + b"\xff\xfe")
long_names = st.integers(min_value=200, max_value=255).map(lambda n: b"L" * n)
names = st.one_of(ascii_names, ascii_names, unicode_names, non_utf8_names, long_names).filter(
    _clean
)
categories = st.one_of(st.sampled_from([b"daily", b"smoke", b"emergency"]), names)
reports = st.lists(
    st.tuples(categories, names, st.integers(min_value=0, max_value=900)), min_size=1, max_size=6
)

LINK_TARGETS = [
    "{root}/outside",
    "{root}/outside/secret.txt",
    "{root}/outside/dir",
    "{root}/base2",
    "{root}/neighbour.txt",
    "../../outside",
    "../../../outside/dir",
    "../outside/secret.txt",
    "../../base2/daily",
    "..",
    ".",
    "{self}",
    "loop-partner",
    "/",
]


@st.composite
def links(draw: st.DrawFn) -> list[tuple[bytes, str]]:
    chosen: list[tuple[bytes, str]] = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        where = draw(
            st.one_of(
                names.map(lambda n: n),
                st.tuples(categories, names).map(lambda pair: b"/".join(pair)),
                st.tuples(categories, names, names).map(lambda parts: b"/".join(parts)),
            )
        )
        chosen.append((where, draw(st.sampled_from(LINK_TARGETS))))
    return chosen


OPERATIONS = [
    "delete",
    "purge",
    "archive-directory",
    "archive-zip",
    "archive-tar",
    "swap-target",
    "swap-category",
]

HOSTILE_DELETES = [
    "{report}",
    "{link}",
    "{link}/secret.txt",
    "{link}/dir",
    "{report}/../../../outside",
    "../outside",
    "../outside/secret.txt",
    "{root}/outside",
    "{root}/outside/secret.txt",
    "{root}/base2/daily",
    "{root}/neighbour.txt",
    "{root}/base/../outside",
    "..",
    ".",
    "",
    "/",
    "{report}/exports",
    "{report}/summary.json",
    "{category}/..",
    "{category}/../..",
]


def _make(root: Path, drawn_reports: list[tuple[bytes, bytes, int]], drawn_links: list) -> World:
    resolved = []
    for where, target in drawn_links:
        text = target.format(root=root, self=os.path.basename(os.fsdecode(where)))
        resolved.append((where, os.fsencode(text)))
    return build_world(root, drawn_reports, resolved)


def _archive_leaks(world: World) -> int:
    """How many archived regular files carry the outside's secret (0 unless a link was
    followed).  A symlink is archived as a symlink (as GNU tar and ``zip -y`` do): its
    target's content is never read, so a link member is not a leak."""
    leaks = 0
    for directory, _, files in os.walk(world.dest):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue
            if name.endswith(".zip") and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    leaks += sum(
                        1
                        for info in archive.infolist()
                        if not info.is_dir() and SECRET in archive.read(info)
                    )
            elif name.endswith((".tar.gz", ".tgz")):
                with tarfile.open(path) as archive:
                    for member in archive.getmembers():
                        if member.isfile():
                            handle = archive.extractfile(member)
                            if handle is not None and SECRET in handle.read():
                                leaks += 1
            else:
                with open(path, "rb") as handle:
                    leaks += SECRET in handle.read()
    return leaks


def _operate(world: World, operation: str, delete_request: str) -> None:
    base = str(world.base)
    if operation == "delete":
        delete_path(delete_request, base_dir=base, dry_run=False, now=NOW)
        return
    if operation.startswith("archive-"):
        plan = plan_archive(
            scan_reports(base),
            Filters(),
            now=NOW,
            destination=str(world.dest),
            archive_format=operation.removeprefix("archive-"),  # type: ignore[arg-type]
            overwrite=False,
        )
        execute_archive(plan, dry_run=False, durable=False)
        return
    plan = plan_purge(
        scan_reports(base),
        Filters(),
        now=NOW,
        signal_quality_dir=str(world.root / "no-signal-quality"),
        signal_quality_retention_days=30,
    )
    if operation.startswith("swap-") and plan.targets:
        target = plan.targets[0].fs_path
        if operation == "swap-category" and os.sep in target.strip(os.sep):
            target = target.split(os.sep)[0]
        victim = os.path.join(os.fsencode(base), os.fsencode(target))
        if os.path.lexists(victim):
            os.rename(victim, os.path.join(os.fsencode(world.parked), b"swapped"))
            os.symlink(os.fsencode(world.outside / "dir"), victim)
    execute_purge(plan, dry_run=False)


def _delete_request(template: str, world: World, pick: int) -> str:
    report = world.report_paths[pick % len(world.report_paths)]
    link = world.link_paths[pick % len(world.link_paths)] if world.link_paths else report
    return template.format(
        root=world.root, report=report, link=link, category=report.split("/", 1)[0]
    )


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_nothing_outside_the_base_is_ever_touched() -> None:
    """Why the filter: Prefect's background threads (the session API, when earlier tests
    started it) use the global ``random`` module while hypothesis generates data, which it
    reports as a deprecation; our strategies never use ``random``."""
    counts = {"cases": 0, "touched": 0, "leaked": 0, "failures": 0, "refused": 0}
    failures: list[str] = []

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        drawn_reports=reports,
        drawn_links=links(),
        operation=st.sampled_from(OPERATIONS),
        delete_template=st.sampled_from(HOSTILE_DELETES),
        pick=st.integers(min_value=0, max_value=50),
    )
    def case(
        drawn_reports: list[tuple[bytes, bytes, int]],
        drawn_links: list[tuple[bytes, str]],
        operation: str,
        delete_template: str,
        pick: int,
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="hostile-") as scratch:
            world = _make(Path(scratch), drawn_reports, drawn_links)
            before = snapshot(world)
            request = _delete_request(delete_template, world, pick)
            try:
                _operate(world, operation, request)
            except BotCoreError:
                counts["refused"] += 1
            except Exception as exc:  # anything else is a defect: no clear error
                counts["failures"] += 1
                failures.append(f"{operation} {request!r}: {type(exc).__name__}: {exc}")
            changed = touched(before, snapshot(world))
            leaked = _archive_leaks(world)
            counts["cases"] += 1
            counts["touched"] += changed
            counts["leaked"] += leaked
            shutil.rmtree(scratch, ignore_errors=True)
            assert changed == 0, f"{operation} {request!r} changed {changed} paths outside"
            assert leaked == 0, f"{operation} archived {leaked} files from outside the base"

    try:
        case()
    finally:
        record(
            "hostile paths",
            "nothing outside the base is touched (hypothesis)",
            cases=counts["cases"],
            failures=counts["failures"] + (counts["touched"] > 0) + (counts["leaked"] > 0),
            data_lost=counts["touched"],
            detail=f"outside paths touched {counts['touched']}, leaked into archives "
            f"{counts['leaked']}, clean refusals {counts['refused']}",
        )
    assert not failures, failures[:5]
