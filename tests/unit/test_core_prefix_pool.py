from ipaddress import IPv6Network

import pytest

from nf.core.prefix_pool import (
    PoolExhausted,
    PrefixInUse,
    PrefixNotInPool,
    PrefixPool,
    PrefixPoolError,
    PrefixPools,
)


def test_allocates_distinct_prefixes_of_the_assign_length_inside_the_pool():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/48"))
    got = [pool.allocate() for _ in range(100)]
    assert len(set(got)) == 100
    assert all(p.prefixlen == 64 and p.subnet_of(pool.prefix) for p in got)
    assert got[0] == IPv6Network("2001:db8:1::/64")


def test_exhaustion_raises_then_release_makes_room():
    pool = PrefixPool("small", IPv6Network("2001:db8:1::/62"))
    got = [pool.allocate() for _ in range(4)]
    with pytest.raises(PoolExhausted):
        pool.allocate()
    assert (pool.used, pool.free) == (4, 0)
    pool.release(got[2])
    assert pool.allocate() == got[2]


def test_counts_are_exact_for_huge_pools():
    pool = PrefixPool("huge", IPv6Network("2001:db8::/32"), assign_length=128)
    pool.allocate()
    assert pool.size == 2**96
    assert pool.free == 2**96 - 1


def test_high_water_stays_at_the_peak():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/48"))
    got = [pool.allocate() for _ in range(5)]
    for p in got:
        pool.release(p)
    assert (pool.used, pool.high_water) == (0, 5)


def test_reserved_prefix_is_skipped_by_allocation():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/62"))
    pool.reserve(IPv6Network("2001:db8:1:1::/64"))
    got = {pool.allocate() for _ in range(3)}
    assert IPv6Network("2001:db8:1:1::/64") not in got
    assert len(got) == 3
    with pytest.raises(PoolExhausted):
        pool.allocate()


def test_reserving_a_prefix_in_use_is_refused():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/48"))
    p = pool.allocate()
    with pytest.raises(PrefixInUse):
        pool.reserve(p)


def test_released_then_reserved_prefix_is_not_handed_out():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/63"))
    a, b = pool.allocate(), pool.allocate()
    pool.release(a)
    pool.reserve(a)
    with pytest.raises(PoolExhausted):
        pool.allocate()
    assert pool.is_allocated(a) and pool.is_allocated(b)


@pytest.mark.parametrize("bad", ["2001:db8:2::/64", "2001:db8:1::/56", "2001:db8:1::1/128"])
def test_foreign_or_wrong_length_prefix_is_a_typed_error(bad):
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/48"))
    with pytest.raises(PrefixNotInPool):
        pool.release(IPv6Network(bad))
    with pytest.raises(PrefixNotInPool):
        pool.reserve(IPv6Network(bad))


def test_releasing_a_free_prefix_is_an_error():
    pool = PrefixPool("p", IPv6Network("2001:db8:1::/48"))
    with pytest.raises(PrefixNotInPool):
        pool.release(IPv6Network("2001:db8:1:5::/64"))


def test_assign_length_shorter_than_pool_is_refused():
    with pytest.raises(PrefixPoolError):
        PrefixPool("p", IPv6Network("2001:db8::/64"), assign_length=48)


def test_allocation_does_not_enumerate_a_huge_space():
    pool = PrefixPool("p", IPv6Network("2001:db8::/32"), assign_length=128)
    for _ in range(1000):
        pool.allocate()
    assert pool.used == 1000  # completes at once: a /32 of /128s cannot be enumerated


def test_registry_finds_pool_of_a_prefix_and_refuses_overlap():
    pools = PrefixPools()
    a = pools.add(PrefixPool("a", IPv6Network("2001:db8:1::/48")))
    pools.add(PrefixPool("b", IPv6Network("2001:db8:2::/48")))
    assert pools.pool_of(IPv6Network("2001:db8:1:7::/64")) is a
    assert pools.pool_of(IPv6Network("2001:db8:9::/64")) is None
    with pytest.raises(PrefixPoolError):
        pools.add(PrefixPool("c", IPv6Network("2001:db8:1:8000::/49")))
    with pytest.raises(PrefixPoolError):
        pools.add(PrefixPool("a", IPv6Network("2001:db8:3::/48")))
    with pytest.raises(PrefixPoolError):
        pools.get("missing")
    assert [p.name for p in pools] == ["a", "b"]
