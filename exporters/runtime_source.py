"""`MetricsSource` over a live runtime: what a scrape reads, taken on the runtime's loop.

The metrics endpoint runs in its own thread; each read goes through `Runtime.call`, so it
sees the state between two messages and never touches the loop's objects concurrently.
Everything here aggregates (counts by state, by code, by peer): no read grows with the
number of bindings beyond one pass over the counts the binding cache keeps.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from exporters.source import (
    HistogramSnapshot,
    NetconfRpcCount,
    NodeInfo,
    PeerLiveness,
    PoolUsage,
    Readiness,
    RegistrationCounters,
    RevocationCounters,
)
from nf.runtime import VERSION, Runtime


class RuntimeSource:
    def __init__(self, runtime: Runtime, service: Any = None) -> None:
        self.runtime = runtime
        self.service = service

    def _call(self, fn, *args):
        return self.runtime.call(fn, *args)

    def info(self) -> NodeInfo:
        return NodeInfo(version=VERSION, roles=tuple(sorted(self.runtime.settings.node.roles)))

    def start_time(self) -> float:
        return self.runtime.start_wall

    def bindings_by_state(self) -> Mapping[str, int]:
        def read() -> dict[str, int]:
            lma = self.runtime.lma
            return lma.count_by_state() if lma is not None else {}
        return self._call(read)

    def pools(self) -> Sequence[PoolUsage]:
        def read() -> list[PoolUsage]:
            lma = self.runtime.lma
            return [PoolUsage(p.name, p.used, p.free) for p in lma.pool_usage()] if lma is not None else []
        return self._call(read)

    def tunnels_count(self) -> int:
        return self._call(lambda: len(self.runtime.dataplane.tunnels))

    def registration_counters(self) -> RegistrationCounters:
        def read() -> RegistrationCounters:
            s = self.runtime.stats
            rejected = {code: n for code, n in s.pba_sent_by_status.items() if code >= 128}
            return RegistrationCounters(received=s.pbu_received, accepted=s.pba_accepted_sent,
                                        rejected_by_status=rejected)
        return self._call(read)

    def pba_rtt_histogram(self) -> HistogramSnapshot | None:
        def read() -> HistogramSnapshot | None:
            mag = self.runtime.mag
            return rtt_histogram(mag.rtt_samples()) if mag is not None else None
        return self._call(read)

    def revocations_by_trigger(self) -> RevocationCounters:
        def read() -> RevocationCounters:
            s = self.runtime.stats
            return RevocationCounters(sent=dict(s.bri_sent_by_trigger), received=dict(s.bri_received_by_trigger))
        return self._call(read)

    def peers(self) -> Sequence[PeerLiveness]:
        def read() -> list[PeerLiveness]:
            monitor = self.runtime.liveness
            if monitor is None:
                return []
            timeouts = self.runtime.stats.heartbeat_timeouts
            rows = []
            for p in monitor.snapshot():
                rows.append(PeerLiveness(
                    peer=p["address"], up=p["liveness-state"] == "up",
                    last_change=max(p["last-up"] or 0.0, p["last-down"] or 0.0),
                    heartbeat_requests=p["heartbeats-sent"],
                    heartbeat_responses=p["heartbeats-received"],
                    heartbeat_timeouts=timeouts[p["address"]],
                    restarts=p["restart-count"]))
            return rows
        return self._call(read)

    def handovers_total(self) -> int:
        return self._call(lambda: self.runtime.stats.handovers)

    def drops_by_reason(self) -> Mapping[str, int]:
        return self._call(lambda: dict(self.runtime.stats.drops_by_reason))

    def netconf_sessions(self) -> int:
        server = getattr(self.service, "netconf", None)
        return len(server.session_list()) if server is not None else 0

    def netconf_rpcs(self) -> Sequence[NetconfRpcCount]:
        """The NETCONF server's replies by operation and error-tag (read under its own lock,
        not on the runtime's loop: the counters belong to the server)."""
        server = getattr(self.service, "netconf", None)
        if server is None:
            return []
        return [NetconfRpcCount(operation=op, error_tag=tag, count=n)
                for (op, tag), n in sorted(server.counters.rpcs().items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

    def config_commits(self) -> int:
        server = getattr(self.service, "netconf", None)
        return server.counters.commits() if server is not None else 0

    def ready(self) -> Readiness:
        reasons = []
        if not self.runtime.ready:
            reasons.append("runtime not started")
        if self.service is not None and getattr(self.service, "netconf", None) is None:
            reasons.append("NETCONF server not started")
        return Readiness(ready=not reasons, reasons=tuple(reasons))


RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def rtt_histogram(samples: Sequence[float]) -> HistogramSnapshot:
    """Cumulative buckets over the MAG's recent PBU->PBA round trips (seconds).

    The MAG keeps a bounded window of samples, so this histogram describes recent traffic;
    its count is the window's size, not a lifetime total.
    """
    buckets = tuple((bound, sum(1 for x in samples if x <= bound)) for bound in RTT_BUCKETS)
    return HistogramSnapshot(buckets=buckets + ((float("inf"), len(samples)),), sum_seconds=float(sum(samples)),
                             count=len(samples))
