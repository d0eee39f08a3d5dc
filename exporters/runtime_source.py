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

    def _role_attr(self, attr: str):
        for role in self.runtime.roles.values():
            value = getattr(role, attr, None)
            if value is not None:
                return value
        return None

    def info(self) -> NodeInfo:
        return NodeInfo(version=VERSION, roles=tuple(sorted(self.runtime.settings.node.roles)))

    def start_time(self) -> float:
        return self.runtime.start_wall

    def bindings_by_state(self) -> Mapping[str, int]:
        def read() -> dict[str, int]:
            cache = getattr(self.runtime.roles.get("lma"), "binding_cache", None)
            if cache is None:
                return {}
            return {state.value: n for state, n in cache.count_by_state().items()}
        return self._call(read)

    def pools(self) -> Sequence[PoolUsage]:
        def read() -> list[PoolUsage]:
            pools = self._role_attr("pools")
            return [PoolUsage(p.name, p.used, p.free) for p in pools] if pools is not None else []
        return self._call(read)

    def tunnels_count(self) -> int:
        return self._call(lambda: len(self.runtime.dataplane.tunnels()))

    def registration_counters(self) -> RegistrationCounters:
        def read() -> RegistrationCounters:
            s = self.runtime.stats
            rejected = {code: n for code, n in s.pba_sent_by_status.items() if code >= 128}
            return RegistrationCounters(received=s.pbu_received, accepted=s.pba_accepted_sent,
                                        rejected_by_status=rejected)
        return self._call(read)

    def pba_rtt_histogram(self) -> HistogramSnapshot | None:
        def read() -> HistogramSnapshot | None:
            histogram = getattr(self.runtime.roles.get("mag"), "pba_rtt", None)
            return histogram.snapshot() if histogram is not None else None
        return self._call(read)

    def revocations_by_trigger(self) -> RevocationCounters:
        def read() -> RevocationCounters:
            s = self.runtime.stats
            return RevocationCounters(sent=dict(s.bri_sent_by_trigger), received=dict(s.bri_received_by_trigger))
        return self._call(read)

    def peers(self) -> Sequence[PeerLiveness]:
        def read() -> list[PeerLiveness]:
            monitor = self.runtime.roles.get("liveness")
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
        return []

    def config_commits(self) -> int:
        return 0

    def ready(self) -> Readiness:
        reasons = []
        if not self.runtime.ready:
            reasons.append("runtime not started")
        if self.service is not None and getattr(self.service, "netconf", None) is None:
            reasons.append("NETCONF server not started")
        return Readiness(ready=not reasons, reasons=tuple(reasons))
