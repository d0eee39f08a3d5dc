"""Prometheus collector: turns one read of a `MetricsSource` into metric families at scrape time.

Nothing is counted per event here: each scrape reads one snapshot of the runtime
(`MetricsSource.snapshot`, nf/snapshot.py) and the NETCONF server's counters, and each
section below maps part of them to families. Labels are bounded (role, peer, pool, status
code, trigger, reason, NETCONF operation and error-tag): never a mobile-node identifier or
a prefix.

A section whose values are inconsistent (a negative count…) or whose mapping fails is left
out of that scrape and counted in `dmm_exporter_source_errors_total{section}`; the rest is
served. A snapshot that cannot be read at all (the runtime did not answer) leaves out every
runtime section and counts under `section="snapshot"`.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as CollectorBase

from exporters.source import REFUSAL_REASONS, HistogramSnapshot, ManagementCounters, MetricsSource, check_count
from nf.snapshot import Snapshot

log = logging.getLogger(__name__)

Section = Callable[[Snapshot], list[Metric]]


def _add(family: Metric, labels: Sequence[str], value: float, what: str) -> None:
    """One sample, refused (SourceDataError: the section is left out) if not a count."""
    check_count(what, value)
    family.add_metric(list(labels), value)


def _node(snap: Snapshot) -> list[Metric]:
    node = snap.node
    info = InfoMetricFamily("dmm", "Software version and one sample per role the node plays.", labels=["role"])
    for role in node.roles or ("none",):
        info.add_metric([role], {"version": node.software_version})
    start = GaugeMetricFamily("dmm_start_time_seconds", "Unix time the network function started.")
    _add(start, [], node.start_wall, "start time")
    return [info, start]


def _bindings(snap: Snapshot) -> list[Metric]:
    bindings = GaugeMetricFamily(
        "dmm_bindings", "Binding cache (LMA) or binding update list (MAG) entries by state.", labels=["state"]
    )
    counts = snap.bindings
    if counts is not None:  # the two lists' state names are distinct, so one family holds both
        for state, count in sorted({**(counts.cache or {}), **(counts.update_list or {})}.items()):
            _add(bindings, [state], count, f"bindings in state {state}")
    tunnels = GaugeMetricFamily("dmm_tunnels", "Tunnels installed in the data plane.")
    tunnels.add_metric([], len(snap.tunnels or ()))
    return [bindings, tunnels]


def _capacity(snap: Snapshot) -> list[Metric]:
    """The LMA's capacity ceiling (lma/max-bindings), its use and the registrations it refused."""
    counts, lma = snap.bindings, snap.counters.lma
    if counts is None or counts.cache_max is None or lma is None:
        return []
    ceiling = GaugeMetricFamily("dmm_bindings_max", "Capacity ceiling of the binding cache (lma/max-bindings).")
    _add(ceiling, [], counts.cache_max, "max bindings")
    utilization = GaugeMetricFamily("dmm_binding_utilization_ratio",
                                    "Binding cache entries as a share of the capacity ceiling (1 = full).")
    _add(utilization, [], counts.cache_utilization, "binding utilization")
    refused = CounterMetricFamily("dmm_binding_capacity_rejections",
                                  "Proxy Binding Updates refused with status 130 because the binding cache was full.")
    _add(refused, [], lma.capacity_rejections, "capacity rejections")
    return [ceiling, utilization, refused]


def _pools(snap: Snapshot) -> list[Metric]:
    allocated = GaugeMetricFamily("dmm_pool_prefixes_allocated", "Prefixes assigned from the pool.", labels=["pool"])
    free = GaugeMetricFamily("dmm_pool_prefixes_free", "Prefixes still available in the pool.", labels=["pool"])
    for pool in snap.pools or ():
        _add(allocated, [pool.name], pool.used, f"pool {pool.name!r} allocated")
        _add(free, [pool.name], pool.free, f"pool {pool.name!r} free")
    return [allocated, free]


def _registrations(snap: Snapshot) -> list[Metric]:
    """A registration is handled when its PBA is sent (LMA) or received (MAG), by status."""
    s, roles = snap.counters.statistics, snap.node.roles
    received = CounterMetricFamily(
        "dmm_registrations_received", "Proxy Binding Updates handled: received (LMA), answered by the LMA (MAG).",
        labels=["role"])
    accepted = CounterMetricFamily(
        "dmm_registrations_accepted", "Proxy Binding Updates accepted (PBA status < 128).", labels=["role"])
    rejected = CounterMetricFamily(
        "dmm_registrations_rejected", "Proxy Binding Updates rejected, by PBA status code.", labels=["role", "status"]
    )
    sides = (("lma", s.pbu_received, s.pba_sent_by_status), ("mag", s.pba_received, s.pba_received_by_status))
    for role, handled, by_status in sides:
        if role not in roles:
            continue
        _add(received, [role], handled, f"{role} registrations handled")
        _add(accepted, [role], sum(n for code, n in by_status.items() if code < 128), f"{role} registrations accepted")
        for status, count in sorted(by_status.items()):
            if status >= 128:
                _add(rejected, [role, str(status)], count, f"{role} registrations rejected with status {status}")
    return [received, accepted, rejected]


RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def rtt_histogram(samples: Sequence[float]) -> HistogramSnapshot:
    """Cumulative buckets over the MAG's recent PBU->PBA round trips (seconds).

    The MAG keeps a bounded window of samples, so this histogram describes recent traffic;
    its count is the window's size, not a lifetime total.
    """
    buckets = tuple((bound, sum(1 for x in samples if x <= bound)) for bound in RTT_BUCKETS)
    return HistogramSnapshot(buckets=buckets + ((math.inf, len(samples)),), sum_seconds=float(sum(samples)),
                             count=len(samples))


def _pba_rtt(snap: Snapshot) -> list[Metric]:
    mag = snap.counters.mag
    if mag is None:
        return []
    histogram = rtt_histogram(mag.pba_rtt_seconds)
    family = HistogramMetricFamily(
        "dmm_pba_round_trip_seconds", "Time from sending a Proxy Binding Update to receiving its acknowledgement."
    )
    buckets = [("+Inf" if bound == math.inf else repr(float(bound)), count) for bound, count in histogram.buckets]
    family.add_metric([], buckets, histogram.sum_seconds)
    return [family]


def _revocations(snap: Snapshot) -> list[Metric]:
    s = snap.counters.statistics
    revocations = CounterMetricFamily(
        "dmm_revocations",
        "Binding Revocation Indications (RFC 5846) by direction and revocation trigger code.",
        labels=["direction", "trigger"],
    )
    for direction, by_trigger in (("sent", s.bri_sent_by_trigger), ("received", s.bri_received_by_trigger)):
        for trigger, count in sorted(by_trigger.items()):
            _add(revocations, [direction, str(trigger)], count, f"revocations {direction} with trigger {trigger}")
    return [revocations]


def _peers(snap: Snapshot) -> list[Metric]:
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
    for peer in snap.peers or ():
        label = [str(peer.address)]
        if peer.liveness is None:  # a counted peer the heartbeat monitor does not watch
            continue
        up.add_metric(label, 1.0 if peer.liveness == "up" else 0.0)
        _add(last_change, label, peer.last_change, f"peer {label[0]} last change")
        _add(requests, label, peer.count("heartbeat-request", "sent"), f"peer {label[0]} heartbeat requests")
        _add(responses, label, peer.count("heartbeat-response", "received"), f"peer {label[0]} heartbeat responses")
        _add(timeouts, label, peer.heartbeat_timeouts, f"peer {label[0]} heartbeat timeouts")
        _add(restarts, label, peer.restart_count, f"peer {label[0]} restarts")
    return [up, last_change, requests, responses, timeouts, restarts]


def _add_messages(family: Metric, labels: list[str], kind: str, c, what: str) -> None:
    """The samples of one message kind: received ok / dropped / malformed, sent ok / failed."""
    for direction, result, value in (("received", "ok", c.received - c.dropped), ("received", "dropped", c.dropped),
                                     ("received", "malformed", c.malformed),
                                     ("sent", "ok", c.sent), ("sent", "failed", c.send_failures)):
        _add(family, [*labels, kind, direction, result], value, f"{what} {kind} {direction} {result}")


def _messages(snap: Snapshot) -> list[Metric]:
    s = snap.counters.statistics
    messages = CounterMetricFamily(
        "dmm_messages", "Mobility Header messages by type: received (ok, dropped after decoding, or malformed) "
        "and sent (ok, or failed to go).", labels=["type", "direction", "result"])
    for kind, c in s.messages.items():
        _add_messages(messages, [], kind, c, "messages")
    failures = CounterMetricFamily("dmm_messages_send_failures", "Messages that could not be sent, by reason.",
                                   labels=["reason"])
    for reason, count in sorted(s.send_failures_by_reason.items()):
        _add(failures, [reason], count, f"send failures for {reason}")
    return [messages, failures]


def _peer_messages(snap: Snapshot) -> list[Metric]:
    """Per peer (configured or authorised nodes only, never mobile nodes): the same counts,
    and the status (PBA, BRA) or trigger (BRI) codes of what was exchanged."""
    messages = CounterMetricFamily(
        "dmm_peer_messages", "Mobility Header messages exchanged with the peer, by type, direction and result.",
        labels=["peer", "type", "direction", "result"])
    codes = CounterMetricFamily(
        "dmm_peer_message_codes", "PBAs and BRAs exchanged with the peer by status, BRIs by revocation trigger.",
        labels=["peer", "type", "direction", "code"])
    for peer in snap.peers or ():
        label = str(peer.address)
        for kind, c in peer.messages.items():
            _add_messages(messages, [label], kind, c, f"peer {label} messages")
            if kind in ("pba", "bri", "bra"):
                for direction, by_code in (("received", c.received_by_code), ("sent", c.sent_by_code)):
                    for code, count in sorted(by_code.items()):
                        _add(codes, [label, kind, direction, str(code)], count, f"peer {label} {kind} code {code}")
    refused = CounterMetricFamily(
        "dmm_peer_messages_refused", "Messages from the peer refused by the signalling security, by reason.",
        labels=["peer", "reason"])
    for peer in snap.peers or ():
        for reason, count in sorted(peer.refusals.items()):
            _add(refused, [str(peer.address), reason], count, f"peer {peer.address} refused {reason}")
    return [messages, codes, refused]


def _mobility(snap: Snapshot) -> list[Metric]:
    s = snap.counters.statistics
    handovers = CounterMetricFamily("dmm_handovers", "Mobile nodes moved from one access gateway to another.")
    _add(handovers, [], s.handovers, "handovers")
    dropped = CounterMetricFamily(
        "dmm_messages_dropped", "Signalling messages dropped, by reason.", labels=["reason"]
    )
    for reason, count in sorted(s.drops_by_reason.items()):
        _add(dropped, [reason], count, f"messages dropped for {reason}")
    return [handovers, dropped]


def _data_path(snap: Snapshot) -> list[Metric]:
    """BFD through the tunnels (per peer), the forwarding audit, the path probes."""
    dp = snap.data_path
    if dp is None:
        return []
    up = GaugeMetricFamily("dmm_bfd_session_up", "BFD session with the peer: 1 up, 0 not.", labels=["peer"])
    state = GaugeMetricFamily("dmm_bfd_session_state",
                              "BFD session state (RFC 5880: 0 AdminDown, 1 Down, 2 Init, 3 Up).", labels=["peer"])
    downs = CounterMetricFamily("dmm_bfd_session_down", "Times the BFD session went down from up.", labels=["peer"])
    diagnostic = GaugeMetricFamily("dmm_bfd_session_diagnostic",
                                   "Why the session last changed state (RFC 5880 Diagnostic field).", labels=["peer"])
    for peer, session in sorted(dp.bfd_sessions.items()):
        label = [str(peer)]
        up.add_metric(label, 1.0 if session.local_state == 3 else 0.0)
        _add(state, label, int(session.local_state), f"BFD {peer} state")
        _add(downs, label, session.down_count, f"BFD {peer} downs")
        _add(diagnostic, label, session.local_diagnostic, f"BFD {peer} diagnostic")
    c = dp.bfd_counters
    packets = CounterMetricFamily("dmm_bfd_packets", "BFD Control packets, by direction.", labels=["direction"])
    _add(packets, ["received"], c.packets_in, "BFD packets received")
    _add(packets, ["sent"], c.packets_out, "BFD packets sent")
    dropped = CounterMetricFamily("dmm_bfd_packets_dropped", "Received BFD packets dropped, by reason.",
                                  labels=["reason"])
    for reason, count in sorted(c.drops.items()):
        _add(dropped, [reason], count, f"BFD drops for {reason}")
    audit = dp.audit
    audits = CounterMetricFamily("dmm_forwarding_audits", "Forwarding audits run (periodic and requested).")
    _add(audits, [], audit.runs, "forwarding audits")
    repairs = CounterMetricFamily("dmm_forwarding_repairs", "Differences between bindings and kernel repaired.")
    _add(repairs, [], audit.repairs, "forwarding repairs")
    mismatches = GaugeMetricFamily("dmm_forwarding_mismatches",
                                   "Differences the last forwarding audit found, by kind.", labels=["kind"])
    last = Counter(m.kind.value for m in audit.last_report.mismatches) if audit.last_report else Counter()
    for kind in ("missing", "unowned", "wrong-sid", "wrong-next-hop", "wrong-device", "wrong-table", "stale"):
        _add(mismatches, [kind], last[kind], f"forwarding mismatches {kind}")
    families = [up, state, downs, diagnostic, packets, dropped, audits, repairs, mismatches]
    if audit.last_duration is not None:
        duration = GaugeMetricFamily("dmm_forwarding_audit_duration_seconds", "Time the last forwarding audit took.")
        _add(duration, [], audit.last_duration, "audit duration")
        stamp = GaugeMetricFamily("dmm_forwarding_audit_timestamp_seconds", "Unix time the last audit ended.")
        _add(stamp, [], audit.last_time, "audit time")
        families += [duration, stamp]
    probes = dp.probe_counters
    messages = CounterMetricFamily("dmm_path_probe_messages", "Path probe messages, by direction.",
                                   labels=["direction"])
    _add(messages, ["sent"], probes.get("sent", 0), "path probes sent")
    _add(messages, ["received"], probes.get("received", 0), "path probes received")
    answered = CounterMetricFamily("dmm_path_probe_answers", "Path probes of peers answered.")
    _add(answered, [], probes.get("answered", 0), "path probes answered")
    drops = CounterMetricFamily("dmm_path_probe_drops", "Path probe messages dropped, by reason.", labels=["reason"])
    for key, count in sorted(probes.items()):
        if key.startswith("drop:"):
            _add(drops, [key[5:]], count, f"path probe drops {key}")
    return families + [messages, answered, drops]


def _event_history(snap: Snapshot) -> list[Metric]:
    """The durable event history: what it recorded, and what it lost before the disk."""
    if snap.events is None:
        return []
    status = snap.events.status
    recorded = CounterMetricFamily("dmm_event_history_recorded", "Events recorded in the history since start.")
    _add(recorded, [], status.recorded, "events recorded")
    dropped = CounterMetricFamily("dmm_event_history_dropped",
                                  "Events lost before they reached the state directory (queue full, write failed).")
    _add(dropped, [], status.dropped, "events dropped")
    failures = CounterMetricFamily("dmm_event_history_write_failures", "Writes of the history that failed.")
    _add(failures, [], status.write_failures, "history write failures")
    pending = GaugeMetricFamily("dmm_event_history_pending", "Events recorded and not yet written.")
    _add(pending, [], status.pending, "events pending")
    return [recorded, dropped, failures, pending]


def _netconf(counters: ManagementCounters) -> list[Metric]:
    sessions = GaugeMetricFamily("dmm_netconf_sessions", "Open NETCONF sessions.")
    _add(sessions, [], counters.sessions, "NETCONF sessions")
    rpcs = CounterMetricFamily(
        "dmm_netconf_rpcs", "NETCONF RPCs answered, by operation and error-tag (none on success).",
        labels=["operation", "error"],
    )
    for rpc in counters.rpcs:
        rpcs.add_metric([rpc.operation, rpc.error_tag or "none"], rpc.count)
    commits = CounterMetricFamily("dmm_config_commits", "Configuration commits applied to running.")
    _add(commits, [], counters.commits, "config commits")
    pending = GaugeMetricFamily("dmm_netconf_pending_connections",
                                "NETCONF connections accepted that have no session yet (handshake, login, hello).")
    _add(pending, [], counters.pending_connections, "pending NETCONF connections")
    failures = CounterMetricFamily("dmm_netconf_login_failures", "Failed NETCONF password logins.")
    _add(failures, [], counters.login_failures, "NETCONF login failures")
    timeouts = CounterMetricFamily("dmm_netconf_login_timeouts",
                                   "NETCONF connections closed for having no session within the login timeout.")
    _add(timeouts, [], counters.login_timeouts, "NETCONF login timeouts")
    refused = CounterMetricFamily("dmm_netconf_refused", "NETCONF connections and sessions refused, by limit.",
                                  labels=["reason"])
    by_reason = dict(counters.refused)
    for reason in REFUSAL_REASONS:
        _add(refused, [reason], by_reason.get(reason, 0), f"NETCONF refused {reason}")
    ended = CounterMetricFamily("dmm_netconf_requests_ended",
                                "NETCONF reads ended before their reply, by why: time-limit or client-gone.",
                                labels=["reason"])
    _add(ended, ["time-limit"], counters.requests_over_time_limit, "NETCONF reads over their time limit")
    _add(ended, ["client-gone"], counters.requests_abandoned, "NETCONF reads abandoned")
    return [sessions, rpcs, commits, pending, failures, timeouts, refused, ended]


# Sections mapping the runtime's snapshot, in exposition order. Adding one: a function above
# and a row here (and, for new state, its section in nf/snapshot.py and METRICS_REQUEST).
SECTIONS: dict[str, Section] = {
    "node": _node,
    "bindings": _bindings,
    "capacity": _capacity,
    "pools": _pools,
    "registrations": _registrations,
    "pba-rtt": _pba_rtt,
    "revocations": _revocations,
    "peers": _peers,
    "peer-messages": _peer_messages,
    "messages": _messages,
    "mobility": _mobility,
    "data-path": _data_path,
    "event-history": _event_history,
}
ERROR_SECTIONS = ("snapshot", *SECTIONS, "netconf")


class Collector(CollectorBase):
    """Register with a `CollectorRegistry`; each scrape reads the source's snapshot once."""

    def __init__(self, source: MetricsSource) -> None:
        self._source = source
        self._errors: Counter[str] = Counter()
        self._lock = threading.Lock()  # scrapes may run concurrently in the HTTP server's threads

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        families: list[Metric] = []
        snapshot = self._run("snapshot", self._source.snapshot)
        if snapshot is not None:
            for name, section in SECTIONS.items():
                families.extend(self._run(name, section, snapshot) or ())
        management = self._run("netconf", self._source.management)
        if management is not None:
            families.extend(self._run("netconf", _netconf, management) or ())
        yield from families
        errors = CounterMetricFamily(
            "dmm_exporter_source_errors", "Scrapes that left a section out because reading it failed.",
            labels=["section"],
        )
        with self._lock:
            for name in ERROR_SECTIONS:
                errors.add_metric([name], self._errors[name])
        yield errors
        duration = GaugeMetricFamily(
            "dmm_exporter_scrape_duration_seconds", "Time this scrape took to read the source."
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _run(self, name: str, fn: Callable, *args):
        """fn(*args), or None — logged and counted against section `name` — if it raises."""
        try:
            return fn(*args)
        except Exception:  # a broken source must not break the scrape; the counter tells
            log.exception("metrics section %s failed", name)
            with self._lock:
                self._errors[name] += 1
            return None
