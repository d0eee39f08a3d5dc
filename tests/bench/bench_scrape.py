"""Benchmark: a scrape with 1,000,000 bindings against an idle node, in the same run.

The exporter exports counts per state, never one series per binding, so time and size of
a scrape should not depend on how many mobile nodes are registered. Both sources have the
same 50 peers and 10 pools; only bindings and counters differ.

Run: `.venv/bin/python -m tests.bench.bench_scrape [--quick]`
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
import urllib.request

from exporters.http import MetricsServer, build_registry
from exporters.source import (
    FakeSource,
    HistogramSnapshot,
    PeerLiveness,
    PoolUsage,
    RegistrationCounters,
)

BINDINGS = 1_000_000
PEERS = 50
POOLS = 10


def _source(bindings: int) -> FakeSource:
    busy = bindings > 0
    return FakeSource(
        bindings={"active": bindings, "deleting": bindings // 100} if busy else {},
        pool_usage=[PoolUsage(f"pool-{i}", allocated=bindings // POOLS, free=2**20 - bindings // POOLS)
                    for i in range(POOLS)],
        tunnels=PEERS,
        registrations=RegistrationCounters(received=3 * bindings, accepted=3 * bindings - bindings // 50,
                                           rejected_by_status={152: bindings // 100, 154: bindings // 100} if busy else {}),
        pba_rtt=HistogramSnapshot(((0.001, bindings // 2), (0.01, bindings), (math.inf, bindings)),
                                  sum_seconds=bindings * 0.002, count=bindings),
        peer_liveness=[PeerLiveness(f"2001:db8::{i:x}", up=True, last_change=time.time(),
                                    heartbeat_requests=bindings, heartbeat_responses=bindings) for i in range(PEERS)],
        handovers=bindings // 3,
    )


def _scrape(source: FakeSource, scrapes: int) -> tuple[float, int]:
    """Median seconds of a full HTTP scrape of /metrics, and the body size in bytes."""
    with MetricsServer(source, "127.0.0.1", 0, registry=build_registry(source, process_metrics=False)) as server:
        times, size = [], 0
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
                size = len(response.read())
            times.append(time.perf_counter() - started)
    return statistics.median(times), size


def run(quick: bool = False) -> list[dict]:
    scrapes = 20 if quick else 200
    idle_time, idle_size = _scrape(_source(0), scrapes)
    busy_time, busy_size = _scrape(_source(BINDINGS), scrapes)
    notes = f"median of {scrapes} HTTP scrapes; {PEERS} peers, {POOLS} pools in both sources"
    return [
        {
            "name": "scrape_seconds_1m_bindings",
            "value": busy_time,
            "unit": "s",
            "baseline": {"name": "scrape_seconds_idle", "value": idle_time, "unit": "s"},
            "goal": "at most 1.5x the idle scrape time",
            "met": busy_time <= 1.5 * idle_time,
            "notes": notes,
        },
        {
            "name": "scrape_bytes_1m_bindings",
            "value": busy_size,
            "unit": "bytes",
            "baseline": {"name": "scrape_bytes_idle", "value": idle_size, "unit": "bytes"},
            "goal": "at most 10% larger than the idle scrape (a few per-state series and longer numbers, nothing per binding)",
            "met": busy_size <= 1.1 * idle_size,
            "notes": notes,
        },
    ]


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
