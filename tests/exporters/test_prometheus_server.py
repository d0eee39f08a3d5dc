"""A real Prometheus (Debian's 2.42) scrapes the endpoint, sees series change, and loads the rules."""
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import replace
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporters.collector import Collector
from exporters.http import MetricsServer
from exporters.source import FakeSource, peer, statistics
from nf.snapshot import BindingCounts
from tests.exporters.promql import metric_names, sample_names

RULES = Path(__file__).resolve().parents[2] / "exporters" / "prometheus" / "rules.yml"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DEADLINE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, deadline: float = DEADLINE_SECONDS) -> object:
    """Poll `condition` until it returns something truthy; fail with `what` after the deadline."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out after {deadline:.0f}s waiting for {what}")


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def api(self, path: str, **params: str) -> dict | None:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)["data"]
        except OSError:
            return None

    def value(self, query: str) -> float | None:
        data = self.api("/api/v1/query", query=query)
        if not data or not data["result"]:
            return None
        return float(data["result"][0]["value"][1])


@pytest.fixture(scope="module")
def source() -> FakeSource:
    source = FakeSource.populated()
    source.update(bindings=BindingCounts(cache={"active": 5}))
    return source


@contextmanager
def run_prometheus(workdir: Path, targets: list[str]) -> Iterator[Prometheus]:
    """A real Prometheus scraping `targets` (host:port) every second, with our rules loaded."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "dmm-nf", "static_configs": [{"targets": targets}]}],
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    with open(workdir / "prometheus.log", "wb") as log:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            server = Prometheus(f"http://127.0.0.1:{port}")
            wait_for(lambda: process.poll() is not None or server.api("/api/v1/status/buildinfo"), "Prometheus to start")
            assert process.poll() is None, (workdir / "prometheus.log").read_text()
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def prometheus(source, tmp_path_factory) -> Iterator[Prometheus]:
    with MetricsServer(source, "127.0.0.1", 0) as endpoint:
        with run_prometheus(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{endpoint.port}"]) as server:
            yield server


def test_prometheus_scrapes_the_endpoint(prometheus):
    assert wait_for(lambda: prometheus.value('up{job="dmm-nf"}') == 1, "the target to be up")
    assert wait_for(lambda: prometheus.value('dmm_info{role="lma"}') == 1, "dmm_info to arrive")


def test_series_follow_the_source(prometheus, source):
    assert wait_for(lambda: prometheus.value('dmm_bindings{state="active"}') == 5, "5 active bindings")
    source.update(bindings=BindingCounts(cache={"active": 7}),
                  peers=(peer("2001:db8::1", up=False, last_change=time.time()),))
    assert wait_for(lambda: prometheus.value('dmm_bindings{state="active"}') == 7, "7 active bindings")
    assert wait_for(lambda: prometheus.value('dmm_peer_up{peer="2001:db8::1"}') == 0, "the peer to go down")


def test_counter_rates_are_computed_from_scrapes(prometheus, source):
    step = 0

    def growing_rate() -> bool:
        nonlocal step
        step += 1
        # keeps rising between scrapes
        source.update(counters=replace(source.state.counters, statistics=statistics(handovers=9 + step * 10)))
        rate = prometheus.value("rate(dmm_handovers_total[10s])")
        return rate is not None and rate > 0

    assert wait_for(growing_rate, "a positive handover rate")


def test_prometheus_loads_every_rule_healthy(prometheus):
    def rules() -> list[dict]:
        data = prometheus.api("/api/v1/rules")
        return [rule for group in (data or {}).get("groups", []) for rule in group["rules"]]

    wait_for(lambda: rules() and all(rule.get("lastEvaluation", "").startswith("2") for rule in rules()),
             "every rule to be evaluated once")
    assert {rule["name"] for rule in rules()} == {
        "DmmTargetDown", "DmmScrapeGap", "DmmPeerPathDown", "DmmPeerRestarted",
        "DmmRegistrationRejectionRatioHigh", "DmmPrefixPoolNearlyExhausted", "DmmServingNobody"}
    assert all(rule["health"] == "ok" for rule in rules())


def test_rules_query_only_exported_metrics(prometheus):
    registry = CollectorRegistry()
    registry.register(Collector(FakeSource.populated()))
    exported = sample_names(registry) | {"up"}
    data = wait_for(lambda: prometheus.api("/api/v1/rules"), "the rules API")
    for group in data["groups"]:
        for rule in group["rules"]:
            names = metric_names(rule["query"])
            assert names and names <= exported, (rule["name"], names - exported)
