"""Registry sub-commands of ``python -m bot_core.reporting.ui_bridge``: champion, promote.

Each handler turns its options into the library's keyword arguments (``--base-dir`` ->
``base_dir=``, ``--dry-run`` -> ``dry_run=``), makes one library call and returns the
document; ``bot_core._cli.run_cli`` prints it and maps errors to exit statuses.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core._cli import CliOutput
from bot_core.errors import BotCoreError
from bot_core.registry._config import DEFAULT_AUDIT_DIR, DEFAULT_QUALITY_DIR
from bot_core.registry._listing import list_champions
from bot_core.registry._promote import promote

if TYPE_CHECKING:
    from bot_core.metrics import ModelChangeGuardrailState

GUARDRAIL_STATES = ("none", "active", "kill_switch")
"""The values of ``bot_core.metrics.ModelChangeGuardrailState``, spelled here so that every
``ui_bridge`` command does not import the metrics package (prometheus-client, settings)
just to build its parser; a test keeps the two equal."""

__all__ = ["add_registry_commands", "current_user"]


def current_user() -> str:
    """The operating-system user running the command: the default ``--approver``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in this environment
        return "unknown"


def _champion(args: argparse.Namespace) -> CliOutput:
    return CliOutput(
        list_champions(args.base_dir, model=args.model, history=args.history),
    )


NO_REASON_GIVEN = "no reason given (promoted with ui_bridge promote without --reason)"
"""Recorded when ``--reason`` is omitted: the contract makes it optional for the Report Center,
and the history must still say that nobody gave a reason.  A blank ``--reason`` is refused."""


def _promote(args: argparse.Namespace) -> CliOutput:
    result = promote(
        args.quality_dir,
        model=args.model,
        version=args.version,
        reason=args.reason if args.reason is not None else NO_REASON_GIVEN,
        approver=args.approver if args.approver is not None else current_user(),
        audit_dir=args.audit_dir,
        expect_champion=args.expect_champion,
        dry_run=args.dry_run,
        now=datetime.now(UTC),
    )
    if result.status == "ok" and not args.dry_run:
        _count_model_change(result.model, args.guardrail_state)
    return CliOutput(result)


def _count_model_change(model: str, guardrail_state: ModelChangeGuardrailState) -> None:
    """Push the promotion to ``auto_trader_model_changes_total`` when a Pushgateway is set.

    The promotion is already committed: a metrics failure is one warning line on stderr and
    changes neither stdout nor the exit status.
    """
    from bot_core.metrics import record_model_change  # only a real promotion needs it

    try:
        record_model_change(model=model, source="manual", guardrail_state=guardrail_state)
    except BotCoreError as exc:
        line = " ".join(str(exc).split())
        sys.stderr.write(f"warning: model change metrics not pushed: {line}\n")
        sys.stderr.flush()


def add_registry_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``champion`` and ``promote`` on the ui_bridge parser."""
    champion = commands.add_parser(
        "champion",
        help="show each model's champion and challengers",
        description=(
            "Show the champion and challengers of each model in the registry. An interrupted "
            "promotion found on the way is completed first."
        ),
    )
    champion.add_argument(
        "--base-dir",
        type=Path,
        default=DEFAULT_QUALITY_DIR,
        help=f"registry directory (default: {DEFAULT_QUALITY_DIR})",
    )
    champion.add_argument(
        "--model",
        action="append",
        metavar="M",
        help="show only this model (repeatable); named models without a champion are "
        "listed in missing_models",
    )
    champion.add_argument(
        "--history",
        action="store_true",
        help="include each model's champion history (history.jsonl)",
    )
    champion.set_defaults(handler=_champion)

    promote_parser = commands.add_parser(
        "promote",
        help="promote a challenger to champion",
        description=(
            "Make the challenger whose report.version is --version the champion; the old "
            "champion becomes the first challenger. champion.json and challengers.json change "
            "together, the history, an audit entry and logs/report_center.log record it."
        ),
    )
    promote_parser.add_argument("--model", required=True, metavar="M", help="model name")
    promote_parser.add_argument(
        "--version", required=True, metavar="V", help="version of the challenger to promote"
    )
    promote_parser.add_argument(
        "--reason",
        metavar="R",
        help="why; recorded in champion.json, history and audit (must not be blank; when "
        "omitted, the record says that no reason was given)",
    )
    promote_parser.add_argument(
        "--quality-dir",
        type=Path,
        default=DEFAULT_QUALITY_DIR,
        help=f"registry directory (default: {DEFAULT_QUALITY_DIR})",
    )
    promote_parser.add_argument(
        "--audit-dir",
        type=Path,
        default=DEFAULT_AUDIT_DIR,
        help=f"audit entries directory (default: {DEFAULT_AUDIT_DIR})",
    )
    promote_parser.add_argument(
        "--expect-champion",
        metavar="V",
        help="refuse unless the current champion is version V (compare-and-swap)",
    )
    promote_parser.add_argument(
        "--approver",
        metavar="WHO",
        help="who approved the promotion, for the history (default: the current user)",
    )
    promote_parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change (old and new champion, metric deltas); write nothing",
    )
    promote_parser.add_argument(
        "--guardrail-state",
        choices=GUARDRAIL_STATES,
        default="none",
        help="risk guardrail at the time of the promotion, for "
        "auto_trader_model_change_guardrail_blocks_total (default: none)",
    )
    promote_parser.set_defaults(handler=_promote)
