"""``python -m flows``: run a maintenance flow from a shell, list and decide paused runs,
serve the deployments of ``deploy/prefect.yaml`` (``serve``, see :mod:`flows.serve`).

stdout carries one JSON document (the flow's report, the pending runs, the resume sent);
the run id, the plan summary and Prefect's logs go to stderr.  The API is the one
``PREFECT_API_URL`` names (a temporary one when unset, which only ``--approve-as`` can use).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bot_core._cli import CliOutput, Handler, OneLineArgumentParser, run_cli
from bot_core.reporting import (
    DEFAULT_BASE_DIR,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SIGNAL_QUALITY_DIR,
    filter_options,
    filters_from_args,
)
from flows._approval import ApprovalPolicy, Caps
from flows._client import decide, pending_runs, require_reachable_api
from flows._common import (
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_OPERATIONS_LOG,
    ensure_concurrency_limit,
)
from flows.archive import ArchiveReport, archive
from flows.promote import PromotionReport, promote_champion
from flows.purge import PurgeReport, default_requester, purge
from flows.restore import RestoreReport, restore
from flows.serve import DEFAULT_PREFECT_FILE, serve_deployments

__all__ = ["build_parser", "main"]

_FINE = ("completed", "empty")

FlowReport = PurgeReport | ArchiveReport | RestoreReport | PromotionReport


def _policy(args: argparse.Namespace) -> ApprovalPolicy:
    return ApprovalPolicy(
        requester=args.requester or default_requester(),
        allow_self_approval=args.allow_self_approval,
        approve_as=args.approve_as,
        timeout_seconds=args.timeout,
        poll_interval_seconds=args.poll_interval,
    )


def _limit(args: argparse.Namespace) -> str | None:
    if args.no_concurrency_limit:
        return None
    ensure_concurrency_limit(args.concurrency_limit)
    name: str = args.concurrency_limit
    return name


def _finished(operation: str, report: FlowReport) -> CliOutput:
    """Say how the run ended on stderr; exit 1 unless it ended as planned."""
    sys.stderr.write(f"{operation} {report.flow_run_id}: {report.outcome}: {report.message}\n")
    return CliOutput(report, exit_code=0 if report.outcome in _FINE else 1)


def _run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters every flow takes from the shared options (``_run_options``)."""
    return {
        "policy": _policy(args),
        "audit_url": args.audit_url,
        "operations_log": args.operations_log,
        "concurrency_limit": _limit(args),
    }


def _window_and_caps(args: argparse.Namespace) -> dict[str, Any]:
    """The purge's and archive's age window and caps (``_window_and_cap_options``)."""
    return {
        "older_than_days": args.older_than_days,
        "newer_than_days": args.newer_than_days,
        "caps": Caps(
            max_targets=args.max_targets,
            max_bytes=args.max_bytes,
            keep_newest_per_category=args.keep_newest,
        ),
    }


def _run_purge(args: argparse.Namespace) -> CliOutput:
    report = purge(
        filters=filters_from_args(args),
        base_dir=args.base_dir,
        signal_quality_dir=args.signal_quality_dir,
        signal_quality_retention_days=args.signal_quality_retention_days,
        include_reports=not args.signal_quality_only,
        **_window_and_caps(args),
        **_run_settings(args),
    )
    return _finished("purge", report)


def _run_archive(args: argparse.Namespace) -> CliOutput:
    report = archive(
        filters=filters_from_args(args),
        base_dir=args.base_dir,
        destination=args.destination,
        format=args.format,
        overwrite=args.overwrite,
        delete_after=args.delete_after,
        **_window_and_caps(args),
        **_run_settings(args),
    )
    return _finished("archive", report)


def _run_restore(args: argparse.Namespace) -> CliOutput:
    report = restore(
        backup_id=args.backup_id,
        target=args.target,
        overwrite=args.overwrite,
        **_run_settings(args),
    )
    return _finished("restore", report)


def _run_promote(args: argparse.Namespace) -> CliOutput:
    report = promote_champion(
        model=args.model,
        version=args.version,
        reason=args.reason,
        quality_dir=args.quality_dir,
        guardrail_state=args.guardrail_state,
        prometheus_url=args.prometheus_url,
        **_run_settings(args),
    )
    return _finished("promote", report)


def _pending(args: argparse.Namespace) -> CliOutput:
    del args
    return CliOutput(pending_runs())


def _decide(args: argparse.Namespace) -> CliOutput:
    return CliOutput(
        decide(
            args.run_id,
            decision=args.decision,
            approver=args.approver,
            reason=args.reason,
            overrides=args.override or [],
            plan_sha256=args.plan_sha256,
        )
    )


def _serve(args: argparse.Namespace) -> CliOutput:
    """Serve until stopped; the JSON says what was served and against which API."""
    return CliOutput(
        serve_deployments(
            args.prefect_file,
            names=args.deployment or [],
            limit=args.limit,
            host=args.host,
            port=args.port,
        )
    )


def _serve_command(commands: argparse._SubParsersAction[Any]) -> None:
    """``serve``: the deployments of deploy/prefect.yaml from this process (flows.serve)."""
    command = commands.add_parser(
        "serve",
        help="serve the deployments of deploy/prefect.yaml from this process until stopped",
    )
    command.add_argument("--prefect-file", default=str(DEFAULT_PREFECT_FILE))
    command.add_argument(
        "--deployment", action="append", metavar="NAME", help="serve only this one (repeatable)"
    )
    command.add_argument("--limit", type=int, help="most flow runs at once (default: no limit)")
    command.add_argument(
        "--host", default="127.0.0.1", help="local server address, without PREFECT_API_URL"
    )
    command.add_argument(
        "--port", type=int, default=4200, help="local server port, without PREFECT_API_URL"
    )
    command.set_defaults(handler=_serve)


def _run_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("approval and audit")
    group.add_argument("--requester", help="who asks for the run (default: the OS user)")
    group.add_argument(
        "--approve-as", metavar="NAME", help="approve now as NAME (recorded as such); no pause"
    )
    group.add_argument("--allow-self-approval", action="store_true")
    group.add_argument("--timeout", type=int, default=3600, help="approval timeout, seconds")
    group.add_argument("--poll-interval", type=int, default=10, help="seconds between checks")
    group.add_argument("--audit-url", help="audit store (default: BOT_CORE_AUDIT_URL or audit)")
    group.add_argument("--operations-log", default=DEFAULT_OPERATIONS_LOG)
    group.add_argument("--concurrency-limit", default=DEFAULT_CONCURRENCY_LIMIT)
    group.add_argument("--no-concurrency-limit", action="store_true")
    return options


def _window_and_cap_options(command: argparse.ArgumentParser) -> None:
    """The caps, and the rolling age window (resolved when the run starts)."""
    command.add_argument(
        "--older-than-days", type=int, metavar="N", help="until = N days before the run starts"
    )
    command.add_argument(
        "--newer-than-days", type=int, metavar="N", help="since = N days before the run starts"
    )
    command.add_argument("--max-targets", type=int)
    command.add_argument("--max-bytes", type=int)
    command.add_argument("--keep-newest", type=int, help="keep the newest N per category")


def build_parser() -> OneLineArgumentParser:
    """The ``python -m flows`` parser."""
    parser = OneLineArgumentParser(prog="python -m flows", description=__doc__)
    commands: argparse._SubParsersAction[Any] = parser.add_subparsers(metavar="COMMAND")
    run = commands.add_parser("run", help="run a maintenance flow and wait for it")
    flows: argparse._SubParsersAction[Any] = run.add_subparsers(metavar="FLOW")

    purge_cmd = flows.add_parser(
        "purge", parents=[filter_options(), _run_options()], help="purge reports"
    )
    purge_cmd.add_argument("--base-dir", default=DEFAULT_BASE_DIR)
    purge_cmd.add_argument("--signal-quality-dir", default=DEFAULT_SIGNAL_QUALITY_DIR)
    purge_cmd.add_argument(
        "--signal-quality-retention-days", type=int, default=DEFAULT_RETENTION_DAYS
    )
    purge_cmd.add_argument(
        "--signal-quality-only",
        action="store_true",
        help="apply only the signal-quality retention; delete no report",
    )
    _window_and_cap_options(purge_cmd)
    purge_cmd.set_defaults(handler=_after_api_check(_run_purge))

    archive_cmd = flows.add_parser(
        "archive", parents=[filter_options(), _run_options()], help="archive reports"
    )
    archive_cmd.add_argument("--base-dir", default=DEFAULT_BASE_DIR)
    archive_cmd.add_argument(
        "--destination",
        help="archive directory outside the base (default: <base>_archives), or "
        "s3://bucket/prefix (zip or tar only; no --overwrite)",
    )
    archive_cmd.add_argument("--format", choices=["directory", "zip", "tar"], default="directory")
    archive_cmd.add_argument("--overwrite", action="store_true", help="replace existing archives")
    archive_cmd.add_argument(
        "--delete-after",
        action="store_true",
        help="delete each source once its archive was written and verified",
    )
    _window_and_cap_options(archive_cmd)
    archive_cmd.set_defaults(handler=_after_api_check(_run_archive))

    restore_cmd = flows.add_parser(
        "restore", parents=[_run_options()], help="restore a backup from the backup store"
    )
    restore_cmd.add_argument("backup_id")
    restore_cmd.add_argument("--target", help="directory to restore into (default: its origin)")
    restore_cmd.add_argument(
        "--overwrite", action="store_true", help="also replace files newer than the backup's"
    )
    restore_cmd.set_defaults(handler=_after_api_check(_run_restore))

    promote_cmd = flows.add_parser("promote", parents=[_run_options()], help="promote a model")
    promote_cmd.add_argument("--model", required=True)
    promote_cmd.add_argument("--version", required=True)
    promote_cmd.add_argument("--reason", required=True)
    promote_cmd.add_argument("--quality-dir", default="var/models/quality")
    promote_cmd.add_argument(
        "--guardrail-state",
        choices=("none", "active", "kill_switch"),
        default="none",
        help="risk guardrail state at the time of the change (labels the model-change metrics)",
    )
    promote_cmd.add_argument(
        "--prometheus-url",
        help="where the approval reads the stage7 guardrail share "
        "(default: BOT_CORE_PROMETHEUS_URL)",
    )
    promote_cmd.set_defaults(handler=_after_api_check(_run_promote))

    pending = commands.add_parser("pending", help="paused runs waiting for a decision (JSON)")
    pending.set_defaults(handler=_after_api_check(_pending))

    for decision, verb in (("approve", "approve"), ("reject", "reject")):
        command = commands.add_parser(verb, help=f"{verb} a paused run")
        command.add_argument("run_id")
        command.add_argument("--approver", required=True)
        command.add_argument("--reason", required=True)
        command.add_argument("--plan-sha256", help="the plan you reviewed (default: the run's)")
        command.add_argument(
            "--override",
            action="append",
            choices=["max_targets", "max_bytes", "keep_newest_per_category"],
            help="explicitly override this cap (repeatable)",
        )
        command.set_defaults(handler=_after_api_check(_decide), decision=decision)
    _serve_command(commands)
    return parser


def _after_api_check(handler: Handler) -> Handler:
    """``handler``, run only once the Prefect API answers (see :func:`require_reachable_api`)."""

    def checked(args: argparse.Namespace) -> CliOutput:
        require_reachable_api()
        return handler(args)

    return checked


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    return run_cli(build_parser(), argv)
