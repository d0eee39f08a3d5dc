"""What the metrics exporter reads from the network function, as a small typed interface.

The runtime implements `MetricsSource` through an adapter; tests use `FakeSource`. The
collector calls each method once per scrape, from the HTTP server's thread, so an adapter
must read the runtime thread-safely (for example through `runtime.call`). Every value is
an aggregate: counts and totals, never one entry per mobile node, so the size of a scrape
does not grow with the number of bindings.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class SourceDataError(ValueError):
    """A value read from the source is inconsistent (negative count, unsorted buckets…)."""


def _check_count(what: str, value: int | float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise SourceDataError(f"{what} must be a non-negative number, got {value!r}")


@dataclass(frozen=True)
class NodeInfo:
    """Software version and the roles this node plays ("lma", "mag", "maar")."""

    version: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class PoolUsage:
    """Home network prefixes of one configured pool."""

    name: str
    allocated: int
    free: int

    def __post_init__(self) -> None:
        _check_count(f"pool {self.name!r} allocated", self.allocated)
        _check_count(f"pool {self.name!r} free", self.free)


@dataclass(frozen=True)
class RegistrationCounters:
    """Proxy Binding Updates handled since start (LMA: received from MAGs; MAG: its own,
    answered by the LMA). `rejected_by_status` is keyed by the PBA status code (>= 128)."""

    received: int = 0
    accepted: int = 0
    rejected_by_status: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_count("registrations received", self.received)
        _check_count("registrations accepted", self.accepted)
        for status, count in self.rejected_by_status.items():
            if not isinstance(status, int) or not 0 <= status <= 255:
                raise SourceDataError(f"PBA status must be an integer 0..255, got {status!r}")
            _check_count(f"registrations rejected with status {status}", count)


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
        _check_count("histogram count", self.count)
        _check_count("histogram sum", self.sum_seconds)


@dataclass(frozen=True)
class RevocationCounters:
    """Binding Revocation Indications (RFC 5846) by revocation trigger code."""

    sent: Mapping[int, int] = field(default_factory=dict)
    received: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for direction, by_trigger in (("sent", self.sent), ("received", self.received)):
            for trigger, count in by_trigger.items():
                if not isinstance(trigger, int) or not 0 <= trigger <= 255:
                    raise SourceDataError(f"revocation trigger must be an integer 0..255, got {trigger!r}")
                _check_count(f"revocations {direction} with trigger {trigger}", count)


@dataclass(frozen=True)
class PeerLiveness:
    """Path liveness of one configured peer (RFC 5847 heartbeats and restart detection).

    `last_change` is the Unix time the path last went up or down; `heartbeat_requests`
    counts requests sent to the peer, `heartbeat_responses` responses received from it,
    `heartbeat_timeouts` requests left unanswered; `restarts` counts restarts of the peer
    detected through its Restart Counter."""

    peer: str
    up: bool
    last_change: float
    heartbeat_requests: int = 0
    heartbeat_responses: int = 0
    heartbeat_timeouts: int = 0
    restarts: int = 0

    def __post_init__(self) -> None:
        for name in ("last_change", "heartbeat_requests", "heartbeat_responses", "heartbeat_timeouts", "restarts"):
            _check_count(f"peer {self.peer!r} {name}", getattr(self, name))


@dataclass(frozen=True)
class NetconfRpcCount:
    """RPCs answered for one operation; `error_tag` is the RFC 6241 error-tag, None on success."""

    operation: str
    error_tag: str | None
    count: int

    def __post_init__(self) -> None:
        _check_count(f"NETCONF {self.operation!r} RPCs", self.count)


@dataclass(frozen=True)
class Readiness:
    """Whether the node can serve, and if not, why (one short sentence per reason)."""

    ready: bool
    reasons: tuple[str, ...] = ()


class MetricsSource(Protocol):
    """The read interface the exporter needs from the network function."""

    def info(self) -> NodeInfo: ...

    def start_time(self) -> float:
        """Unix time the process started."""
        ...

    def bindings_by_state(self) -> Mapping[str, int]:
        """Binding cache (LMA) or binding update list (MAG) entries per state."""
        ...

    def pools(self) -> Sequence[PoolUsage]: ...

    def tunnels_count(self) -> int: ...

    def registration_counters(self) -> RegistrationCounters: ...

    def pba_rtt_histogram(self) -> HistogramSnapshot | None:
        """PBU→PBA round-trip times seen by a MAG; None on a node without the MAG role."""
        ...

    def revocations_by_trigger(self) -> RevocationCounters: ...

    def peers(self) -> Sequence[PeerLiveness]: ...

    def handovers_total(self) -> int: ...

    def drops_by_reason(self) -> Mapping[str, int]:
        """Signalling messages dropped, by reason (a bounded set such as the codec's error reasons)."""
        ...

    def netconf_sessions(self) -> int: ...

    def netconf_rpcs(self) -> Sequence[NetconfRpcCount]: ...

    def config_commits(self) -> int: ...

    def ready(self) -> Readiness: ...


@dataclass
class FakeSource:
    """A `MetricsSource` holding plain values, for tests and benchmarks. Assign the fields
    to change what the next scrape sees."""

    node: NodeInfo = field(default_factory=lambda: NodeInfo("0.0.0", ("lma",)))
    started: float = field(default_factory=time.time)
    bindings: dict[str, int] = field(default_factory=dict)
    pool_usage: list[PoolUsage] = field(default_factory=list)
    tunnels: int = 0
    registrations: RegistrationCounters = field(default_factory=RegistrationCounters)
    pba_rtt: HistogramSnapshot | None = None
    revocations: RevocationCounters = field(default_factory=RevocationCounters)
    peer_liveness: list[PeerLiveness] = field(default_factory=list)
    handovers: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    rpcs: list[NetconfRpcCount] = field(default_factory=list)
    commits: int = 0
    readiness: Readiness = field(default_factory=lambda: Readiness(True))

    @classmethod
    def populated(cls) -> FakeSource:
        """A source with every metric holding at least one sample."""
        now = time.time()
        return cls(
            node=NodeInfo("0.1.0", ("lma", "mag")),
            started=now - 3600,
            bindings={"active": 40, "deleting": 2},
            pool_usage=[PoolUsage("pool-a", allocated=42, free=982)],
            tunnels=3,
            registrations=RegistrationCounters(received=120, accepted=110, rejected_by_status={152: 6, 154: 4}),
            pba_rtt=HistogramSnapshot(
                buckets=((0.001, 10), (0.005, 80), (0.025, 115), (0.1, 119), (math.inf, 120)),
                sum_seconds=0.61,
                count=120,
            ),
            revocations=RevocationCounters(sent={1: 2}, received={2: 5}),
            peer_liveness=[
                PeerLiveness("2001:db8::1", up=True, last_change=now - 600, heartbeat_requests=60,
                             heartbeat_responses=59, heartbeat_timeouts=1, restarts=1),
                PeerLiveness("2001:db8::2", up=False, last_change=now - 30, heartbeat_requests=60,
                             heartbeat_responses=50, heartbeat_timeouts=10),
            ],
            handovers=9,
            drops={"bad-checksum": 1, "unknown-peer": 3},
            sessions=2,
            rpcs=[NetconfRpcCount("get", None, 30), NetconfRpcCount("edit-config", "invalid-value", 2)],
            commits=5,
        )

    def info(self) -> NodeInfo:
        return self.node

    def start_time(self) -> float:
        return self.started

    def bindings_by_state(self) -> Mapping[str, int]:
        return self.bindings

    def pools(self) -> Sequence[PoolUsage]:
        return self.pool_usage

    def tunnels_count(self) -> int:
        return self.tunnels

    def registration_counters(self) -> RegistrationCounters:
        return self.registrations

    def pba_rtt_histogram(self) -> HistogramSnapshot | None:
        return self.pba_rtt

    def revocations_by_trigger(self) -> RevocationCounters:
        return self.revocations

    def peers(self) -> Sequence[PeerLiveness]:
        return self.peer_liveness

    def handovers_total(self) -> int:
        return self.handovers

    def drops_by_reason(self) -> Mapping[str, int]:
        return self.drops

    def netconf_sessions(self) -> int:
        return self.sessions

    def netconf_rpcs(self) -> Sequence[NetconfRpcCount]:
        return self.rpcs

    def config_commits(self) -> int:
        return self.commits

    def ready(self) -> Readiness:
        return self.readiness
