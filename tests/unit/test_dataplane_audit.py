"""The forwarding audit's comparison, on kernel state built by hand (no kernel needed)."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from nf.dataplane import MemoryDataPlane, MismatchKind
from nf.dataplane.audit import compare, dumped_text
from nf.dataplane.kernel_dump import DumpedRoute, DumpedRule
from nf.dataplane.netlink import KernelRoute, KernelRule

HNP = IPv6Network("2001:db8:100:1::/64")
MAG, OTHER = IPv6Address("2001:db8:ff::11"), IPv6Address("2001:db8:ff::12")
DEVICES = {"core": 3, "acc-mn1": 4}
NAMES = {index: name for name, index in DEVICES.items()}


def dumped(prefix=HNP, *, table=254, segments=(MAG,), oif=3, type="unicast", gateway=None, decap=None):
    return DumpedRoute(table, prefix.network_address.packed, prefix.prefixlen, type, oif,
                       gateway.packed if gateway else None, b"".join(s.packed for s in segments) or None, decap, None)


def run(expected, routes=(), rules=(), stale=True):
    return compare(expected, routes, rules, device_index=DEVICES.get, device_name=NAMES.get, stale=stale)


DOWNLINK = KernelRoute(254, HNP, "core", segment=MAG)


def test_an_identical_kernel_route_is_no_mismatch():
    assert run([DOWNLINK], [dumped()]) == []


def test_each_route_difference_has_its_kind():
    cases = {
        MismatchKind.MISSING: [],
        MismatchKind.WRONG_SID: [dumped(segments=(OTHER,))],
        MismatchKind.WRONG_DEVICE: [dumped(oif=4)],
        MismatchKind.WRONG_NEXT_HOP: [dumped(gateway=IPv6Address("fe80::1"))],
    }
    for kind, routes in cases.items():
        [mismatch] = run([DOWNLINK], routes)
        assert mismatch.kind is kind and mismatch.prefix == HNP and mismatch.object_key == DOWNLINK.key


def test_a_blackhole_in_place_of_the_route_is_a_wrong_next_hop():
    [mismatch] = run([DOWNLINK], [dumped(type="blackhole", segments=(), oif=None)])
    assert mismatch.kind is MismatchKind.WRONG_NEXT_HOP and mismatch.actual.startswith("route blackhole")


def test_marked_state_nobody_needs_is_stale_only_in_a_full_audit():
    extra = dumped(IPv6Network("2001:db8:100:9::/64"))
    [mismatch] = run([DOWNLINK], [dumped(), extra])
    assert mismatch.kind is MismatchKind.STALE and mismatch.object_key == ("route", 254, extra.prefix)
    assert run([DOWNLINK], [dumped(), extra], stale=False) == []


def test_a_rule_looking_up_another_table_is_wrong_table_and_the_other_rule_stale():
    rule = KernelRule(HNP, "acc-mn1", 100)
    kinds = sorted(m.kind.value for m in run([rule], rules=[DumpedRule(1000, HNP, None, "acc-mn1", 101, 201)]))
    assert kinds == ["stale", "wrong-table"]


def test_a_missing_rule_is_missing():
    [mismatch] = run([KernelRule(HNP, "acc-mn1", 100)])
    assert mismatch.kind is MismatchKind.MISSING and "iif acc-mn1 lookup 100" in mismatch.object


def test_dumped_routes_read_as_ip_writes_them():
    assert dumped_text(dumped(), NAMES.get) == \
        "route 2001:db8:100:1::/64 encap seg6 mode encap segs 2001:db8:ff::11 dev core table 254"


def test_the_memory_data_plane_holds_what_it_was_told():
    plane = MemoryDataPlane()
    job = plane.audit_prepare()
    report = plane.audit_finish(job, job.run())
    assert report.consistent and report.checked == 0
