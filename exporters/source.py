"""What the metrics exporter reads from the network function, as a small typed interface.

A scrape reads the runtime's state once: one `nf.snapshot.Snapshot` of the sections in
`METRICS_REQUEST`, taken on the runtime's loop in one call, which the collector maps to
metric families. Beside it come the management plane's own counters (NETCONF sessions,
RPCs and commits belong to the NETCONF server, not to the runtime) and readiness (for
`/readyz`). The runtime implements `MetricsSource` through `RuntimeSource`
(exporters/runtime_source.py); tests use `FakeSource`, holding a snapshot they build
directly. Every section a scrape asks for is bounded by configuration (pools, peers,
tunnels) or holds counts, never one entry per mobile node, so the size of a scrape does
not grow with the number of bindings.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address, IPv6Network
from collections.abc import Mapping, Sequence
from typing import Protocol

from nf import VERSION
from nf.core.stats import MessageCounters, Statistics
from nf.liveness.heartbeat import HeartbeatTotals
from nf.roles.lma import LmaCounters
from nf.roles.mag import MagCounters
from nf.dataplane.base import AuditReport, Mismatch, MismatchKind
from nf.liveness.bfd import DROP_REASONS, BfdCounters, BfdSessionState, BfdState
from nf.history import HistoryStatus
from nf.liveness.forwarding import AuditState
from nf.snapshot import (
    BindingCounts,
    Counters,
    DataPathState,
    EventHistoryState,
    NodeState,
    PeerState,
    PoolState,
    Snapshot,
    SnapshotRequest,
    TunnelState,
)

# What a scrape asks the runtime for.
METRICS_REQUEST = SnapshotRequest.of("node", "bindings", "pools", "tunnels", "peers", "counters", "data_path",
                                     events=())  # the history's counters, none of its events


class SourceDataError(ValueError):
    """A value read from the source is inconsistent (negative count, unsorted buckets…)."""


def check_count(what: str, value: int | float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise SourceDataError(f"{what} must be a non-negative number, got {value!r}")


@dataclass(frozen=True)
class HistogramSnapshot:
    """A cumulative histogram in seconds: `buckets` holds (upper bound, observations at or
    below it) in ascending order; the last bound is +Inf and its count equals `count`."""

    buckets: tuple[tuple[float, int], ...]
    sum_seconds: float
    count: int

    def __post_init__(self) -> None:
        if not self.buckets or self.buckets[-1][0] != math.inf:
            raise SourceDataError("histogram buckets must end with the +Inf bound")
        bounds = [bound for bound, _ in self.buckets]
        counts = [count for _, count in self.buckets]
        if bounds != sorted(set(bounds)):
            raise SourceDataError("histogram bounds must be strictly ascending")
        if counts != sorted(counts) or counts[-1] != self.count:
            raise SourceDataError("histogram counts must be cumulative and end with the total count")
        check_count("histogram count", self.count)
        check_count("histogram sum", self.sum_seconds)


@dataclass(frozen=True)
class NetconfRpcCount:
    """RPCs answered for one operation; `error_tag` is the RFC 6241 error-tag, None on success."""

    operation: str
    error_tag: str | None
    count: int

    def __post_init__(self) -> None:
        check_count(f"NETCONF {self.operation!r} RPCs", self.count)


# why the NETCONF server refused a connection or a session (mgmt.netconf.admission)
REFUSAL_REASONS = ("pending-limit", "pending-per-source-limit", "session-limit", "session-per-source-limit")


@dataclass(frozen=True)
class ManagementCounters:
    """The NETCONF server's counters: open sessions, RPCs answered, commits of running, and
    what it refused or ended to stay available (docs/security.md)."""

    sessions: int = 0
    rpcs: tuple[NetconfRpcCount, ...] = ()
    commits: int = 0
    pending_connections: int = 0
    login_failures: int = 0
    login_timeouts: int = 0
    refused: tuple[tuple[str, int], ...] = ()  # (one of REFUSAL_REASONS, count)
    requests_over_time_limit: int = 0
    requests_abandoned: int = 0


@dataclass(frozen=True)
class Readiness:
    """Whether the node can serve, and if not, why (one short sentence per reason)."""

    ready: bool
    reasons: tuple[str, ...] = ()


class MetricsSource(Protocol):
    """The read interface the exporter needs; the collector calls `snapshot` and
    `management` once per scrape, from the HTTP server's thread."""

    def snapshot(self) -> Snapshot:
        """The runtime's state: the sections of METRICS_REQUEST, of one instant."""
        ...

    def management(self) -> ManagementCounters: ...

    def ready(self) -> Readiness: ...


def idle_snapshot(roles: tuple[str, ...] = ("lma",), started: float | None = None) -> Snapshot:
    """What a scrape of a node that has done nothing yet reads (for tests and benchmarks)."""
    now = time.time()
    return Snapshot(
        node=NodeState(name="node", address=IPv6Address("2001:db8::10"), roles=roles, software_version=VERSION,
                       restart_counter=0, start_wall=now if started is None else started, now_wall=now),
        bindings=BindingCounts(cache={} if "lma" in roles else None, cache_peak=0 if "lma" in roles else None,
                               update_list={} if "mag" in roles else None),
        pools=(), tunnels=(), peers=(),
        counters=Counters(Statistics(), HeartbeatTotals(), None, None, MagCounters() if "mag" in roles else None),
        data_path=data_path_state(),
    )


def data_path_state(sessions: Sequence[BfdSessionState] = (), audit: AuditState | None = None,
                    probes: Mapping[str, int] | None = None) -> DataPathState:
    """The data-path section with these BFD sessions (keyed by their key, a peer address)."""
    return DataPathState(bfd_sessions={s.key: s for s in sessions}, bfd_modes={s.key: "tunnel" for s in sessions},
                         bfd_counters=BfdCounters(0, 0, 0, 0, {reason: 0 for reason in DROP_REASONS}),
                         audit=audit or AuditState(), probe_counters=dict(probes or {}))


def bfd_session(address: str, *, up: bool, downs: int = 0) -> BfdSessionState:
    """A BFD session's state with the values the exporter reads (for tests and benchmarks)."""
    peer_address = IPv6Address(address)
    return BfdSessionState(
        key=peer_address, local_address=IPv6Address("2001:db8:fe::1"), remote_address=peer_address, source_port=49152,
        remote_port=4784, local_state=BfdState.UP if up else BfdState.DOWN, remote_state=BfdState.UP if up else BfdState.DOWN,
        local_discriminator=1, remote_discriminator=2 if up else 0,
        local_diagnostic=0 if up else 1, remote_diagnostic=0, detect_multiplier=3, remote_detect_multiplier=3,
        desired_min_tx=0.3, required_min_rx=0.3, advertised_desired_min_tx=0.3 if up else 1.0,
        remote_desired_min_tx=0.3, remote_required_min_rx=0.3, negotiated_tx_interval=0.3, detection_time=0.9,
        poll_in_progress=False, up_count=downs + (1 if up else 0), down_count=downs, last_up=None, last_down=None,
        last_state_change=0.0, packets_sent=10, packets_received=10, packets_dropped=0, minimum_ttl=254,
        authentication_type=0)


def peer(address: str, *, up: bool, last_change: float, requests: int = 0, responses: int = 0, timeouts: int = 0,
         restarts: int = 0) -> PeerState:
    """A monitored peer's state with the values the exporter reads (for tests and benchmarks)."""
    return PeerState(address=IPv6Address(address), liveness="up" if up else "down", heartbeat_timeouts=timeouts,
                     restart_count=restarts, last_up=last_change if up else None,
                     last_down=None if up else last_change,
                     messages={"heartbeat-request": MessageCounters(sent=requests),
                               "heartbeat-response": MessageCounters(received=responses)})


def statistics(*, handovers: int = 0, pbu_received: int = 0, pba_sent: Mapping[int, int] | None = None,
               pba_received: Mapping[int, int] | None = None, bri_sent: Mapping[int, int] | None = None,
               bri_received: Mapping[int, int] | None = None, drops: Mapping[str, int] | None = None) -> Statistics:
    """Node counters holding the given values (for tests and benchmarks)."""
    stats = Statistics(handovers=handovers, drops_by_reason=Counter(drops or {}))
    stats.messages["pbu"].received = pbu_received
    for kind, direction, by_code in (("pba", "sent", pba_sent), ("pba", "received", pba_received),
                                     ("bri", "sent", bri_sent), ("bri", "received", bri_received)):
        counters = stats.messages[kind]
        getattr(counters, f"{direction}_by_code").update(by_code or {})
        setattr(counters, direction, getattr(counters, direction) + sum((by_code or {}).values()))
    return stats


def pool(name: str, prefix: str, *, used: int, free: int) -> PoolState:
    network = IPv6Network(prefix)
    return PoolState(name=name, prefix=network, assign_length=64, size=used + free, used=used, free=free,
                     high_water=used)


@dataclass
class FakeSource:
    """A `MetricsSource` holding plain values, for tests and benchmarks. Assign `state`
    (a Snapshot, e.g. `dataclasses.replace(source.state, bindings=...)`) or the other
    fields to change what the next scrape sees."""

    state: Snapshot = field(default_factory=idle_snapshot)
    counters: ManagementCounters = field(default_factory=ManagementCounters)
    readiness: Readiness = field(default_factory=lambda: Readiness(True))

    @classmethod
    def populated(cls) -> FakeSource:
        """A source with every metric holding at least one sample."""
        now = time.time()
        stats = statistics(pbu_received=120, handovers=9, pba_sent={0: 110, 152: 6, 154: 4},
                           pba_received={0: 118, 130: 2}, bri_sent={1: 2}, bri_received={2: 5},
                           drops={"bad-checksum": 1, "unknown-peer": 3})
        stats.messages["pbu"].malformed = 1
        stats.messages["pba"].send_failures = 1
        stats.send_failures_by_reason.update({"socket-error": 1})
        mag = MagCounters()
        # 120 PBU->PBA round trips: 10 within 1 ms, 80 within 5 ms, 115 within 25 ms, 119 within 100 ms
        mag.pba_rtt_seconds.extend([0.001] * 10 + [0.004] * 70 + [0.02] * 35 + [0.08] * 4 + [0.2])
        base = idle_snapshot(("lma", "mag"), started=now - 3600)
        return cls(
            state=Snapshot(
                node=base.node,
                bindings=BindingCounts(cache={"active": 40, "deregistration-pending": 2}, cache_peak=45,
                                       cache_max=1000, update_list={"registered": 3}),
                pools=(pool("pool-a", "2001:db8:1000::/54", used=42, free=982),),
                tunnels=tuple(TunnelState(f"pmip-{i}", None, None) for i in range(3)),
                peers=(replace(peer("2001:db8::1", up=True, last_change=now - 600, requests=60, responses=59,
                                    timeouts=1, restarts=1), messages={
                           "heartbeat-request": MessageCounters(sent=60), "heartbeat-response": MessageCounters(received=59),
                           "pbu": MessageCounters(received=80, dropped=1, malformed=1),
                           "pba": MessageCounters(sent=79, send_failures=1, sent_by_code=Counter({0: 75, 154: 4})),
                           "bri": MessageCounters(sent=2, sent_by_code=Counter({1: 2})),
                           "bra": MessageCounters(received=2, received_by_code=Counter({0: 2}))}),
                       peer("2001:db8::2", up=False, last_change=now - 30, requests=60, responses=50, timeouts=10)),
                counters=Counters(stats, HeartbeatTotals(), None, LmaCounters(capacity_rejections=3), mag),
                data_path=data_path_state(
                    (bfd_session("2001:db8::1", up=True, downs=1), bfd_session("2001:db8::2", up=False, downs=2)),
                    AuditState(runs=4, repairs=1, last_time=now - 30, last_duration=0.05,
                               last_report=AuditReport(checked=40, objects=80, mismatches=(
                                   Mismatch(MismatchKind.MISSING, "route 2001:db8:1000::/64", "", ""),)),
                               mismatches_found=Counter({"missing": 2})),
                    {"sent": 4, "received": 4, "answered": 2, "drop:unknown-prefix": 1}),
                events=EventHistoryState(HistoryStatus(recorded=500, dropped=2, write_failures=1, pending=3,
                                                       last_sequence=1500), (), None),
            ),
            counters=ManagementCounters(
                sessions=2, rpcs=(NetconfRpcCount("get", None, 30), NetconfRpcCount("edit-config", "invalid-value", 2)),
                commits=5, pending_connections=1, login_failures=7, login_timeouts=2,
                refused=(("pending-per-source-limit", 4), ("session-limit", 1)),
                requests_over_time_limit=3, requests_abandoned=1),
        )

    def update(self, **sections) -> None:
        """Replace sections of the snapshot the next scrape reads (keywords: Snapshot fields)."""
        self.state = replace(self.state, **sections)

    def snapshot(self) -> Snapshot:
        return self.state

    def management(self) -> ManagementCounters:
        return self.counters

    def ready(self) -> Readiness:
        return self.readiness
