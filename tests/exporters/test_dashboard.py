"""The Grafana dashboard imports anywhere and only queries metrics the collector exports."""
import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporters.collector import Collector
from exporters.source import FakeSource
from tests.exporters.promql import metric_names, sample_names

DASHBOARD = Path(__file__).resolve().parents[2] / "exporters" / "grafana" / "dmm-nf.json"


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def exported() -> set[str]:
    registry = CollectorRegistry()
    registry.register(Collector(FakeSource.populated()))
    return sample_names(registry)


def panels(dashboard: dict) -> list[dict]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def expressions(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]


def test_dashboard_is_a_current_grafana_schema(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 39
    assert dashboard["title"] == "dmm-nf"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_datasource_is_chosen_by_a_variable_never_a_fixed_uid(dashboard):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    uids = re.findall(r'"uid":\s*"([^"]*)"', DASHBOARD.read_text())
    assert uids and set(uids) == {"${datasource}"}


def test_every_panel_has_a_query(dashboard):
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_the_operator_questions_are_covered(dashboard):
    queried = set().union(*map(metric_names, expressions(dashboard)))
    for needed in ("dmm_bindings", "dmm_registrations_rejected_total", "dmm_peer_up",
                   "dmm_pba_round_trip_seconds_bucket", "dmm_handovers_total", "dmm_pool_prefixes_free",
                   "dmm_netconf_rpcs_total", "dmm_netconf_sessions"):
        assert needed in queried


def test_every_query_uses_only_exported_metrics(dashboard, exported):
    for expr in expressions(dashboard):
        names = metric_names(expr)
        assert names, expr
        assert names <= exported, (expr, names - exported)


def test_instance_variable_query_uses_an_exported_metric(dashboard, exported):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    metric = re.fullmatch(r"label_values\((\w+), instance\)", variables["instance"]["definition"]).group(1)
    assert metric in exported


def test_metric_name_extraction_sees_through_functions_and_labels():
    expr = 'histogram_quantile(0.9, sum by (le) (rate(dmm_x_bucket{instance=~"$i"}[$__rate_interval]))) / up'
    assert metric_names(expr) == {"dmm_x_bucket", "up"}
