"""``python -m bot_core.exchanges``: the failover drill and a local exchange to drill against.

Each sub-command parses its options into the library's keyword names, makes one library
call and prints the resulting document; ``bot_core._cli.run_cli`` turns errors into one line
on stderr and the error class's exit status.

Exit status: 0 success (a drill that passed); 1 a drill that failed, or an operation failed
(a port already in use); 2 invalid input (an unknown exchange, a malformed endpoint).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Literal

from bot_core._cli import CliOutput, OneLineArgumentParser, run_cli
from bot_core._types import Document, UtcDateTime
from bot_core.exchanges._config import (
    DEFAULT_LOG_PATH,
    DEFAULT_METRICS_HOST,
    DEFAULT_SIGNAL_QUALITY_DIR,
    SUPPORTED_EXCHANGES,
    ConnectionSettings,
    MetricsSettings,
    build_settings,
)
from bot_core.exchanges._drill import run_drill
from bot_core.exchanges._fake_server import FakeBinanceServer, FakeServerState

__all__ = ["ServeReport", "build_parser", "main"]


class ServeReport(Document):
    """stdout of ``serve-fake`` once it stops: where it served and what it was asked."""

    endpoint: str
    started_at: UtcDateTime
    stopped_at: UtcDateTime
    stopped_by: Literal["duration", "signal"]
    state: FakeServerState


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def _drill(args: argparse.Namespace) -> CliOutput:
    connection = build_settings(
        ConnectionSettings,
        exchange=args.exchange,
        endpoint=args.endpoint,
        timeout=args.timeout,
        ccxt_rate_limit=False,
    )
    metrics = (
        build_settings(MetricsSettings, host=args.metrics_host, port=args.metrics_port)
        if args.metrics_port is not None
        else None
    )
    report = run_drill(
        connection,
        report_dir=args.report_dir,
        log_path=args.log_file,
        metrics=metrics,
        cooldown_seconds=args.cooldown,
    )
    return CliOutput(report, exit_code=0 if report.status == "passed" else 1)


def _serve_fake(args: argparse.Namespace) -> CliOutput:
    stop = threading.Event()
    stopped_by: Literal["duration", "signal"] = "duration"

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped_by
        stopped_by = "signal"
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_signal) if in_main else None
    started = datetime.now(UTC)
    with FakeBinanceServer(host=args.host, port=args.port) as server:
        sys.stderr.write(f"fake Binance listening on {server.endpoint} (Ctrl-C stops it)\n")
        sys.stderr.flush()
        try:
            stop.wait(args.duration)
        except KeyboardInterrupt:
            stopped_by = "signal"
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
        report = ServeReport(
            endpoint=server.endpoint,
            started_at=started,
            stopped_at=datetime.now(UTC),
            stopped_by=stopped_by,
            state=server.state(),
        )
    return CliOutput(report)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m bot_core.exchanges`` parser (each sub-command has help text)."""
    parser = OneLineArgumentParser(
        prog="python -m bot_core.exchanges",
        description="Exchange failover drill and a local Binance-compatible server (JSON).",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )

    drill = commands.add_parser(
        "drill",
        help="drive a scripted degradation and recovery against an endpoint",
        description=(
            "Drive a scripted degradation and recovery against an exchange endpoint and"
            " print exchange_failover_switch_total before and after."
        ),
    )
    drill.add_argument(
        "--exchange", choices=SUPPORTED_EXCHANGES, default="binance", help="default: binance"
    )
    drill.add_argument(
        "--endpoint", required=True, help="REST base URL, e.g. http://127.0.0.1:8080"
    )
    drill.add_argument(
        "--metrics-port",
        type=_port,
        help="serve /metrics on this port during the drill (0: a free one; default: not served)",
    )
    drill.add_argument(
        "--metrics-host",
        default=DEFAULT_METRICS_HOST,
        help=f"address /metrics binds to (default: {DEFAULT_METRICS_HOST})",
    )
    drill.add_argument(
        "--report-dir",
        default=DEFAULT_SIGNAL_QUALITY_DIR,
        help=f"signal-quality directory (default: {DEFAULT_SIGNAL_QUALITY_DIR})",
    )
    drill.add_argument(
        "--log-file", default=DEFAULT_LOG_PATH, help=f"event log (default: {DEFAULT_LOG_PATH})"
    )
    drill.add_argument(
        "--cooldown",
        type=_seconds,
        default=0.0,
        help="seconds on CCXT before native may return (default: 0)",
    )
    drill.add_argument(
        "--timeout", type=_seconds, default=5.0, help="seconds per request (default: 5)"
    )
    drill.set_defaults(handler=_drill)

    serve = commands.add_parser(
        "serve-fake",
        help="serve a local Binance-compatible exchange to drill against",
        description=(
            "Serve a local Binance-compatible exchange (spot subset, switchable faults) until"
            " interrupted or --duration elapses; print its request counts when it stops."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port (default: 0, a free one)")
    serve.add_argument(
        "--duration", type=_seconds, help="stop after this many seconds (default: run until ^C)"
    )
    serve.set_defaults(handler=_serve_fake)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_cli(build_parser(), argv)
