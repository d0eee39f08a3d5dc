"""Benchmark: a scrape with 1,000,000 bindings against an idle node, in the same run.

The exporter exports counts per state, never one series per binding, so time and size of
a scrape should not depend on how many mobile nodes are registered. Both sources have the
same 50 peers and 10 pools; only bindings and counters differ.

Run: `.venv/bin/python -m tests.bench.bench_scrape [--quick]`
"""
from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
from dataclasses import replace

from exporters.http import MetricsServer, build_registry
from exporters.source import FakeSource, idle_snapshot, peer, pool, statistics
from nf.roles.mag import MagCounters
from nf.snapshot import BindingCounts, TunnelState

BINDINGS = 1_000_000
PEERS = 50
POOLS = 10


def _source(bindings: int) -> FakeSource:
    busy = bindings > 0
    base = idle_snapshot(("lma",))
    stats = statistics(pbu_received=3 * bindings, handovers=bindings // 3,
                       pba_sent={0: 3 * bindings - bindings // 50, 152: bindings // 100, 154: bindings // 100}
                       if busy else {})
    mag = MagCounters()
    mag.pba_rtt_seconds.extend([0.001, 0.002, 0.01] * (300 if busy else 0))
    source = FakeSource(state=base)
    source.update(
        bindings=BindingCounts(cache={"active": bindings, "deregistration-pending": bindings // 100} if busy else {},
                               cache_peak=bindings),
        pools=tuple(pool(f"pool-{i}", f"2001:db8:{i:x}00::/44", used=bindings // POOLS, free=2**20 - bindings // POOLS)
                    for i in range(POOLS)),
        tunnels=tuple(TunnelState(f"pmip-{i}", None, None) for i in range(PEERS)),
        peers=tuple(peer(f"2001:db8::{i:x}", up=True, last_change=time.time(), requests=bindings, responses=bindings)
                    for i in range(PEERS)),
        counters=replace(base.counters, statistics=stats, mag=mag),
    )
    return source


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


def _runtime_scrape(bindings: int, scrapes: int) -> float:
    """Median seconds of a full HTTP scrape of a started LMA runtime holding `bindings`."""
    import asyncio
    import dataclasses
    import tempfile
    import threading
    from ipaddress import IPv6Address, IPv6Network

    from exporters.runtime_source import RuntimeSource
    from nf.config import load_config
    from nf.core.binding_cache import BindingCacheEntry
    from nf.runtime import Runtime
    from nf.settings import settings_from_tree
    from tests.e2e.test_daemon import EXAMPLES

    tree = load_config(EXAMPLES / "lma.xml")
    settings = settings_from_tree(tree, tree.context)
    settings = dataclasses.replace(settings, transport=dataclasses.replace(settings.transport, udp_port=0))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as state:
        runtime = Runtime(settings, __import__("pathlib").Path(state))
        asyncio.run_coroutine_threadsafe(runtime.start(), loop).result(30)
        cache = runtime.lma.cache
        mag = IPv6Address("2001:db8::1")
        base = int(IPv6Network("2001:db8:1000::/48").network_address)
        for i in range(bindings):
            cache.add(BindingCacheEntry(
                mn_identifier=f"mn{i}@example.net", link_layer_id=None,
                home_network_prefixes=(IPv6Network((base + (i << 64), 64)),), proxy_coa=mag,
                access_technology_type=3, handoff_indicator=1, sequence=1, lifetime=3600,
                created_monotonic=1.0, created_wall=1.0))
        source = RuntimeSource(runtime)
        with MetricsServer(source, "127.0.0.1", 0, registry=build_registry(source, process_metrics=False)) as server:
            times = []
            for _ in range(scrapes):
                started = time.perf_counter()
                with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
                    response.read()
                times.append(time.perf_counter() - started)
        loop.call_soon_threadsafe(cache.clear)  # the entries were added behind the role's back
        asyncio.run_coroutine_threadsafe(runtime.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    return statistics.median(times)


def run(quick: bool = False) -> list[dict]:
    scrapes = 20 if quick else 200
    idle_time, idle_size = _scrape(_source(0), scrapes)
    busy_time, busy_size = _scrape(_source(BINDINGS), scrapes)
    notes = f"median of {scrapes} HTTP scrapes; {PEERS} peers, {POOLS} pools in both sources"
    live_bindings = 100_000 if quick else BINDINGS
    live_idle = _runtime_scrape(0, scrapes)
    live_busy = _runtime_scrape(live_bindings, scrapes)
    return [
        {
            "name": f"scrape_seconds_live_lma_{live_bindings}_bindings",
            "value": live_busy,
            "unit": "s",
            "baseline": {"name": "scrape_seconds_live_lma_idle", "value": live_idle, "unit": "s"},
            "goal": "under 0.1 s, and at most 1.5x the idle scrape",
            "met": live_busy < 0.1 and live_busy <= 1.5 * live_idle,
            "notes": f"a started LMA runtime read through RuntimeSource (one snapshot per scrape, taken on its loop); median of {scrapes}",
        },
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
