from ipaddress import IPv6Address, IPv6Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nf.core.binding_cache import (
    BindingCache,
    BindingCacheEntry,
    BindingState,
    DuplicateBinding,
    PrefixInUse,
    UnknownBinding,
)

MAG1 = IPv6Address("2001:db8:ffff::1")
MAG2 = IPv6Address("2001:db8:ffff::2")


def hnp(i: int) -> IPv6Network:
    return IPv6Network(f"2001:db8:{i:x}::/64")


def entry(mn="mn1@example.net", ll=b"\x02\x00\x00\x00\x00\x01", prefixes=(hnp(1),), mag=MAG1, **kw):
    fields = dict(access_technology_type=3, handoff_indicator=1, sequence=1, lifetime=3600,
                  created_monotonic=100.0, created_wall=1_700_000_000.0)
    fields.update(kw)
    return BindingCacheEntry(mn, ll, tuple(prefixes), mag, **fields)


def assert_consistent(cache: BindingCache) -> None:
    """Every index agrees with the set of entries iterated."""
    entries = list(cache)
    assert len(entries) == len(cache)
    for e in entries:
        assert cache.get(e.mn_identifier, e.link_layer_id) is e
        assert e in cache.by_mn(e.mn_identifier)
        assert e in cache.by_mag(e.proxy_coa)
        for p in e.home_network_prefixes:
            assert cache.by_prefix(p) is e
    assert sum(cache.count_by_mag(m) for m in cache.mags()) == len(entries)
    assert sum(cache.count_by_state().values()) == len(entries)


def test_add_makes_entry_reachable_by_every_index():
    cache = BindingCache()
    e = cache.add(entry(prefixes=(hnp(1), hnp(2))))
    assert cache.get("mn1@example.net", e.link_layer_id) is e
    assert cache.by_mn("mn1@example.net") == [e]
    assert cache.by_prefix(hnp(1)) is e and cache.by_prefix(hnp(2)) is e
    assert cache.by_mag(MAG1) == {e}
    assert len(cache) == 1


def test_entry_defaults_follow_creation_time_and_lifetime():
    e = entry(lifetime=30, created_monotonic=10.0)
    assert e.expires_at == 40.0
    assert e.last_refresh_monotonic == 10.0
    assert e.state is BindingState.ACTIVE
    assert e.remaining(25.0) == 15.0
    assert e.remaining(99.0) == 0.0


def test_refresh_moves_expiry():
    e = entry(lifetime=30, created_monotonic=10.0)
    e.refresh(60, now_monotonic=20.0, now_wall=5.0)
    assert (e.expires_at, e.lifetime, e.last_refresh_wall) == (80.0, 60, 5.0)


def test_entries_use_slots_not_dicts():
    assert not hasattr(entry(), "__dict__")


def test_duplicate_key_is_rejected_and_cache_unchanged():
    cache = BindingCache()
    first = cache.add(entry())
    with pytest.raises(DuplicateBinding):
        cache.add(entry(prefixes=(hnp(9),)))
    assert cache.by_prefix(hnp(9)) is None
    assert list(cache) == [first]


def test_prefix_held_by_another_mn_is_rejected():
    cache = BindingCache()
    cache.add(entry())
    with pytest.raises(PrefixInUse):
        cache.add(entry(mn="mn2@example.net"))
    assert cache.by_mn("mn2@example.net") == []
    assert len(cache) == 1


def test_same_mn_two_interfaces_are_two_entries():
    cache = BindingCache()
    a = cache.add(entry(ll=b"\x01" * 6, prefixes=(hnp(1),)))
    b = cache.add(entry(ll=b"\x02" * 6, prefixes=(hnp(2),), mag=MAG2))
    assert set(cache.by_mn("mn1@example.net")) == {a, b}
    assert cache.get("mn1@example.net", b"\x02" * 6) is b
    assert_consistent(cache)


def test_missing_link_layer_id_is_a_key_of_its_own():
    cache = BindingCache()
    e = cache.add(entry(ll=None))
    assert cache.get("mn1@example.net", None) is e
    assert cache.get("mn1@example.net", b"\x00" * 6) is None


def test_handover_moves_entry_between_mag_indexes():
    cache = BindingCache()
    e = cache.add(entry())
    other = cache.add(entry(mn="mn2@example.net", prefixes=(hnp(2),)))
    cache.update(e, proxy_coa=MAG2, handoff_indicator=3, sequence=2)
    assert cache.by_mag(MAG1) == {other}
    assert cache.by_mag(MAG2) == {e}
    assert e.handoff_indicator == 3
    assert_consistent(cache)


def test_last_entry_leaving_a_mag_drops_the_mag():
    cache = BindingCache()
    e = cache.add(entry())
    cache.update(e, proxy_coa=MAG2)
    assert cache.mags() == [MAG2]
    assert cache.count_by_mag(MAG1) == 0


def test_update_of_prefixes_reindexes():
    cache = BindingCache()
    e = cache.add(entry(prefixes=(hnp(1), hnp(2))))
    cache.update(e, home_network_prefixes=(hnp(2), hnp(3)))
    assert cache.by_prefix(hnp(1)) is None
    assert cache.by_prefix(hnp(3)) is e
    assert_consistent(cache)


def test_update_rejected_on_prefix_clash_leaves_cache_unchanged():
    cache = BindingCache()
    e = cache.add(entry())
    cache.add(entry(mn="mn2@example.net", prefixes=(hnp(2),)))
    with pytest.raises(PrefixInUse):
        cache.update(e, home_network_prefixes=(hnp(2),), proxy_coa=MAG2)
    assert e.home_network_prefixes == (hnp(1),)
    assert e in cache.by_mag(MAG1) and cache.count_by_mag(MAG2) == 0
    assert e.proxy_coa == MAG1
    assert_consistent(cache)


def test_update_rejects_unknown_field_and_unknown_entry():
    cache = BindingCache()
    e = cache.add(entry())
    with pytest.raises(AttributeError):
        cache.update(e, colour="blue")
    with pytest.raises(UnknownBinding):
        cache.update(entry(mn="ghost"), sequence=3)


def test_remove_clears_every_index():
    cache = BindingCache()
    e = cache.add(entry(prefixes=(hnp(1), hnp(2))))
    cache.remove(e)
    assert len(cache) == 0
    assert cache.get(e.mn_identifier, e.link_layer_id) is None
    assert cache.by_mn(e.mn_identifier) == []
    assert cache.by_prefix(hnp(1)) is None
    assert cache.by_mag(MAG1) == frozenset()
    with pytest.raises(UnknownBinding):
        cache.remove(e)


def test_peak_remembers_the_largest_size():
    cache = BindingCache()
    entries = [cache.add(entry(mn=f"mn{i}", prefixes=(hnp(i),))) for i in range(5)]
    for e in entries[:3]:
        cache.remove(e)
    assert (len(cache), cache.peak) == (2, 5)


def test_equal_mag_addresses_are_interned_to_one_object():
    cache = BindingCache()
    a = cache.add(entry(mn="a", prefixes=(hnp(1),), mag=IPv6Address("2001:db8:ffff::1")))
    b = cache.add(entry(mn="b", prefixes=(hnp(2),), mag=IPv6Address("2001:db8:ffff::1"), tunnel_id="t" + "o-mag1"))
    c = cache.add(entry(mn="c", prefixes=(hnp(3),), mag=IPv6Address("2001:db8:ffff::1"), tunnel_id="to" + "-mag1"))
    assert a.proxy_coa is b.proxy_coa is c.proxy_coa
    assert b.tunnel_id is c.tunnel_id


def test_plain_field_update_keeps_indexes():
    cache = BindingCache()
    e = cache.add(entry())
    cache.update(e, state=BindingState.DEREGISTRATION_PENDING, lifetime=0)
    assert cache.count_by_state() == {BindingState.DEREGISTRATION_PENDING: 1}
    assert_consistent(cache)


operations = st.lists(st.tuples(st.sampled_from(["add", "move", "reprefix", "remove"]),
                                st.integers(0, 7), st.integers(0, 3), st.integers(0, 15)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_indexes_stay_consistent_under_any_sequence(ops):
    cache = BindingCache()
    mags = [IPv6Address(f"2001:db8:ffff::{i + 1}") for i in range(4)]
    for op, mn, mag, prefix in ops:
        current = cache.get(f"mn{mn}", None)
        try:
            if op == "add":
                cache.add(entry(mn=f"mn{mn}", ll=None, prefixes=(hnp(prefix),), mag=mags[mag]))
            elif current is not None and op == "move":
                cache.update(current, proxy_coa=mags[mag])
            elif current is not None and op == "reprefix":
                cache.update(current, home_network_prefixes=(hnp(prefix), hnp(prefix + 100)))
            elif current is not None and op == "remove":
                cache.remove(current)
        except (DuplicateBinding, PrefixInUse):
            pass
        assert_consistent(cache)


def test_removing_one_interface_keeps_the_others_reachable():
    cache = BindingCache()
    a, b, c = (cache.add(entry(ll=bytes([i]) * 6, prefixes=(hnp(i),))) for i in (1, 2, 3))
    cache.remove(b)
    assert set(cache.by_mn("mn1@example.net")) == {a, c}
    cache.remove(a)
    assert cache.by_mn("mn1@example.net") == [c]
    assert cache.get("mn1@example.net", bytes([3]) * 6) is c
    assert cache.get("mn1@example.net", bytes([1]) * 6) is None
    assert_consistent(cache)


def test_counts_by_state_follow_updates_and_removals_without_a_walk():
    from nf.core.binding_cache import BindingState

    cache = BindingCache()
    first = cache.add(_state_entry("a@example.net", "2001:db8:1::/64"))
    cache.add(_state_entry("b@example.net", "2001:db8:2::/64"))
    assert cache.count_by_state() == {BindingState.ACTIVE: 2}
    cache.update(first, state=BindingState.DEREGISTRATION_PENDING)
    assert cache.count_by_state() == {BindingState.ACTIVE: 1, BindingState.DEREGISTRATION_PENDING: 1}
    cache.update(first, proxy_coa=IPv6Address("2001:db8::99"))  # an index move keeps the count
    assert cache.count_by_state() == {BindingState.ACTIVE: 1, BindingState.DEREGISTRATION_PENDING: 1}
    cache.remove(first)
    assert cache.count_by_state() == {BindingState.ACTIVE: 1}


def _state_entry(mn: str, prefix: str):
    return BindingCacheEntry(mn_identifier=mn, link_layer_id=None, home_network_prefixes=(IPv6Network(prefix),),
                             proxy_coa=IPv6Address("2001:db8::1"), access_technology_type=3, handoff_indicator=1,
                             sequence=1, lifetime=60, created_monotonic=1.0, created_wall=1.0)
