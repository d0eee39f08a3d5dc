"""Prometheus collector: turns one read of a `MetricsSource` into metric families at scrape time.

Nothing is counted per event here; every value comes from the source when Prometheus
scrapes. Labels are bounded (role, peer, pool, status code, trigger, reason, NETCONF
operation and error-tag): never a mobile-node identifier or a prefix.

A section of the source that raises or returns inconsistent data is left out of that
scrape and counted in `dmm_exporter_source_errors_total{section}`; the rest is served.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as CollectorBase

from exporters.source import MetricsSource

log = logging.getLogger(__name__)

Section = Callable[[MetricsSource], list[Metric]]


def _node(source: MetricsSource) -> list[Metric]:
    node = source.info()
    info = InfoMetricFamily("dmm", "Software version and one sample per role the node plays.", labels=["role"])
    for role in node.roles or ("none",):
        info.add_metric([role], {"version": node.version})
    start = GaugeMetricFamily("dmm_start_time_seconds", "Unix time the network function started.")
    start.add_metric([], source.start_time())
    return [info, start]


def _bindings(source: MetricsSource) -> list[Metric]:
    bindings = GaugeMetricFamily(
        "dmm_bindings", "Binding cache (LMA) or binding update list (MAG) entries by state.", labels=["state"]
    )
    for state, count in sorted(source.bindings_by_state().items()):
        bindings.add_metric([state], count)
    tunnels = GaugeMetricFamily("dmm_tunnels", "Tunnels installed in the data plane.")
    tunnels.add_metric([], source.tunnels_count())
    return [bindings, tunnels]


def _pools(source: MetricsSource) -> list[Metric]:
    allocated = GaugeMetricFamily("dmm_pool_prefixes_allocated", "Prefixes assigned from the pool.", labels=["pool"])
    free = GaugeMetricFamily("dmm_pool_prefixes_free", "Prefixes still available in the pool.", labels=["pool"])
    for pool in source.pools():
        allocated.add_metric([pool.name], pool.allocated)
        free.add_metric([pool.name], pool.free)
    return [allocated, free]


def _registrations(source: MetricsSource) -> list[Metric]:
    counters = source.registration_counters()
    received = CounterMetricFamily("dmm_registrations_received", "Proxy Binding Updates handled.")
    received.add_metric([], counters.received)
    accepted = CounterMetricFamily("dmm_registrations_accepted", "Proxy Binding Updates accepted (PBA status < 128).")
    accepted.add_metric([], counters.accepted)
    rejected = CounterMetricFamily(
        "dmm_registrations_rejected", "Proxy Binding Updates rejected, by PBA status code.", labels=["status"]
    )
    for status, count in sorted(counters.rejected_by_status.items()):
        rejected.add_metric([str(status)], count)
    return [received, accepted, rejected]


def _pba_rtt(source: MetricsSource) -> list[Metric]:
    snapshot = source.pba_rtt_histogram()
    if snapshot is None:
        return []
    histogram = HistogramMetricFamily(
        "dmm_pba_round_trip_seconds", "Time from sending a Proxy Binding Update to receiving its acknowledgement."
    )
    buckets = [("+Inf" if bound == math.inf else repr(float(bound)), count) for bound, count in snapshot.buckets]
    histogram.add_metric([], buckets, snapshot.sum_seconds)
    return [histogram]


def _revocations(source: MetricsSource) -> list[Metric]:
    counters = source.revocations_by_trigger()
    revocations = CounterMetricFamily(
        "dmm_revocations",
        "Binding Revocation Indications (RFC 5846) by direction and revocation trigger code.",
        labels=["direction", "trigger"],
    )
    for direction, by_trigger in (("sent", counters.sent), ("received", counters.received)):
        for trigger, count in sorted(by_trigger.items()):
            revocations.add_metric([direction, str(trigger)], count)
    return [revocations]


def _peers(source: MetricsSource) -> list[Metric]:
    up = GaugeMetricFamily("dmm_peer_up", "Path to the peer: 1 up, 0 down.", labels=["peer"])
    last_change = GaugeMetricFamily(
        "dmm_peer_last_change_timestamp_seconds", "Unix time the path to the peer last went up or down.", labels=["peer"]
    )
    requests = CounterMetricFamily("dmm_heartbeat_requests", "Heartbeat Requests sent to the peer.", labels=["peer"])
    responses = CounterMetricFamily(
        "dmm_heartbeat_responses", "Heartbeat Responses received from the peer.", labels=["peer"]
    )
    timeouts = CounterMetricFamily(
        "dmm_heartbeat_timeouts", "Heartbeat Requests the peer left unanswered.", labels=["peer"]
    )
    restarts = CounterMetricFamily(
        "dmm_peer_restarts", "Restarts of the peer detected through its Restart Counter.", labels=["peer"]
    )
    for peer in source.peers():
        up.add_metric([peer.peer], 1.0 if peer.up else 0.0)
        last_change.add_metric([peer.peer], peer.last_change)
        requests.add_metric([peer.peer], peer.heartbeat_requests)
        responses.add_metric([peer.peer], peer.heartbeat_responses)
        timeouts.add_metric([peer.peer], peer.heartbeat_timeouts)
        restarts.add_metric([peer.peer], peer.restarts)
    return [up, last_change, requests, responses, timeouts, restarts]


def _mobility(source: MetricsSource) -> list[Metric]:
    handovers = CounterMetricFamily("dmm_handovers", "Mobile nodes moved from one access gateway to another.")
    handovers.add_metric([], source.handovers_total())
    dropped = CounterMetricFamily(
        "dmm_messages_dropped", "Signalling messages dropped, by reason.", labels=["reason"]
    )
    for reason, count in sorted(source.drops_by_reason().items()):
        dropped.add_metric([reason], count)
    return [handovers, dropped]


def _netconf(source: MetricsSource) -> list[Metric]:
    sessions = GaugeMetricFamily("dmm_netconf_sessions", "Open NETCONF sessions.")
    sessions.add_metric([], source.netconf_sessions())
    rpcs = CounterMetricFamily(
        "dmm_netconf_rpcs", "NETCONF RPCs answered, by operation and error-tag (none on success).",
        labels=["operation", "error"],
    )
    for rpc in source.netconf_rpcs():
        rpcs.add_metric([rpc.operation, rpc.error_tag or "none"], rpc.count)
    commits = CounterMetricFamily("dmm_config_commits", "Configuration commits applied to running.")
    commits.add_metric([], source.config_commits())
    return [sessions, rpcs, commits]


SECTIONS: dict[str, Section] = {
    "node": _node,
    "bindings": _bindings,
    "pools": _pools,
    "registrations": _registrations,
    "pba-rtt": _pba_rtt,
    "revocations": _revocations,
    "peers": _peers,
    "mobility": _mobility,
    "netconf": _netconf,
}


class Collector(CollectorBase):
    """Register with a `CollectorRegistry`; each scrape reads the source once per section."""

    def __init__(self, source: MetricsSource) -> None:
        self._source = source
        self._errors: Counter[str] = Counter()
        self._lock = threading.Lock()  # scrapes may run concurrently in the HTTP server's threads

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        families: list[Metric] = []
        for name, section in SECTIONS.items():
            try:
                families.extend(section(self._source))
            except Exception:  # a broken source must not break the scrape; the counter tells
                log.exception("metrics section %s failed", name)
                with self._lock:
                    self._errors[name] += 1
        yield from families
        errors = CounterMetricFamily(
            "dmm_exporter_source_errors", "Scrapes that left a section out because reading it failed.",
            labels=["section"],
        )
        with self._lock:
            for name in SECTIONS:
                errors.add_metric([name], self._errors[name])
        yield errors
        duration = GaugeMetricFamily(
            "dmm_exporter_scrape_duration_seconds", "Time this scrape took to read the source."
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration
