"""`MetricsSource` over a live runtime: what a scrape reads, in one call to the runtime's loop.

The metrics endpoint runs in its own thread. A scrape asks the runtime for one snapshot of
the metric sections (`Runtime.snapshot(METRICS_REQUEST)`), so it sees the state between two
messages and never touches the loop's objects concurrently; every section it asks for is
bounded or counted (nf/snapshot.py), so the read does not grow with the number of bindings.
The NETCONF server's counters are read under the server's own lock, not on the loop.
"""
from __future__ import annotations

from typing import Any

from exporters.source import METRICS_REQUEST, ManagementCounters, NetconfRpcCount, Readiness
from nf.runtime import Runtime
from nf.snapshot import Snapshot


class RuntimeSource:
    def __init__(self, runtime: Runtime, service: Any = None) -> None:
        self.runtime = runtime
        self.service = service

    def snapshot(self) -> Snapshot:
        return self.runtime.snapshot(METRICS_REQUEST)

    def management(self) -> ManagementCounters:
        server = getattr(self.service, "netconf", None)
        if server is None:
            return ManagementCounters()
        rpcs = tuple(NetconfRpcCount(operation=op, error_tag=tag, count=n) for (op, tag), n in
                     sorted(server.counters.rpcs().items(), key=lambda kv: (kv[0][0], kv[0][1] or "")))
        admission = server.admission.snapshot()
        return ManagementCounters(sessions=len(server.session_list()), rpcs=rpcs, commits=server.counters.commits(),
                                  pending_connections=admission.pending, login_failures=admission.login_failures,
                                  login_timeouts=admission.login_timeouts, refused=tuple(admission.refused.items()),
                                  requests_over_time_limit=server.counters.over_time_limit,
                                  requests_abandoned=server.counters.abandoned)

    def ready(self) -> Readiness:
        reasons = []
        if not self.runtime.ready:
            reasons.append("runtime not started")
        if self.service is not None and getattr(self.service, "netconf", None) is None:
            reasons.append("NETCONF server not started")
        return Readiness(ready=not reasons, reasons=tuple(reasons))
