"""Tests of deploy/: Grafana provisioning, Prometheus config and alert rules."""
