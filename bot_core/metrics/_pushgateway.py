"""Pushing to a Pushgateway so that counters keep counting across batch runs.

Why read back before pushing: a Pushgateway stores the last value pushed, it does not add.
A batch job has no process that lives from one run to the next, so each push reads the
group's current values (``GET /api/v1/metrics``), adds this run's increments and pushes the
sums with ``pushadd`` (HTTP POST), which replaces only the metric families it sends: a family
this push leaves out (``last_success`` after a failed run) keeps its value.

Because ``pushadd`` replaces a *whole family* of the group, every series of a family we push
is carried forward from the read-back, including series this run does not touch (another
``outcome``, another ``environment``); otherwise they would vanish.

The race: two pushes to the same group at the same moment both read N and both write N + 1,
losing one increment.  The maintenance flows that push to one group are serialised by the
``bot-core-maintenance`` concurrency limit, and model changes by the registry lock, so the
window is a few milliseconds between runs that do not overlap; an occasional lost increment
would under-count a dashboard, never fail or change an operation.  If the read-back fails we
push nothing: pushing "1" would reset a counter that is really at N.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from prometheus_client import CollectorRegistry, pushadd_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot_core._types import Document, UtcDateTime
from bot_core.errors import MetricsUnavailableError

__all__ = [
    "FamilyUpdate",
    "PushReceipt",
    "PushedFamily",
    "Series",
    "push_updates",
    "read_group",
]

MetricType = Literal["counter", "gauge"]
LabelKey = tuple[tuple[str, str], ...]
"""A series' labels as a sorted tuple, usable as a dict key."""

_GATEWAY_LABELS = frozenset({"job", "instance"})
"""Labels the Pushgateway adds to every series of a group (``instance`` as ``""``)."""

_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)
"""What urllib raises for a refused connection, a timeout, an HTTP error or a bad URL."""


class Series(Document):
    """One series: its labels (without ``job``) and its value."""

    labels: dict[str, str]
    value: float


class FamilyUpdate(Document):
    """What one push does to one metric family of the group.

    ``counter``: each series' value is *added* to the value read back (0 when new; an added
    0 creates the series at 0, so ``increase()`` sees the first real increment).
    ``gauge``: each series is *set* to its value.  Series read back and not named here are
    pushed again unchanged.
    """

    name: str
    type: MetricType
    help: str
    series: list[Series]


class PushedFamily(Document):
    """One family as it was pushed: every series with its new value."""

    name: str
    type: MetricType
    series: list[Series]


class PushReceipt(Document):
    """What a push sent, where, and when (stdout of ``python -m bot_core.metrics``)."""

    pushgateway: str
    job: str
    grouping_key: dict[str, str]
    pushed_at: UtcDateTime
    families: list[PushedFamily]

    def value(self, name: str, **labels: str) -> float | None:
        """The pushed value of the series of ``name`` whose labels include ``labels``."""
        for family in self.families:
            if family.name == name:
                for series in family.series:
                    if labels.items() <= series.labels.items():
                        return series.value
        return None


class _JsonSample(BaseModel):
    """One series in the Pushgateway's ``/api/v1/metrics`` answer (read loosely)."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str] = Field(default_factory=dict)
    value: str | None = None


class _JsonFamily(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = ""
    metrics: list[_JsonSample] = Field(default_factory=list)


class _JsonAnswer(BaseModel):
    """``{"status": "success", "data": [group, ...]}``; each group maps ``labels``,
    ``last_push_successful`` and one key per metric family."""

    model_config = ConfigDict(extra="ignore")

    status: str
    data: list[dict[str, Any]] = Field(default_factory=list)


def _key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


def _request(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except _NETWORK_ERRORS as exc:
        raise MetricsUnavailableError(f"cannot read {url}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def read_group(
    gateway: str, job: str, grouping_key: Mapping[str, str], *, timeout: float
) -> dict[str, dict[LabelKey, float]]:
    """The group's current values: family name -> labels (without ``job``/``instance``) ->
    value.  A group the Pushgateway does not have yet is empty."""
    body = _request(f"{gateway.rstrip('/')}/api/v1/metrics", timeout)
    try:
        answer = _JsonAnswer.model_validate_json(body)
    except ValidationError as exc:
        raise MetricsUnavailableError(
            f"unreadable answer from {gateway}/api/v1/metrics: {exc.errors()[0].get('msg')}"
        ) from exc
    wanted = {"job": job, **grouping_key}
    for group in answer.data:
        if group.get("labels") != wanted:
            continue
        return _families(group)
    return {}


def _families(group: Mapping[str, Any]) -> dict[str, dict[LabelKey, float]]:
    families: dict[str, dict[LabelKey, float]] = {}
    for name, raw in group.items():
        if not isinstance(raw, dict) or "metrics" not in raw:
            continue
        try:
            family = _JsonFamily.model_validate(raw)
        except ValidationError as exc:
            raise MetricsUnavailableError(f"unreadable family {name!r}: {exc}") from exc
        values: dict[LabelKey, float] = {}
        for sample in family.metrics:
            if sample.value is None:
                continue
            labels = {
                k: v for k, v in sample.labels.items() if k not in _GATEWAY_LABELS and v != ""
            }
            try:
                values[_key(labels)] = float(sample.value)
            except ValueError as exc:
                raise MetricsUnavailableError(
                    f"unreadable value {sample.value!r} of {name}"
                ) from exc
        families[name] = values
    return families


def _merge(
    update: FamilyUpdate, current: Mapping[LabelKey, float], grouping_key: Mapping[str, str]
) -> PushedFamily:
    """The family to push: everything read back, plus (counter) or replaced by (gauge) the
    update's series; sorted by labels so a push is reproducible.

    The Pushgateway gives every series of a group the grouping labels, so they are added to
    the update's series too before matching them with the read-back.
    """
    values = dict(current)
    for series in update.series:
        key = _key({**series.labels, **grouping_key})
        if update.type == "counter":
            values[key] = values.get(key, 0.0) + series.value
        else:
            values[key] = series.value
    return PushedFamily(
        name=update.name,
        type=update.type,
        series=[Series(labels=dict(key), value=value) for key, value in sorted(values.items())],
    )


class _Families(Collector):
    """A collector that yields exactly the families given (no ``_created`` samples)."""

    def __init__(self, families: Sequence[PushedFamily], helps: Mapping[str, str]) -> None:
        self._families = families
        self._helps = helps

    def collect(self) -> Iterable[Metric]:
        return list(self._build())

    def _build(self) -> Iterator[Metric]:
        for family in self._families:
            names = sorted({label for series in family.series for label in series.labels})
            metric: CounterMetricFamily | GaugeMetricFamily
            if family.type == "counter":
                metric = CounterMetricFamily(family.name, self._helps[family.name], labels=names)
            else:
                metric = GaugeMetricFamily(family.name, self._helps[family.name], labels=names)
            for series in family.series:
                metric.add_metric([series.labels.get(label, "") for label in names], series.value)
            yield metric


def push_updates(
    gateway: str,
    job: str,
    grouping_key: Mapping[str, str],
    updates: Sequence[FamilyUpdate],
    *,
    timeout: float,
    now: datetime,
) -> PushReceipt:
    """Read the group back, apply ``updates`` and ``pushadd`` the families they name.

    Raises :class:`MetricsUnavailableError` when the Pushgateway cannot be read or refuses
    the push; nothing is pushed when the read-back fails.
    """
    current = read_group(gateway, job, grouping_key, timeout=timeout)
    pushed = [_merge(u, current.get(u.name, {}), grouping_key) for u in updates]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(pushed, {update.name: update.help for update in updates}))
    try:
        pushadd_to_gateway(
            gateway, job=job, registry=registry, grouping_key=dict(grouping_key), timeout=timeout
        )
    except _NETWORK_ERRORS as exc:
        raise MetricsUnavailableError(f"cannot push to {gateway}: {_reason(exc)}") from exc
    return PushReceipt(
        pushgateway=gateway,
        job=job,
        grouping_key=dict(grouping_key),
        pushed_at=now,
        families=pushed,
    )
