"""The real Pushgateway and Prometheus of :mod:`tests.promstack`, for every metrics test."""

from __future__ import annotations

from tests.promstack import prometheus_server, pushgateway, pushgateway_server

__all__ = ["prometheus_server", "pushgateway", "pushgateway_server"]  # re-exported fixtures
