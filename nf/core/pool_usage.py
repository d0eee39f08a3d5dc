"""Prefix pool usage against its configured threshold: the pool-usage-high and
pool-usage-normal events, which raise and clear the prefix-pool-nearly-exhausted alarm.

A pool becomes high when the share of its prefixes in use reaches `high-threshold` percent,
and normal again only when it falls below `high-threshold - hysteresis` percent, so a pool
hovering at the threshold does not raise and clear over and over (RFC 8632 Appendix G asks
for no chattering alarms). Integer arithmetic: a pool of 2**96 prefixes is compared exactly.
"""
from __future__ import annotations

from collections.abc import Iterable

from nf.core.events import EventBus
from nf.core.prefix_pool import PrefixPool


class PoolUsageWatch:
    def __init__(self, events: EventBus) -> None:
        self._events = events
        self._limits: dict[str, tuple[int, int]] = {}  # pool -> (high-threshold, hysteresis), percent
        self._high: set[str] = set()

    def watch(self, pools: Iterable[PrefixPool], limits: dict[str, tuple[int, int]]) -> None:
        """Follow these pools from now on (a commit hands over its pools and thresholds); a
        changed threshold takes effect at once."""
        self._limits = dict(limits)
        pools = list(pools)
        self._high &= {pool.name for pool in pools}  # a removed pool had nothing in use
        for pool in pools:
            pool.on_change = self.check
            self.check(pool)

    def is_high(self, name: str) -> bool:
        return name in self._high

    def check(self, pool: PrefixPool) -> None:
        threshold, hysteresis = self._limits.get(pool.name, (90, 10))
        used, size = pool.used, pool.size
        if pool.name in self._high:
            if used * 100 < (threshold - hysteresis) * size:
                self._high.discard(pool.name)
                self._events.publish("pool-usage-normal", pool=pool.name, used=used, size=size)
        elif used * 100 >= threshold * size:
            self._high.add(pool.name)
            self._events.publish("pool-usage-high", pool=pool.name, used=used, size=size)
