"""Write a realistic report tree: what a few years of a paper/live trading bot leave behind.

Why a generator in the package: the README's demo, the tests and the benchmarks all need the
same kind of tree, with the awkward cases real trees have (missing and invalid summaries,
``exports/`` folders, nested reports, root-level files, zips, a symlink, a file name that is
not UTF-8, signal-quality files of many ages), at sizes from ten reports to 100k.

The output is deterministic for a given ``seed`` and ``now``; mtimes are spread over the
``days`` before ``now``.
"""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot_core._types import Document, UtcDateTime

__all__ = ["EXCHANGES", "DemoTree", "generate_demo_tree"]

EXCHANGES = ("binance", "kraken", "okx", "bybit", "coinbase", "bitstamp", "kucoin", "gateio")
_ASSETS = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "LINK")
_STRATEGIES = ("grid_v2", "momentum", "mean_reversion", "market_making", "breakout")
_HOSTS = ("trader-01", "trader-02", "gateway-01")
_SIGNAL_QUALITY_AGES_DAYS = (1, 5, 14, 29, 31, 60, 120, 365)
_MIX = (
    ("daily", 0.38),
    ("smoke", 0.26),
    ("diagnostics", 0.13),
    ("backtests", 0.16),
    ("strategy_reviews", 0.05),
    ("emergency", 0.02),
)


class DemoTree(Document):
    """What :func:`generate_demo_tree` wrote."""

    base_directory: str
    signal_quality_directory: str | None
    now: UtcDateTime
    seed: int
    report_count: int
    """Every report written, root-level files included."""
    reports_by_category: dict[str, int]
    root_files: int
    file_count: int
    total_bytes: int
    signal_quality_files: int
    registry_directory: str | None
    registry_models: list[str]
    edge_cases: list[str]


@dataclass
class _Writer:
    """Writes files with chosen mtimes and keeps the totals."""

    root: str
    files: int = 0
    size: int = 0

    def file(self, relative: str, data: bytes, mtime: float) -> None:
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        os.utime(path, (mtime, mtime))
        self.files += 1
        self.size += len(data)

    def touch_dirs(self, relative: str, mtime: float) -> None:
        """Give a report's directories the report's time, as a real writer would."""
        path = os.path.join(self.root, relative)
        for directory, _subdirs, _files in os.walk(path):
            os.utime(directory, (mtime, mtime))


def _equity_curve(rng: random.Random, day: datetime) -> list[Any]:
    value = rng.uniform(9_000, 11_000)
    points: list[Any] = []
    for hour in range(0, 24, 2):
        value *= 1 + rng.gauss(0, 0.004)
        stamp = (day + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
        rounded = round(value, 2)
        points.append([stamp, rounded] if hour % 4 else {"timestamp": stamp, "value": rounded})
    return points


def _heatmap(rng: random.Random) -> dict[str, Any] | list[dict[str, Any]]:
    assets = rng.sample(_ASSETS, 4)
    if rng.random() < 0.5:
        return {asset: round(rng.gauss(0, 2), 3) for asset in assets}
    return [{"symbol": asset, "value": round(rng.gauss(0, 2), 3)} for asset in assets]


def _csv(rng: random.Random, header: str, rows: int, day: datetime) -> bytes:
    lines = [header]
    for index in range(rows):
        asset = _ASSETS[index % len(_ASSETS)]
        price = round(rng.uniform(0.1, 60_000), 2)
        stamp = (day + timedelta(seconds=37 * index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        side = "buy" if index % 2 else "sell"
        lines.append(f"{stamp},{asset}/USDT,{side},{round(rng.uniform(0.001, 3), 4)},{price}")
    return ("\n".join(lines) + "\n").encode()


def _zip_bytes(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(name, data)
    return buffer.getvalue()


def _summary(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2).encode()


class _Tree:
    def __init__(self, writer: _Writer, rng: random.Random, now: datetime, days: int) -> None:
        self.w = writer
        self.rng = rng
        self.now = now
        self.days = days
        self.names: Counter[str] = Counter()
        self.large_ratio = 0.002

    def moment(self, index: int, count: int) -> datetime:
        """Spread reports over the period, newest last, with some jitter."""
        fraction = (index + self.rng.random()) / max(count, 1)
        age = timedelta(days=self.days * (1 - fraction), minutes=self.rng.randint(0, 600))
        return self.now - age

    def unique(self, identifier: str) -> str:
        self.names[identifier] += 1
        seen = self.names[identifier]
        return identifier if seen == 1 else f"{identifier}_{seen}"

    def daily(self, when: datetime) -> str:
        day = when.replace(hour=0, minute=0, second=0, microsecond=0)
        ident = self.unique(f"daily/{day:%Y-%m-%d}")
        exchange = self.rng.choice(EXCHANGES[:4])
        env = "paper" if self.rng.random() < 0.7 else "live"
        stamp = when.timestamp()
        ledger = _csv(
            self.rng, "timestamp,symbol,side,quantity,price", self.rng.randint(20, 120), day
        )
        summary = {
            "report_date": f"{day:%Y-%m-%d}",
            "environment": env,
            "exchange": exchange,
            "strategy": self.rng.choice(_STRATEGIES),
            "status": self.rng.choice(("ok", "ok", "ok", "warning")),
            "pnl": round(self.rng.gauss(50, 400), 2),
            "trades": self.rng.randint(5, 400),
            "equity_curve": _equity_curve(self.rng, day),
            "asset_heatmap": _heatmap(self.rng),
        }
        self.w.file(f"{ident}/summary.json", _summary(summary), stamp)
        self.w.file(f"{ident}/ledger.csv", ledger, stamp - 60)
        self.w.file(f"{ident}/{env}_{exchange}.zip", _zip_bytes("ledger.csv", ledger), stamp - 30)
        if self.rng.random() < 0.6:
            trades = _csv(
                self.rng, "timestamp,symbol,side,quantity,price", self.rng.randint(50, 300), day
            )
            self.w.file(f"{ident}/exports/trades.csv", trades, stamp - 120)
            fills = json.dumps([{"order": i, "filled": True} for i in range(20)]).encode()
            self.w.file(f"{ident}/exports/fills.json", fills, stamp - 100)
        if self.rng.random() < self.large_ratio:
            size = self.rng.randint(1, 4) * 1024 * 1024
            block = _csv(self.rng, "ts,bid,ask", 2000, day)
            data = (block * (size // len(block) + 1))[:size]
            self.w.file(f"{ident}/exports/orderbook_snapshot.csv", data, stamp - 90)
        self.w.touch_dirs(ident, stamp)
        return ident

    def smoke(self, when: datetime, index: int) -> str:
        ident = self.unique(f"smoke/{when:%Y-%m-%d_%H%M}")
        stamp = when.timestamp()
        passed = self.rng.random() < 0.9
        log = "\n".join(
            f"{when:%H:%M:%S} check {n}: {'ok' if passed or n < 3 else 'FAILED'}" for n in range(12)
        )
        self.w.file(f"{ident}/logs/smoke.log", (log + "\n").encode(), stamp - 5)
        kind = index % 40
        if kind == 7:
            self.w.file(
                f"{ident}/summary.json", b'{"report_date": "' + f"{when:%Y-%m-%d}".encode(), stamp
            )
        elif kind == 19:
            self.w.file(f"{ident}/summary.json", b'["not", "an", "object"]\n', stamp)
        elif kind == 31:
            self.w.file(f"{ident}/summary.json", bytes(range(256)), stamp)
        else:
            summary = {
                "report_date": f"{when:%Y-%m-%d}",
                "environment": self.rng.choice(("paper", "live")),
                "status": "passed" if passed else "failed",
                "checks": 12,
                "duration_seconds": round(self.rng.uniform(20, 300), 1),
            }
            self.w.file(f"{ident}/summary.json", _summary(summary), stamp)
        self.w.touch_dirs(ident, stamp)
        return ident

    def diagnostics(self, when: datetime) -> str:
        host = self.rng.choice(_HOSTS)
        ident = self.unique(f"diagnostics/{host}/{when:%Y-%m-%d}")
        stamp = when.timestamp()
        self.w.file(
            f"{ident}/memory.txt", f"rss_mb={self.rng.randint(200, 900)}\n".encode() * 40, stamp
        )
        self.w.file(
            f"{ident}/cpu.prof", bytes(self.rng.getrandbits(8) for _ in range(2048)), stamp - 3
        )
        self.w.touch_dirs(ident, stamp)
        return ident

    def backtest(self, when: datetime) -> str:
        strategy = self.rng.choice(_STRATEGIES)
        ident = self.unique(f"backtests/{strategy}/{when:%Y%m%d_%H%M}")
        stamp = when.timestamp()
        summary = {
            "report_date": f"{when:%Y-%m-%d}",
            "strategy": strategy,
            "sharpe": round(self.rng.gauss(1.1, 0.6), 3),
            "max_drawdown": round(self.rng.uniform(0.02, 0.35), 3),
            "equity_curve": _equity_curve(self.rng, when),
        }
        self.w.file(f"{ident}/summary.json", _summary(summary), stamp)
        trades = _csv(
            self.rng, "timestamp,symbol,side,quantity,price", self.rng.randint(100, 400), when
        )
        self.w.file(f"{ident}/exports/trades.csv", trades, stamp - 10)
        if self.rng.random() < 0.25:
            nested = {"report_date": f"{when:%Y-%m-%d}", "kind": "walk_forward", "folds": 5}
            self.w.file(f"{ident}/walk_forward/summary.json", _summary(nested), stamp - 20)
            self.w.file(f"{ident}/walk_forward/folds.csv", trades[: len(trades) // 2], stamp - 25)
        self.w.touch_dirs(ident, stamp)
        return ident

    def review(self, when: datetime) -> str:
        ident = self.unique(f"strategy_reviews/{when:%Y-%m}")
        stamp = when.timestamp()
        text = f"# Strategy review {when:%B %Y}\n\nNo summary was produced for this review.\n"
        self.w.file(f"{ident}/notes.md", text.encode(), stamp)
        self.w.file(
            f"{ident}/positions.csv", _csv(self.rng, "ts,symbol,side,qty,price", 40, when), stamp
        )
        self.w.touch_dirs(ident, stamp)
        return ident

    def emergency(self, when: datetime) -> str:
        ident = self.unique(f"emergency/{when:%Y-%m-%d}")
        stamp = when.timestamp()
        exchange = self.rng.choice(EXCHANGES[:4])
        summary = {
            "report_date": f"{when:%Y-%m-%d}",
            "type": "incident",
            "title": f"Incident: order routing degraded on {exchange}",
            "severity": self.rng.choice(("high", "critical")),
            "exchange": exchange,
            "resolved": True,
        }
        self.w.file(f"{ident}/summary.json", _summary(summary), stamp)
        timeline = (
            f"# Incident timeline {when:%Y-%m-%d}\n\n- detection\n- failover to CCXT\n- recovery\n"
        )
        self.w.file(f"{ident}/timeline.md", timeline.encode(), stamp - 600)
        orders = _csv(self.rng, "timestamp,symbol,side,quantity,price", 200, when)
        self.w.file(f"{ident}/exports/orders.csv", orders, stamp - 300)
        self.w.touch_dirs(ident, stamp)
        return ident


def _signal_quality(directory: str, rng: random.Random, now: datetime) -> int:
    os.makedirs(directory, exist_ok=True)
    written = 0
    for index, exchange in enumerate(EXCHANGES):
        age = _SIGNAL_QUALITY_AGES_DAYS[index % len(_SIGNAL_QUALITY_AGES_DAYS)]
        moment = now - timedelta(days=age, hours=rng.randint(0, 12))
        records: list[dict[str, Any]] = []
        for n in range(20):
            requested = round(rng.uniform(0.01, 2), 4)
            failed = rng.random() < 0.05
            filled = 0.0 if failed else round(requested * rng.choice((1, 1, 1, 0.5)), 4)
            price = round(rng.uniform(20_000, 60_000), 2)
            records.append(
                {
                    "timestamp": (moment - timedelta(minutes=5 * (20 - n))).isoformat(),
                    "backend": "native" if n < 15 else "ccxt",
                    "symbol": "BTC/USDT",
                    "side": "buy" if n % 2 else "sell",
                    "order_type": "limit",
                    "requested_quantity": requested,
                    "filled_quantity": filled,
                    "requested_price": price,
                    "executed_price": None
                    if failed
                    else round(price * (1 + rng.gauss(0, 4e-4)), 2),
                    "slippage_bps": None if failed else round(abs(rng.gauss(0, 4)), 2),
                    "latency": round(rng.uniform(0.05, 0.8), 3),
                    "status": "failed"
                    if failed
                    else ("filled" if filled == requested else "partial"),
                    "error": "HTTP 503" if failed else None,
                }
            )
        failures = sum(1 for record in records if record["status"] == "failed")
        document = {
            "exchange": exchange,
            "total": len(records),
            "failures": failures,
            "fill_ratio": round(
                sum(r["filled_quantity"] for r in records)
                / sum(r["requested_quantity"] for r in records),
                4,
            ),
            "slippage_bps": round(sum(r["slippage_bps"] or 0 for r in records) / len(records), 3),
            "records": records,
            "degradation": {
                "rolling_score": 0.1,
                "window": 20,
                "max_score": 0.35,
                "last_score": 0.05,
            },
        }
        path = os.path.join(directory, f"{exchange}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
        stamp = moment.timestamp()
        os.utime(path, (stamp, stamp))
        written += 1
    return written


_MODELS = ("decision_engine", "risk_model")


def _quality_reports(rng: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    """Weekly evaluations of two models: versions, metrics, status and parameters."""
    reports: list[dict[str, Any]] = []
    for model in _MODELS:
        accuracy, mae, pnl = 0.53, 0.022, 80.0
        for version in range(1, count + 1):
            degraded = rng.random() < 0.2
            step = -1 if degraded else 1
            accuracy = round(accuracy + step * rng.uniform(0.002, 0.012), 4)
            mae = round(max(0.005, mae - step * rng.uniform(0.0002, 0.0012)), 5)
            pnl = round(pnl + step * rng.uniform(3, 25), 2)
            metrics = {"directional_accuracy": accuracy, "mae": mae, "expected_pnl": pnl}
            reports.append(
                {
                    "model_name": model,
                    "version": f"v{version}",
                    "evaluated_at": (now - timedelta(days=7 * (count - version) + 1)).isoformat(),
                    "status": "degraded" if degraded else ("improved" if version > 1 else "ok"),
                    "metrics": metrics if model == "decision_engine" else {"summary": metrics},
                    "delta": {},
                    "parameters": {
                        "learning_rate": round(rng.choice((0.01, 0.03, 0.05)), 3),
                        "max_depth": rng.randint(4, 9),
                        "lookback_bars": 96,
                    },
                }
            )
    return reports


def _edge_cases(tree: _Tree, idents: dict[str, list[str]]) -> list[str]:
    """The awkward things real trees hold; each is listed in the result."""
    w, now = tree.w, tree.now
    stamp = (now - timedelta(days=3)).timestamp()
    cases: list[str] = []
    w.file(
        "README.txt",
        b"Operational reports of the trading bot. Managed by bot_core.reporting.\n",
        stamp,
    )
    w.file(
        "standalone.json",
        json.dumps({"generated": now.isoformat(), "kind": "standalone"}).encode(),
        stamp,
    )
    old = now - timedelta(days=400)
    w.file(
        f"paper_trading_{old:%Y%m%d}.zip",
        _zip_bytes("ledger.csv", b"ts,pnl\n1,2\n"),
        old.timestamp(),
    )
    cases.append("root-level files: README.txt, standalone.json and a zip")
    if idents.get("daily"):
        target = idents["daily"][-1]
        link = os.path.join(w.root, target, "latest_ledger.csv")
        os.symlink("ledger.csv", link)
        os.utime(link, (stamp, stamp), follow_symlinks=False)
        cases.append(f"a symlink inside a report: {target}/latest_ledger.csv")
    if idents.get("diagnostics"):
        target = idents["diagnostics"][0]
        name = os.fsdecode(b"core_dump_\xff.bin")
        w.file(f"{target}/{name}", b"\0" * 512, stamp)
        cases.append(f"a file name that is not UTF-8 in {target}")
    if any(
        "walk_forward" in os.listdir(os.path.join(w.root, ident))
        for ident in idents.get("backtests", [])[:200]
    ):
        cases.append("nested reports: backtests/<strategy>/<run>/walk_forward")
    cases.append(
        "summaries that are missing (diagnostics, strategy_reviews) or invalid (some smoke)"
    )
    return cases


def generate_demo_tree(
    base_directory: str,
    *,
    reports: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    days: int = 730,
    signal_quality_directory: str | None = None,
    registry_directory: str | None = None,
    edge_cases: bool = True,
    large_file_ratio: float = 0.002,
) -> DemoTree:
    """Write ``reports`` reports under ``base_directory`` (which must not exist or be empty)."""
    if reports < 1:
        raise ValueError("reports must be at least 1")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    base = os.path.abspath(base_directory)
    if os.path.isdir(base) and os.listdir(base):
        raise FileExistsError(f"{base} is not empty; choose an empty or new directory")
    os.makedirs(base, exist_ok=True)
    rng = random.Random(seed)
    tree = _Tree(_Writer(base), rng, moment, days)
    tree.large_ratio = large_file_ratio
    counts = {name: max(1, round(reports * share)) for name, share in _MIX}
    counts["daily"] += reports - sum(counts.values())
    idents: dict[str, list[str]] = {name: [] for name in counts}
    for category, count in counts.items():
        for index in range(count):
            when = tree.moment(index, count)
            if category == "daily":
                idents[category].append(tree.daily(when))
            elif category == "smoke":
                idents[category].append(tree.smoke(when, index))
            elif category == "diagnostics":
                idents[category].append(tree.diagnostics(when))
            elif category == "backtests":
                idents[category].append(tree.backtest(when))
            elif category == "strategy_reviews":
                idents[category].append(tree.review(when))
            else:
                idents[category].append(tree.emergency(when))
    cases = _edge_cases(tree, idents) if edge_cases else []
    root_files = 3 if edge_cases else 0
    signal_files = 0
    if signal_quality_directory is not None:
        signal_files = _signal_quality(os.path.abspath(signal_quality_directory), rng, moment)
    registry_models: list[str] = []
    if registry_directory is not None:
        from bot_core.registry import build_registry_from_reports

        build_registry_from_reports(registry_directory, _quality_reports(rng, moment, 8))
        registry_models = list(_MODELS)
    return DemoTree(
        base_directory=base,
        signal_quality_directory=os.path.abspath(signal_quality_directory)
        if signal_quality_directory
        else None,
        now=moment,
        seed=seed,
        report_count=sum(len(items) for items in idents.values()) + root_files,
        reports_by_category={name: len(items) for name, items in idents.items()},
        root_files=root_files,
        file_count=tree.w.files,
        total_bytes=tree.w.size,
        signal_quality_files=signal_files,
        registry_directory=os.path.abspath(registry_directory) if registry_directory else None,
        registry_models=registry_models,
        edge_cases=cases,
    )
