"""Prometheus collector, alert rules, Grafana dashboard."""
