"""The forwarding audit against a real kernel: each fault injected with `ip` is found,
classified, named by its binding, and repaired."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from nf.dataplane import BindingSpec, MismatchKind, Route, RouteKind, Tunnel
from nf.dataplane.linux import LinuxDataPlane
from nf.lab.topology import HOME_PREFIX, NODE_ADDRESS, Topology

pytestmark = pytest.mark.root

HNP1, HNP2 = HOME_PREFIX["mn1"], HOME_PREFIX["mn2"]


def lma_spec(mn: str, hnp) -> BindingSpec:
    tunnel = Tunnel(name="pmip-mag1", local=NODE_ADDRESS["lma"], remote=NODE_ADDRESS["mag1"],
                    remote_sid=NODE_ADDRESS["mag1"])
    return BindingSpec(f"lma/{mn}", tunnel, (Route(RouteKind.DOWNLINK, hnp, tunnel=tunnel.name),))


def mag_spec(mn: str, hnp) -> BindingSpec:
    tunnel = Tunnel(name="pmip-lma", local=NODE_ADDRESS["mag1"], remote=NODE_ADDRESS["lma"],
                    remote_sid=NODE_ADDRESS["lma"], table=100)
    return BindingSpec(f"mag/{mn}", tunnel, (Route(RouteKind.UPLINK, hnp, tunnel=tunnel.name),
                                            Route(RouteKind.ACCESS, hnp, interface=f"acc-{mn}")))


@pytest.fixture
def planes(lab: Topology) -> Iterator[dict[str, LinuxDataPlane]]:
    made = {"lma": LinuxDataPlane(netns=lab.ns("lma")), "mag1": LinuxDataPlane(core_interface="core",
                                                                               netns=lab.ns("mag1"))}
    try:
        for mn, hnp in (("mn1", HNP1), ("mn2", HNP2)):
            made["lma"].apply(lma_spec(mn, hnp))
            made["mag1"].apply(mag_spec(mn, hnp))
        yield made
    finally:
        for plane in made.values():
            plane.close()


def audit(plane: LinuxDataPlane, keys=None):
    job = plane.audit_prepare(keys)
    return plane.audit_finish(job, job.run(), keys)


def test_a_kernel_that_matches_the_bindings_is_consistent(planes):
    for plane in planes.values():
        report = audit(plane)
        assert report.consistent and report.checked == 2 and report.objects > 0


@pytest.mark.parametrize("host, command, kind, binding", [
    ("lma", "ip -6 route del 2001:db8:100:1::/64", MismatchKind.MISSING, "lma/mn1"),
    ("lma", "ip -6 route replace 2001:db8:100:1::/64 encap seg6 mode encap segs 2001:db8:ff::12 dev to-mag1 "
            "proto 201", MismatchKind.WRONG_SID, "lma/mn1"),
    ("lma", "ip -6 route replace 2001:db8:100:1::/64 encap seg6 mode encap segs 2001:db8:ff::11 dev to-mag2 "
            "proto 201", MismatchKind.WRONG_DEVICE, "lma/mn1"),
    ("lma", "ip -6 route replace 2001:db8:100:1::/64 via 2001:db8:10:2::2 dev to-mag2 proto 201",
     MismatchKind.WRONG_NEXT_HOP, "lma/mn1"),
    ("lma", "ip -6 route replace 2001:db8:100:1::/64 dev to-cn", MismatchKind.UNOWNED, "lma/mn1"),
    ("mag1", "ip -6 rule del from 2001:db8:100:2::/64 iif acc-mn2 lookup 100", MismatchKind.MISSING, "mag/mn2"),
    ("mag1", "ip -6 route del 2001:db8:100:2::/64 dev acc-mn2", MismatchKind.MISSING, "mag/mn2"),
    ("mag1", "ip -6 route replace default encap seg6 mode encap segs 2001:db8:ff::99 dev core table 100 proto 201",
     MismatchKind.WRONG_SID, "mag/mn1"),
], ids=["lma-route-deleted", "lma-wrong-sid", "lma-wrong-device", "lma-via-gateway", "lma-unowned",
        "mag-rule-deleted", "mag-access-route-deleted", "mag-tunnel-wrong-sid"])
def test_each_fault_is_classified_and_named_by_its_binding(lab, planes, host, command, kind, binding):
    lab.exec(host, *command.split())
    report = audit(planes[host])
    assert [m.kind for m in report.mismatches] == [kind]
    assert binding in report.mismatches[0].bindings
    repaired = planes[host].repair(report)
    expect_repaired = kind is not MismatchKind.UNOWNED
    assert [m.repaired for m in repaired.mismatches] == [expect_repaired]
    if expect_repaired:
        assert audit(planes[host]).consistent
    else:
        assert "did not install" in repaired.mismatches[0].repair_error


def test_stale_state_of_ours_is_found_and_removed(lab, planes):
    lab.exec("lma", *"ip -6 route add 2001:db8:100:9::/64 encap seg6 mode encap segs 2001:db8:ff::11 dev to-mag1 "
                    "proto 201".split())
    lab.exec("mag1", *"ip -6 rule add from 2001:db8:100:9::/64 iif acc-mn1 lookup 100 priority 1000 proto 201".split())
    for host in ("lma", "mag1"):
        report = audit(planes[host])
        assert [m.kind for m in report.mismatches] == [MismatchKind.STALE]
        assert "2001:db8:100:9::/64" in report.mismatches[0].object
        assert planes[host].repair(report).repaired == 1
        assert audit(planes[host]).consistent


def test_a_rule_into_the_wrong_table_is_reported_and_put_back(lab, planes):
    lab.exec("mag1", *"ip -6 rule del from 2001:db8:100:1::/64 iif acc-mn1 lookup 100".split())
    lab.exec("mag1", *"ip -6 rule add from 2001:db8:100:1::/64 iif acc-mn1 lookup 101 priority 1000 proto 201".split())
    report = audit(planes["mag1"])
    assert sorted(m.kind.value for m in report.mismatches) == ["stale", "wrong-table"]
    assert planes["mag1"].repair(report).repaired == 2
    assert audit(planes["mag1"]).consistent
    assert "lookup 101" not in lab.exec("mag1", "ip", "-6", "rule").stdout


def test_a_check_of_one_binding_sees_its_own_objects_only(lab, planes):
    lab.exec("lma", *"ip -6 route del 2001:db8:100:2::/64".split())
    assert audit(planes["lma"], ["lma/mn1"]).consistent
    one = audit(planes["lma"], ["lma/mn2"])
    assert one.checked == 1 and [m.bindings for m in one.mismatches] == [("lma/mn2",)]
    assert one.mismatches[0].actual == "no route"


def test_the_kernel_lookup_answers_as_for_a_real_packet(lab, planes):
    downlink = planes["lma"].lookup(HNP1.network_address)
    assert downlink.prefix == HNP1 and downlink.segments == (NODE_ADDRESS["mag1"],) and downlink.protocol == 201
    uplink = planes["mag1"].lookup(NODE_ADDRESS["lma"], source=HNP1[1], iif="acc-mn1")
    assert uplink.table == 100 and uplink.segments == (NODE_ADDRESS["lma"],)
    plain = planes["mag1"].lookup(NODE_ADDRESS["lma"], source=HNP1[1])  # not from the access link: no rule
    assert plain.table == 254 and plain.segments == ()
