"""docs/monitoring.md describes every exported metric and every alert with its runbook."""
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporters.collector import Collector
from exporters.source import FakeSource

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "monitoring.md").read_text()


def test_every_exported_metric_is_documented():
    registry = CollectorRegistry()
    registry.register(Collector(FakeSource.populated()))
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in DOC, name


def test_every_alert_is_documented_with_its_runbook():
    rules = (ROOT / "exporters" / "prometheus" / "rules.yml").read_text()
    alerts = re.findall(r"- alert: (\w+)", rules)
    assert len(alerts) == 7
    for alert in alerts:
        runbook = f"docs/runbooks/{alert}.md"
        assert f"`{alert}`" in DOC and f"`{runbook}`" in DOC, alert
        assert f"Runbook: {runbook}" in rules, alert
