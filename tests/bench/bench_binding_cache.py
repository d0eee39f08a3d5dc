"""Benchmark: binding cache memory per entry and lookup time by each index, small vs large.

Memory is what tracemalloc sees allocated while the cache is filled (entries, their
prefixes and strings, and every index), divided by the number of entries. Lookups are timed
over random existing keys. Past the CPU caches each lookup costs a few cache misses, so O(1)
is judged from a tenth of the large size to the large size (both beyond the caches in the
full run); the 1,000-entry time is reported as the in-cache baseline. Each MAG serves 100
entries at every size, so a lookup by MAG returns the same amount of work.

Run: `.venv/bin/python -m tests.bench.bench_binding_cache [--quick]`
"""
from __future__ import annotations

import gc
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from ipaddress import IPv6Address, IPv6Network

from nf.core.binding_cache import BindingCache, BindingCacheEntry

SMALL = 1_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
ENTRIES_PER_MAG = 100
LOOKUPS = 100_000
HNP_BASE = int(IPv6Network("2001:db8::/32").network_address)
MAG_BASE = int(IPv6Address("2001:db8:ffff::"))


def _fill(count: int) -> BindingCache:
    cache = BindingCache()
    now_mono, now_wall = time.monotonic(), time.time()
    for i in range(count):
        mag = IPv6Address(MAG_BASE + i // ENTRIES_PER_MAG + 1)  # a fresh object; the cache interns it
        cache.add(BindingCacheEntry(
            mn_identifier=f"mn{i}@example.net",
            link_layer_id=i.to_bytes(6, "big"),
            home_network_prefixes=(IPv6Network((HNP_BASE + (i << 64), 64)),),
            proxy_coa=mag,
            access_technology_type=4,
            handoff_indicator=1,
            sequence=i & 0xFFFF,
            lifetime=3600,
            created_monotonic=now_mono,
            created_wall=now_wall,
            timestamp=None,
            tunnel_id=f"mag-{i // ENTRIES_PER_MAG}",
        ))
    return cache


def _bytes_per_entry(count: int) -> tuple[float, BindingCache]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = _fill(count)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count, cache


def _ns_per_call(fn: Callable[[object], object], keys: list) -> float:
    started = time.perf_counter_ns()
    for key in keys:
        fn(key)
    return (time.perf_counter_ns() - started) / len(keys)


def _lookup_times(cache: BindingCache, count: int) -> dict[str, float]:
    rng = random.Random(5213)
    picks = [rng.randrange(count) for _ in range(LOOKUPS)]
    entries = {i: cache.get(f"mn{i}@example.net", i.to_bytes(6, "big")) for i in set(picks)}
    by_key = [(f"mn{i}@example.net", i.to_bytes(6, "big")) for i in picks]
    by_mn = [entries[i].mn_identifier for i in picks]
    by_prefix = [entries[i].home_network_prefixes[0] for i in picks]
    mag_picks = picks[: LOOKUPS // 10]
    by_mag = [entries[i].proxy_coa for i in mag_picks]
    for i in picks:  # each lookup must find its entry, or the timing means nothing
        assert cache.by_prefix(entries[i].home_network_prefixes[0]) is entries[i]
    return {
        "(mn, link-layer id)": _ns_per_call(lambda k: cache.get(*k), by_key),
        "mn identifier": _ns_per_call(cache.by_mn, by_mn),
        "home network prefix": _ns_per_call(cache.by_prefix, by_prefix),
        "proxy care-of address": _ns_per_call(cache.by_mag, by_mag),
    }


def run(quick: bool = False) -> list[dict]:
    large = QUICK_LARGE if quick else LARGE
    mid = large // 10
    measured: dict[int, tuple[float, dict[str, float]]] = {}
    for count in (SMALL, mid, large):
        per_entry, cache = _bytes_per_entry(count)
        measured[count] = (per_entry, _lookup_times(cache, count))
        del cache
        gc.collect()
    large_bytes, large_times = measured[large]
    small_bytes, small_times = measured[SMALL]
    mid_times = measured[mid][1]
    results = [{
        "name": "binding cache memory per entry",
        "value": round(large_bytes, 1),
        "unit": "B",
        "baseline": {"name": f"memory per entry at {SMALL:,} entries", "value": round(small_bytes, 1), "unit": "B"},
        "goal": "< 1024 B",
        "met": large_bytes < 1024,
        "notes": f"tracemalloc over filling {large:,} entries (one /64 each, {ENTRIES_PER_MAG} per MAG), all indexes included",
    }]
    for index, small_ns in small_times.items():
        growth = large_times[index] / mid_times[index]
        results.append({
            "name": f"binding cache lookup by {index}",
            "value": round(large_times[index], 1),
            "unit": "ns",
            "baseline": {"name": f"same lookup at {SMALL:,} entries", "value": round(small_ns, 1), "unit": "ns"},
            "goal": f"O(1): at most 2x from {mid:,} to {large:,} entries",
            "met": growth < 2.0,
            "notes": f"{growth:.2f}x from {mid:,} ({mid_times[index]:.0f} ns) to {large:,} entries; "
                     f"{large_times[index] / small_ns:.2f}x against {SMALL:,} entries, which fit in the CPU "
                     f"caches; mean of {LOOKUPS:,} random lookups"
                     + (f"; each returns {ENTRIES_PER_MAG} entries, touching each"
                        if index == "proxy care-of address" else ""),
        })
    return results


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
