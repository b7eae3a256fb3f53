"""The generated sections of the operator docs: flow and audit schemas, and the CLI options.

``python -m flows._docs`` (run from the repository root) rewrites two sections in place:

* the JSON Schemas section of ``docs/schemas.md`` (:data:`SECTION`): every audit record the
  flows write, the flows' parameters and run inputs, the outputs of ``python -m flows`` and
  of ``python -m bot_core.audit``, generated from the pydantic models, with the same
  :class:`~bot_core._schema_docs.SchemaSection` mechanism as the packages' own docs;
* the option tables of ``docs/configuration.md`` (:data:`CLI_SECTION`), generated from the
  ``argparse`` parsers of every command line.

``tests/test_docs.py`` fails when either committed section differs from what this module
generates (as ``cog --check`` does for sqlite-utils' CLI reference).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot_core._schema_docs import SchemaSection
from bot_core.audit import AuditRecord, BackupManifest, RestoreResult
from bot_core.audit._cli import BackupReport, ListReport, VerifyReport
from bot_core.audit._cli import build_parser as audit_parser
from bot_core.audit._spool import FlushResult
from bot_core.demo.__main__ import build_parser as demo_parser
from bot_core.exchanges._cli import build_parser as exchanges_parser
from bot_core.reporting.ui_bridge import build_parser as reporting_parser
from bot_core.runtime.ui_bridge import build_parser as runtime_parser
from flows._approval import Approval, ApprovalPolicy, ApprovalRecord, Caps, PlanSummary
from flows._cli import build_parser as flows_parser
from flows._client import PendingRuns, ResumeResult
from flows.archive import (
    ArchiveBackupRecord,
    ArchivePlanRecord,
    ArchiveReport,
    SourceRemovalRecord,
)
from flows.promote import PromotePlanRecord, PromotionReport, RegistryBackupRecord
from flows.purge import BackupRecord, OverviewRecord, PlanRecord, PurgeReport
from flows.restore import RestoreBackupRecord, RestoreOverviewRecord, RestorePlan, RestoreReport
from scripts.audit.champion_diff import build_parser as champion_diff_parser
from tasks import ArchiveVerification

__all__ = ["CLI_SECTION", "COMMAND_LINES", "SECTION", "CliSection", "main"]

_RUN = "`maintenance/<flow>/YYYY/MM/DD/<run-id>/`"

SECTION = SchemaSection(
    module="flows._docs",
    title="bot_core flow and audit documents",
    documents=(
        (f"purge and archive: `01-overview.json` in {_RUN}", OverviewRecord),
        ("purge: `02-dry-run.json`", PlanRecord),
        ("every flow: `03-approval.json`", ApprovalRecord),
        ("purge: `04-backup.json`", BackupRecord),
        (
            "purge: the final `report` record, and stdout of `python -m flows run purge`",
            PurgeReport,
        ),
        ("archive: `02-dry-run.json`", ArchivePlanRecord),
        ("archive: `04-backup.json` (archives that `overwrite` replaces)", ArchiveBackupRecord),
        ("archive: `06-verification.json`", ArchiveVerification),
        ("archive: `07-source-removal.json` (only with `delete_after`)", SourceRemovalRecord),
        (
            "archive: the final `report` record, and stdout of `python -m flows run archive`",
            ArchiveReport,
        ),
        ("promote: `02-dry-run.json`", PromotePlanRecord),
        ("promote: `04-backup.json` (the registry files)", RegistryBackupRecord),
        (
            "promote: the final `report` record, and stdout of `python -m flows run promote`",
            PromotionReport,
        ),
        ("restore: `01-overview.json` (the backup's manifest summary)", RestoreOverviewRecord),
        ("restore: `02-dry-run.json`", RestorePlan),
        ("restore: `04-backup.json` (target files the restore replaces)", RestoreBackupRecord),
        (
            "restore: the final `report` record, and stdout of `python -m flows run restore`",
            RestoreReport,
        ),
        ("flow run input `bot-core-plan` of a paused run; `plan` of a pending run", PlanSummary),
        ("the approval form (run input of the pause); body of `approve`/`reject`", Approval),
        ("flow parameter `policy`", ApprovalPolicy),
        ("flow parameter `caps` (purge, archive)", Caps),
        ("stdout of `python -m flows pending`", PendingRuns),
        ("stdout of `python -m flows approve` / `reject`", ResumeResult),
        ("the envelope of every audit record (`NN-<step>.json`)", AuditRecord),
        ("`backups/<backup-id>/manifest.json`", BackupManifest),
        ("stdout of `python -m bot_core.audit verify`", VerifyReport),
        ("stdout of `python -m bot_core.audit list`", ListReport),
        (
            "stdout of `python -m bot_core.audit restore`; the restore flow's execution",
            RestoreResult,
        ),
        ("stdout of `python -m bot_core.audit backup`", BackupReport),
        ("stdout of `python -m bot_core.audit flush`", FlushResult),
    ),
    path="docs/schemas.md",
)

COMMAND_LINES: tuple[tuple[str, Callable[[], argparse.ArgumentParser]], ...] = (
    ("python -m bot_core.reporting.ui_bridge", reporting_parser),
    ("python -m flows", flows_parser),
    ("python -m bot_core.audit", audit_parser),
    ("python -m scripts.audit.champion_diff", champion_diff_parser),
    ("python -m bot_core.runtime.ui_bridge", runtime_parser),
    ("python -m bot_core.exchanges", exchanges_parser),
    ("python -m bot_core.demo", demo_parser),
)
"""Every command line an operator runs, in the order the configuration reference lists them."""


_REPO = Path(__file__).resolve().parents[1]

_FALLBACK_HELP: dict[str, str] = {
    "--allow-self-approval": "let the requester approve their own run (recorded as self_approval)",
    "--operations-log": "file the report step appends one line to",
    "--concurrency-limit": "Prefect global concurrency limit held around backup and execution "
    "(created with limit 1 when missing)",
    "--no-concurrency-limit": "hold no concurrency limit (a one-off local run)",
    "--base-dir": "directory holding the reports",
    "--signal-quality-dir": "signal-quality report directory",
    "--signal-quality-retention-days": "keep signal-quality files this many days "
    "(<= 0 disables, then only --until applies)",
    "--max-targets": "cap: most targets one run acts on (over it, approval needs an override)",
    "--max-bytes": "cap: most bytes one run removes (over it, approval needs an override)",
    "--model": "model name",
    "--version": "version of the challenger to promote",
    "--reason": "why; kept in the audit records",
    "--quality-dir": "registry directory",
    "--approver": "who decides (must differ from the requester unless self-approval is allowed)",
    "--prefect-file": "the deployments file to serve",
    "backup_id": "the backup to restore (ids: `python -m bot_core.audit list --kind backups`)",
    "run_id": "the paused flow run (ids: `python -m flows pending`)",
    "paths": "paths to back up, relative to --source-root",
}
"""Meanings for options whose parser gives no help text (used only when ``help`` is empty)."""


def _relative(text: str) -> str:
    """A default inside the checkout, shown relative to it (the docs do not name one machine)."""
    root = f"{_REPO}/"
    return text[len(root) :] if text.startswith(root) else text


def _commands(
    prog: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """``(command, parser, help)`` of every leaf command, depth first, in declaration order."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield prog, parser, parser.description
        return
    helps = {choice.dest: choice.help for choice in subparsers[0]._choices_actions}
    for name, child in subparsers[0].choices.items():
        for command, leaf, text in _commands(f"{prog} {name}", child):
            yield command, leaf, text if leaf is not child else helps.get(name) or text


def _cell(text: str) -> str:
    """One table cell: one line, ``|`` escaped, ``<...>`` outside code spans kept visible."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _option_row(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if action.option_strings:
        name = ", ".join(f"`{option}`" for option in action.option_strings)
        if action.nargs != 0 and action.metavar:
            name += f" `{action.metavar}`"
    else:
        name = f"`{action.metavar or action.dest}`"
        if action.nargs in ("+", "*"):
            name += " ..."
    if action.required or (not action.option_strings and action.nargs not in ("?", "*")):
        default = "*required*"
    elif action.nargs == 0:
        default = "off"
    elif action.default is None:
        default = "—"
    else:
        default = f"`{_relative(str(action.default))}`"
    meaning = _FALLBACK_HELP.get(
        action.option_strings[0] if action.option_strings else action.dest, ""
    )
    if action.help and action.help != argparse.SUPPRESS:
        meaning = parser._get_formatter()._expand_help(action)
    if action.choices is not None:
        meaning = f"one of {', '.join(f'`{c}`' for c in action.choices)}" + (
            f"; {meaning}" if meaning else ""
        )
    if isinstance(action, argparse._AppendAction):
        meaning += " (repeatable)" if "repeatable" not in meaning else ""
    return f"| {name} | {default} | {_cell(meaning)} |"


def render_command_line(prog: str, parser: argparse.ArgumentParser) -> list[str]:
    """The Markdown of one command line: a heading and a table per sub-command."""
    lines = [f"### `{prog}`", ""]
    for command, leaf, text in _commands(prog, parser):
        if command != prog:
            lines += [f"#### `{command}`", ""]
        if text:
            lines += [_cell(text.strip().splitlines()[0]), ""]
        lines += ["| Option | Default | Meaning |", "| --- | --- | --- |"]
        lines += [
            _option_row(leaf, action)
            for action in leaf._actions
            if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        ]
        lines.append("")
    return lines


@dataclass(frozen=True)
class CliSection:
    """The generated option tables of ``docs/configuration.md``."""

    module: str
    path: str
    command_lines: tuple[tuple[str, Callable[[], argparse.ArgumentParser]], ...]

    @property
    def begin_marker(self) -> str:
        return f"<!-- BEGIN GENERATED CLI OPTIONS: python -m {self.module} -->"

    @property
    def end_marker(self) -> str:
        return "<!-- END GENERATED CLI OPTIONS -->"

    def render(self) -> str:
        lines = [self.begin_marker, ""]
        for prog, build in self.command_lines:
            lines += render_command_line(prog, build())
        lines.append(self.end_marker)
        return "\n".join(lines)

    def update(self, text: str) -> str:
        """``text`` with the section between the markers replaced by :meth:`render`."""
        start = text.index(self.begin_marker)
        end = text.index(self.end_marker) + len(self.end_marker)
        return text[:start] + self.render() + text[end:]


CLI_SECTION = CliSection(
    module="flows._docs", path="docs/configuration.md", command_lines=COMMAND_LINES
)


def main() -> int:
    """Rewrite both generated sections in place (run from the repository root)."""
    SECTION.main()
    path = Path(CLI_SECTION.path)
    path.write_text(CLI_SECTION.update(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
