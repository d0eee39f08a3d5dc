from ipaddress import IPv6Address, IPv6Network

from nf.core.binding_update_list import BindingUpdateList, BindingUpdateListEntry, BulState

LMA = IPv6Address("2001:db8:aaaa::1")
P1, P2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")


def bul_entry(mn="mn1@example.net", ll=b"\x02" * 6, lma=LMA):
    return BindingUpdateListEntry(mn, ll, lma, access_technology_type=4, handoff_indicator=1)


def test_new_entry_starts_registering_with_nothing_granted():
    e = bul_entry()
    assert e.state is BulState.REGISTERING
    assert (e.lifetime_granted, e.retransmissions, e.home_network_prefixes) == (0, 0, ())


def test_accepted_pba_records_lifetime_and_stops_retransmission():
    bul = BindingUpdateList()
    e = bul.put(bul_entry())
    e.retransmissions, e.next_retransmission = 2, 12.5
    bul.mark_accepted(e, lifetime=3600, now=100.0)
    assert e.state is BulState.REGISTERED
    assert (e.retransmissions, e.next_retransmission, e.expires_at) == (0, None, 3700.0)


def test_lookup_by_key_prefix_and_lma():
    bul = BindingUpdateList()
    e = bul.put(bul_entry())
    bul.set_prefixes(e, (P1, P2))
    other = bul.put(bul_entry(mn="mn2", lma=IPv6Address("2001:db8:aaaa::2")))
    assert bul.get("mn1@example.net", b"\x02" * 6) is e
    assert bul.by_prefix(P2) is e
    assert bul.by_lma(LMA) == [e]
    assert bul.by_lma(IPv6Address("2001:db8:aaaa::2")) == [other]
    assert len(bul) == 2


def test_set_prefixes_replaces_old_prefixes_in_index():
    bul = BindingUpdateList()
    e = bul.put(bul_entry())
    bul.set_prefixes(e, (P1,))
    bul.set_prefixes(e, (P2,))
    assert bul.by_prefix(P1) is None and bul.by_prefix(P2) is e


def test_put_replaces_entry_of_same_key():
    bul = BindingUpdateList()
    old = bul.put(bul_entry())
    bul.set_prefixes(old, (P1,))
    new = bul.put(bul_entry())
    assert bul.get("mn1@example.net", b"\x02" * 6) is new
    assert bul.by_prefix(P1) is None
    assert len(bul) == 1


def test_remove_forgets_entry_and_prefixes():
    bul = BindingUpdateList()
    e = bul.put(bul_entry())
    bul.set_prefixes(e, (P1,))
    assert bul.remove("mn1@example.net", b"\x02" * 6) is e
    assert bul.remove("mn1@example.net", b"\x02" * 6) is None
    assert bul.by_prefix(P1) is None and len(bul) == 0


def test_entries_are_counted_per_state_as_they_come_change_and_go():
    bul = BindingUpdateList()
    a = bul.put(bul_entry())
    bul.put(bul_entry(mn="mn2"))
    bul.mark_accepted(a, lifetime=3600, now=0.0)
    bul.set_state(a, BulState.REFRESHING)
    counts = bul.count_by_state()
    assert (counts[BulState.REGISTERING], counts[BulState.REFRESHING], counts[BulState.REGISTERED]) == (1, 1, 0)
    bul.put(bul_entry())  # replaces a
    bul.remove("mn2", b"\x02" * 6)
    assert bul.count_by_state() == {**dict.fromkeys(BulState, 0), BulState.REGISTERING: 1}


def test_lookup_by_mn_identifier_returns_each_interface_of_that_node_only():
    bul = BindingUpdateList()
    wifi, lte = bul.put(bul_entry(ll=b"\x02" * 6)), bul.put(bul_entry(ll=b"\x04" * 6))
    bul.put(bul_entry(mn="mn2"))
    assert bul.by_mn("mn1@example.net") == [wifi, lte]
    bul.remove("mn1@example.net", b"\x02" * 6)
    bul.remove("mn1@example.net", b"\x04" * 6)
    assert bul.by_mn("mn1@example.net") == [] and len(bul.by_mn("mn2")) == 1
