"""Pool usage against its threshold and hysteresis: pool-usage-high when the share in use
reaches the threshold, pool-usage-normal only once it falls below threshold - hysteresis."""
from ipaddress import IPv6Network

from nf.core.events import EventBus
from nf.core.pool_usage import PoolUsageWatch
from nf.core.prefix_pool import PrefixPool


def pool_of(size_log2: int) -> PrefixPool:
    return PrefixPool("p1", IPv6Network(f"2001:db8::/{64 - size_log2}"), 64)


def watched(pool: PrefixPool, threshold: int = 90, hysteresis: int = 10):
    bus = EventBus()
    PoolUsageWatch(bus).watch([pool], {pool.name: (threshold, hysteresis)})
    return bus


def usage_events(bus: EventBus) -> list[tuple[str, int]]:
    return [(e.kind, e.data["used"]) for e in bus.history()]


def test_reaching_the_threshold_is_high_and_falling_below_threshold_minus_hysteresis_is_normal():
    pool = pool_of(4)  # 16 prefixes: 90 % is 14.4, 80 % is 12.8
    bus = watched(pool)
    taken = [pool.allocate() for _ in range(15)]
    assert usage_events(bus) == [("pool-usage-high", 15)]
    for prefix in taken[:2]:
        pool.release(prefix)  # 13 in use: 81 %, still above 80 %
    assert usage_events(bus) == [("pool-usage-high", 15)]
    pool.release(taken[2])  # 12: 75 %
    assert usage_events(bus) == [("pool-usage-high", 15), ("pool-usage-normal", 12)]
    assert dict(bus.history()[-1].data) == {"pool": "p1", "used": 12, "size": 16}


def test_a_pool_hovering_at_the_threshold_does_not_flap():
    pool = pool_of(4)
    bus = watched(pool)
    taken = [pool.allocate() for _ in range(15)]
    for _ in range(10):
        pool.release(taken[-1])
        taken[-1] = pool.allocate()
    assert usage_events(bus) == [("pool-usage-high", 15)]


def test_a_reserved_static_prefix_counts_as_used():
    pool = pool_of(1)  # 2 prefixes
    bus = watched(pool, threshold=50, hysteresis=0)
    pool.reserve(IPv6Network("2001:db8::/64"))
    assert usage_events(bus) == [("pool-usage-high", 1)]


def test_a_new_threshold_applies_at_once():
    pool = pool_of(4)
    bus = EventBus()
    watch = PoolUsageWatch(bus)
    watch.watch([pool], {"p1": (90, 10)})
    for _ in range(8):
        pool.allocate()
    assert usage_events(bus) == []
    watch.watch([pool], {"p1": (50, 10)})
    assert usage_events(bus) == [("pool-usage-high", 8)] and watch.is_high("p1")


def test_a_huge_pool_is_compared_exactly():
    pool = PrefixPool("big", IPv6Network("2001:db8::/32"), 128)  # 2**96 prefixes
    bus = watched(pool, threshold=1, hysteresis=0)
    pool.allocate()
    assert usage_events(bus) == []
