"""The Linux data plane in the namespace lab: SRv6 forwarding MN <-> CN, handover,
removal, restart reconcile, rollback and encapsulation detection."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from collections.abc import Iterator
from ipaddress import IPv6Network

import pytest

from nf.dataplane import BindingSpec, DataPlaneError, Encapsulation, Route, RouteKind, Tunnel
from nf.dataplane.linux import EncapsulationUnavailable, LinuxDataPlane
from nf.lab.topology import CN_ADDRESS, HOME_PREFIX, NODE_ADDRESS, Topology, mn_address

from .conftest import reachable, udp_round_trip

pytestmark = pytest.mark.root

HNP = HOME_PREFIX["mn1"]
PROTO = "201"


def lma_spec(mag: str) -> BindingSpec:
    tunnel = Tunnel(name=f"to-{mag}", local=NODE_ADDRESS["lma"], remote=NODE_ADDRESS[mag],
                    remote_sid=NODE_ADDRESS[mag])
    return BindingSpec("mn1", tunnel, (Route(RouteKind.DOWNLINK, HNP, tunnel=tunnel.name),))


def mag_spec(mag: str) -> BindingSpec:
    tunnel = Tunnel(name="to-lma", local=NODE_ADDRESS[mag], remote=NODE_ADDRESS["lma"],
                    remote_sid=NODE_ADDRESS["lma"], table=100)
    return BindingSpec("mn1", tunnel, (Route(RouteKind.UPLINK, HNP, tunnel="to-lma"),
                                       Route(RouteKind.ACCESS, HNP, interface="acc-mn1")))


@pytest.fixture
def planes(lab: Topology) -> Iterator[dict[str, LinuxDataPlane]]:
    made = {"lma": LinuxDataPlane(core_interface=None, netns=lab.ns("lma"))}
    for mag in ("mag1", "mag2"):
        made[mag] = LinuxDataPlane(core_interface="core", netns=lab.ns(mag))
    try:
        yield made
    finally:
        for plane in made.values():
            plane.close()


def routes(lab: Topology, host: str, *args: str) -> str:
    return lab.exec(host, "ip", "-6", "route", "show", *args).stdout


def owned(lab: Topology, host: str) -> list[str]:
    listed = lab.exec(host, "ip", "-6", "route", "show", "table", "all", "proto", PROTO).stdout.splitlines()
    return listed + [r for r in lab.exec(host, "ip", "-6", "rule").stdout.splitlines() if f"proto {PROTO}" in r]


def test_mn_and_cn_talk_through_the_srv6_tunnel_both_ways(lab, planes):
    assert not reachable(lab, "mn1", str(CN_ADDRESS), timeout=0)  # no mobility routes yet
    planes["lma"].apply(lma_spec("mag1"))
    planes["mag1"].apply(mag_spec("mag1"))
    assert f"{HNP} " in routes(lab, "lma") and "encap seg6 mode encap segs 1 [ 2001:db8:ff::11 ]" in routes(lab, "lma")
    assert reachable(lab, "mn1", str(CN_ADDRESS))
    assert reachable(lab, "cn", str(mn_address("mn1")))
    assert udp_round_trip(lab, "mn1", "cn", str(CN_ADDRESS), "uplink-hello") == "uplink-hello"


def test_traffic_is_encapsulated_on_the_core_link(lab, planes):
    planes["lma"].apply(lma_spec("mag1"))
    planes["mag1"].apply(mag_spec("mag1"))
    capture = subprocess.Popen(["ip", "netns", "exec", lab.ns("lma"), "tshark", "-i", "to-mag1", "-c", "1",
                                "-a", "duration:15", "-f", "ip6 proto 43", "-T", "fields",
                                "-e", "ipv6.src", "-e", "ipv6.routing.type", "-e", "ipv6.dst"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pinger = subprocess.Popen(["ip", "netns", "exec", lab.ns("cn"), "ping", "-6", "-q", "-i", "0.2", "-w", "15",
                               str(mn_address("mn1"))], stdout=subprocess.DEVNULL)
    try:
        out, _ = capture.communicate(timeout=20)  # ends at the first SRv6 packet it decodes
    finally:
        pinger.kill()
        pinger.wait()
        capture.kill()
    sources, routing_type, destinations = out.strip().split("\t")  # outer header first, then the inner one
    assert sources.split(",") == ["2001:db8:10:1::1", str(CN_ADDRESS)]  # the LMA's core address picks the source
    assert destinations.split(",") == [str(NODE_ADDRESS["mag1"]), str(mn_address("mn1"))]
    assert routing_type == "4"  # Segment Routing Header (RFC 8754)


def test_handover_to_mag2_keeps_the_mn_address_reachable(lab, planes):
    planes["lma"].apply(lma_spec("mag1"))
    planes["mag1"].apply(mag_spec("mag1"))
    assert reachable(lab, "mn1", str(CN_ADDRESS))
    lab.attach("mn1", "mag2")
    planes["mag1"].remove("mn1")
    planes["mag2"].apply(mag_spec("mag2"))
    assert planes["lma"].apply(lma_spec("mag2"))
    assert "2001:db8:ff::12" in routes(lab, "lma") and "2001:db8:ff::11 ]" not in routes(lab, "lma")
    assert owned(lab, "mag1") == []
    assert reachable(lab, "mn1", str(CN_ADDRESS))
    assert udp_round_trip(lab, "cn", "mn1", str(mn_address("mn1")), "downlink-hello") == "downlink-hello"


def test_apply_twice_installs_once_and_remove_of_absent_is_quiet(lab, planes):
    mag = planes["mag1"]
    assert mag.apply(mag_spec("mag1")) is True
    assert mag.apply(mag_spec("mag1")) is False
    listed = owned(lab, "mag1")
    assert sum(str(HNP) in line for line in listed) == 2  # one access route, one rule
    assert sum(line.startswith("default") for line in listed) == 1
    assert mag.remove("mn1") is True
    assert mag.remove("mn1") is False
    assert owned(lab, "mag1") == []


def test_failure_midway_rolls_back_and_raises(lab, planes):
    broken = BindingSpec("mn1", mag_spec("mag1").tunnel,
                         (Route(RouteKind.UPLINK, HNP, tunnel="to-lma"),
                          Route(RouteKind.ACCESS, HNP, interface="no-such-if")))
    with pytest.raises(DataPlaneError, match="no-such-if"):
        planes["mag1"].apply(broken)  # the tunnel's default route went in first, then was undone
    assert owned(lab, "mag1") == []
    assert planes["mag1"].installed() == {}


def test_restart_reconcile_keeps_one_copy_and_removes_what_is_not_wanted(lab, planes):
    foreign = "2001:db8:99::/64"
    lab.exec("mag1", "ip", "-6", "route", "add", foreign, "dev", "core")
    planes["mag1"].apply(mag_spec("mag1"))
    before = owned(lab, "mag1")
    planes["mag1"].close()

    restarted = LinuxDataPlane(core_interface="core", netns=lab.ns("mag1"))
    planes["mag1"] = restarted
    report = restarted.reconcile([mag_spec("mag1")])
    assert report.added == ("mn1",) and report.removed == ()
    assert owned(lab, "mag1") == before

    report = LinuxDataPlane(core_interface="core", netns=lab.ns("mag1")).reconcile([])
    assert len(report.removed) == 3  # default route, access route, rule left by the earlier run
    assert owned(lab, "mag1") == []
    assert foreign in routes(lab, "mag1")


def test_ip6ip6_without_kernel_support_is_a_clear_error(lab):
    with pytest.raises(EncapsulationUnavailable,
                       match="encapsulation ip6ip6 unavailable: the kernel has no ip6tnl support"):
        LinuxDataPlane(netns=lab.ns("lma"), encapsulation=Encapsulation.IP6IP6)


def test_seg6local_decap_sid_is_installed_and_owned(lab, planes):
    tunnel = Tunnel(name="to-lma", local=NODE_ADDRESS["mag1"], remote=NODE_ADDRESS["lma"],
                    remote_sid=NODE_ADDRESS["lma"], local_sid=IPv6Network("2001:db8:ff:11::1/128")[0], table=100)
    spec = BindingSpec("mn1", tunnel, (Route(RouteKind.UPLINK, HNP, tunnel="to-lma"),
                                       Route(RouteKind.ACCESS, HNP, interface="acc-mn1")))
    planes["mag1"].apply(spec)
    sid_route = next(line for line in routes(lab, "mag1").splitlines() if line.startswith("2001:db8:ff:11::1 "))
    assert "encap seg6local action End.DT6 table main" in sid_route and "proto 201" in sid_route
    planes["mag1"].remove(spec)
    assert owned(lab, "mag1") == []


def test_from_settings_uses_the_configured_marks(lab):
    dp = SimpleNamespace(core_interface="core", route_table=77, rule_priority=1500, route_protocol=190,
                         encapsulation="srv6", probe_table=4200)
    script = ("from types import SimpleNamespace as S; from nf.dataplane.linux import LinuxDataPlane;"
              "from tests.e2e.test_dataplane_linux import mag_spec;"
              f"p = LinuxDataPlane.from_settings(S(dataplane=S(**{vars(dp)!r})));"
              "p.apply(mag_spec('mag1'))")
    lab.exec("mag1", sys.executable, "-c", script)  # the process runs inside the namespace, as the function does
    # -N: numbers, not names (FRR, a test dependency, names the protocols 186 to 197 in rt_protos.d)
    assert "1500:\tfrom 2001:db8:100:1::/64 iif acc-mn1 lookup 100 proto 190" in lab.exec("mag1", "ip", "-N", "-6", "rule").stdout
    assert "proto 190" in lab.exec("mag1", "ip", "-N", "-6", "route", "show", str(HNP)).stdout  # -N: FRR names 186-197
