"""``python -m bot_core.metrics``: the trading bot's batch jobs record their events here.

Each sub-command turns its options into the library's keyword names (``--guardrail-state``
-> ``guardrail_state=``), makes one library call and prints the resulting document as JSON;
``bot_core._cli.run_cli`` turns errors into one line on stderr and an exit status.

Exit status: 0 pushed (or a share was read); 1 the Pushgateway or Prometheus failed (for
``guardrail-share`` the document still says why); 2 invalid input, including no
Pushgateway/Prometheus configured.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import get_args

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core.errors import MetricsConfigError
from bot_core.metrics._auto_trader import (
    record_guardrail_block,
    record_model_change,
    record_retraining,
)
from bot_core.metrics._names import (
    ModelChangeGuardrailState,
    ModelChangeSource,
    RetrainingGuardrailState,
)
from bot_core.metrics._pushgateway import PushReceipt
from bot_core.metrics._settings import MetricsSettings, load_metrics_settings
from bot_core.metrics._share import DEFAULT_WINDOW, guardrail_share, window_seconds

__all__ = ["build_parser", "main"]


def _push_settings(args: argparse.Namespace) -> MetricsSettings:
    settings = load_metrics_settings(pushgateway_url=args.pushgateway)
    if settings.pushgateway_url is None:
        raise MetricsConfigError(
            "no Pushgateway configured: set BOT_CORE_PUSHGATEWAY_URL or pass --pushgateway URL"
        )
    return settings


def _pushed(receipt: PushReceipt | None) -> CliOutput:
    if receipt is None:  # pragma: no cover - _push_settings guarantees a Pushgateway
        raise MetricsConfigError("no Pushgateway configured")
    return CliOutput(receipt)


def _record_model_change(args: argparse.Namespace) -> CliOutput:
    return _pushed(
        record_model_change(
            model=args.model,
            source=args.source,
            fallback=args.fallback,
            guardrail_state=args.guardrail_state,
            settings=_push_settings(args),
        )
    )


def _record_retraining(args: argparse.Namespace) -> CliOutput:
    return _pushed(
        record_retraining(
            model=args.model,
            source=args.source,
            guardrail_state=args.guardrail_state,
            settings=_push_settings(args),
        )
    )


def _record_guardrail_block(args: argparse.Namespace) -> CliOutput:
    return _pushed(record_guardrail_block(guardrail=args.guardrail, settings=_push_settings(args)))


def _guardrail_share(args: argparse.Namespace) -> CliOutput:
    settings = load_metrics_settings(prometheus_url=args.prometheus)
    if settings.prometheus_url is None:
        raise MetricsConfigError(
            "no Prometheus configured: set BOT_CORE_PROMETHEUS_URL or pass --prometheus URL"
        )
    share = guardrail_share(settings, model=args.model, window=args.window)
    return CliOutput(share, exit_code=1 if share.status == "unavailable" else 0)


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text.strip()


def _window(text: str) -> str:
    try:
        window_seconds(text)
    except MetricsConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _add_pushgateway(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pushgateway",
        metavar="URL",
        help="Pushgateway URL (default: BOT_CORE_PUSHGATEWAY_URL; one of them is required)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m bot_core.metrics`` parser (each sub-command has help text)."""
    parser = OneLineArgumentParser(
        prog="python -m bot_core.metrics",
        description="Record the trading bot's model, retraining and guardrail events on the "
        "Pushgateway, and read the stage7 guardrail share (JSON on stdout).",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )

    change = commands.add_parser(
        "record-model-change",
        help="count one model change (auto_trader_model_changes_total)",
        description="Count one model change of --model; with an active guardrail also "
        "auto_trader_model_change_guardrail_blocks_total.",
    )
    change.add_argument("--model", required=True, type=_name, metavar="M", help="model name")
    change.add_argument(
        "--source",
        required=True,
        choices=get_args(ModelChangeSource),
        help="who changed the model: manual or auto",
    )
    change.add_argument(
        "--fallback", action="store_true", help="the change was a fallback (label fallback=1)"
    )
    change.add_argument(
        "--guardrail-state",
        choices=get_args(ModelChangeGuardrailState),
        default="none",
        help="risk guardrail at the time of the change (default: none)",
    )
    _add_pushgateway(change)
    change.set_defaults(handler=_record_model_change)

    retraining = commands.add_parser(
        "record-retraining",
        help="count one retraining cycle (auto_trader_retraining_cycles_total)",
        description="Count one retraining cycle of --model; when a guardrail or the kill "
        "switch blocked it, also auto_trader_retraining_guardrail_blocks_total.",
    )
    retraining.add_argument("--model", required=True, type=_name, metavar="M", help="model name")
    retraining.add_argument(
        "--source", required=True, type=_name, metavar="S", help="what started the cycle"
    )
    retraining.add_argument(
        "--guardrail-state",
        choices=get_args(RetrainingGuardrailState),
        default="none",
        help="what blocked the cycle, if anything (default: none)",
    )
    _add_pushgateway(retraining)
    retraining.set_defaults(handler=_record_retraining)

    block = commands.add_parser(
        "record-guardrail-block",
        help="count one guardrail block (auto_trader_guardrail_blocks_total)",
        description="Count one trading action blocked by risk guardrail --guardrail.",
    )
    block.add_argument(
        "--guardrail", required=True, type=_name, metavar="NAME", help="guardrail name"
    )
    _add_pushgateway(block)
    block.set_defaults(handler=_record_guardrail_block)

    share = commands.add_parser(
        "guardrail-share",
        help="read the stage7 guardrail share from Prometheus",
        description="The share of model changes made under an active guardrail (the stage7 "
        "panel's query), with the 30 %% review threshold.",
    )
    share.add_argument("--model", type=_name, metavar="M", help="model name (default: every model)")
    share.add_argument(
        "--window",
        type=_window,
        default=DEFAULT_WINDOW,
        help=f"PromQL range (default: {DEFAULT_WINDOW})",
    )
    share.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus URL (default: BOT_CORE_PROMETHEUS_URL; one of them is required)",
    )
    share.set_defaults(handler=_guardrail_share)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_cli(build_parser(), argv)
