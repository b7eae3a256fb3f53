"""Read ``summary.json`` files and keep only the facts the catalog needs from them.

Why not keep the parsed summaries: on 100k reports they weigh over a gigabyte in Python
objects.  The scan keeps a few compact facts per report (the ``report_date`` shown as its
name, the text the ``--query`` filter searches, and the dashboard points in flat arrays); the
overview re-reads a summary only when it prints that report.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json, to_json

from bot_core._fs import ns_from_datetime

__all__ = [
    "MAX_SUMMARY_BYTES",
    "SUMMARY_NAME",
    "DashboardColumns",
    "SummaryFacts",
    "read_summary",
    "summary_facts",
]

SUMMARY_NAME = "summary.json"
MAX_SUMMARY_BYTES = 16 * 1024 * 1024
"""A larger ``summary.json`` is reported invalid instead of being loaded into memory."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_READ_SIZE = 64 * 1024


def _read_capped(fd: int) -> bytes:
    """Read a whole file, one ``read`` for the usual small summary, at most the cap + 1."""
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_SUMMARY_BYTES:
        chunk = os.read(fd, _READ_SIZE)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _parse(text: str) -> Any:
    """Parse JSON exactly as ``json`` does, most of the time about 4x faster.

    ``pydantic_core.from_json`` (Rust) accepts a subset of what the standard decoder accepts
    and returns the same values for it (NaN/Infinity refused, duplicate keys last-wins,
    big integers exact, floats correctly rounded); anything it refuses (bad JSON, lone
    surrogate escapes, nesting deeper than its limit) is parsed again by the standard decoder,
    so what is valid, and every error message, stays the standard decoder's.
    """
    try:
        return from_json(text, allow_inf_nan=False, cache_strings="keys")
    except ValueError:
        value = _DECODER.decode(text)
    # Only what the fast parser refused gets here.  A lone surrogate escape or nesting deeper
    # than the serializer's limit decodes, but could not be written into the overview's JSON:
    # such a summary is invalid, instead of a traceback halfway through the output.
    try:
        to_json(value)
    except ValueError as exc:  # PydanticSerializationError
        detail = str(exc).removeprefix("Error serializing to JSON: ")
        raise ValueError(f"the summary cannot be written back as JSON ({detail})") from exc
    return value


def read_summary(dir_fd: int, name: str = SUMMARY_NAME) -> tuple[dict[str, Any] | None, str | None]:
    """Read and parse a summary; return ``(summary, None)`` or ``(None, why it is invalid)``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        return None, f"cannot read summary: {exc.strerror}"
    try:
        data = _read_capped(fd)
    except OSError as exc:
        return None, f"cannot read summary: {exc.strerror}"
    finally:
        os.close(fd)
    if len(data) > MAX_SUMMARY_BYTES:
        return None, f"summary is larger than {MAX_SUMMARY_BYTES} bytes"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"summary is not UTF-8 text (byte {exc.start})"
    try:
        parsed = _parse(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return None, f"invalid JSON: {exc}"
    if not isinstance(parsed, dict):
        return None, f"summary is not a JSON object (found {type(parsed).__name__})"
    return parsed, None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _point_time(value: Any) -> int | None:
    """A point's timestamp in ns: ISO-8601 text, or epoch seconds (milliseconds if huge)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) > 1e11 else value
        if abs(seconds) > 1e11:
            return None
        return round(seconds * 1_000_000) * 1_000
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return ns_from_datetime(moment)
    return None


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


@dataclass(slots=True)
class DashboardColumns:
    """Every report's dashboard points, column-wise (about 20 bytes a point)."""

    equity_report: array[int] = field(default_factory=lambda: array("q"))
    equity_time: array[int] = field(default_factory=lambda: array("q"))
    equity_value: array[float] = field(default_factory=lambda: array("d"))
    heat_report: array[int] = field(default_factory=lambda: array("q"))
    heat_asset: array[int] = field(default_factory=lambda: array("q"))
    heat_value: array[float] = field(default_factory=lambda: array("d"))
    assets: list[str] = field(default_factory=list)
    asset_ids: dict[str, int] = field(default_factory=dict)

    def add_equity(self, report: int, curve: Any) -> None:
        if not isinstance(curve, list):
            return
        for item in curve:
            if isinstance(item, dict):
                stamp, value = item.get("timestamp"), item.get("value")
            elif isinstance(item, list) and len(item) == 2:
                stamp, value = item
            else:
                continue
            when, number = _point_time(stamp), _number(value)
            if when is not None and number is not None:
                self.equity_report.append(report)
                self.equity_time.append(when)
                self.equity_value.append(number)

    def add_heatmap(self, report: int, raw: Any) -> None:
        entries: list[tuple[str, float]] = []
        if isinstance(raw, dict):
            for asset, value in raw.items():
                number = _number(value.get("value")) if isinstance(value, dict) else _number(value)
                if number is not None and str(asset).strip():
                    entries.append((str(asset), number))
        elif isinstance(raw, list):
            for item in raw:
                if isinstance(item, dict):
                    asset = item.get("asset", item.get("symbol"))
                    number = _number(item.get("value"))
                    if isinstance(asset, str) and asset.strip() and number is not None:
                        entries.append((asset, number))
        for asset, number in entries:
            asset_id = self.asset_ids.get(asset)
            if asset_id is None:
                asset_id = self.asset_ids[asset] = len(self.assets)
                self.assets.append(asset)
            self.heat_report.append(report)
            self.heat_asset.append(asset_id)
            self.heat_value.append(number)


@dataclass(slots=True)
class SummaryFacts:
    """What the catalog keeps of one valid summary."""

    report_date: str | None
    query_text: str


def summary_facts(summary: dict[str, Any], report: int, columns: DashboardColumns) -> SummaryFacts:
    """Extract the compact facts of a summary and add its dashboard points to ``columns``."""
    report_date = summary.get("report_date")
    texts = [text for value in summary.values() if (text := _scalar_text(value)) is not None]
    columns.add_equity(report, summary.get("equity_curve"))
    columns.add_heatmap(report, summary.get("asset_heatmap"))
    return SummaryFacts(
        report_date if isinstance(report_date, str) and report_date.strip() else None,
        "\n".join(texts).casefold(),
    )
