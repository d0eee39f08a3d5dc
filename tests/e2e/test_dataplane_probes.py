"""Data-path probe forwarding in the namespace lab: packets between the LMA's and a MAG's
probe addresses take the SRv6 tunnel both ways, and each fault on that path loses them."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from nf.dataplane.linux import LinuxDataPlane
from nf.dataplane.tunnels import TunnelBuilder
from nf.lab.topology import HOME_PREFIX, NODE_ADDRESS, PROBE_ADDRESS, Topology

pytestmark = pytest.mark.root

LMA_PROBE, MAG_PROBE = PROBE_ADDRESS["lma"], PROBE_ADDRESS["mag1"]
PORT = 61784


def builder(host: str) -> TunnelBuilder:
    mag = SimpleNamespace(lma_address=NODE_ADDRESS["lma"]) if host != "lma" else None
    dp = SimpleNamespace(encapsulation="srv6", srv6_source_address=None, srv6_decap_sid=None, route_table=100)
    return TunnelBuilder(SimpleNamespace(dataplane=dp, node=SimpleNamespace(address=NODE_ADDRESS[host]), mag=mag))


@pytest.fixture
def probed(lab: Topology) -> Iterator[dict[str, LinuxDataPlane]]:
    """The LMA and mag1 with their probe addresses and the probe specs of their tunnel."""
    planes = {"lma": LinuxDataPlane(netns=lab.ns("lma")), "mag1": LinuxDataPlane(core_interface="core",
                                                                                 netns=lab.ns("mag1"))}
    try:
        planes["lma"].apply(TunnelBuilder.probe_local_spec(LMA_PROBE))
        planes["lma"].apply(builder("lma").probe_spec(NODE_ADDRESS["mag1"], LMA_PROBE, MAG_PROBE, access_side=False))
        planes["mag1"].apply(TunnelBuilder.probe_local_spec(MAG_PROBE))
        planes["mag1"].apply(builder("mag1").probe_spec(NODE_ADDRESS["lma"], MAG_PROBE, LMA_PROBE, access_side=True))
        yield planes
    finally:
        for plane in planes.values():
            plane.close()


ECHO = """
import socket, sys
def bound(address, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, 78, 1)  # IPV6_FREEBIND: a probe address is a local route, not an address
    s.bind((address, port))
    return s
s = bound(sys.argv[1], {port})
s.settimeout(5)
data, peer = s.recvfrom(100)
bound(sys.argv[2], 0).sendto(data, peer)  # answers come from the probe address, whatever was addressed
"""

ASK = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, 78, 1)
s.bind((sys.argv[1], 0))
s.settimeout(float(sys.argv[4]))
try:  # a route gone may fail the send itself (no route): as lost as a dropped packet
    s.sendto(b"probe", (sys.argv[2], int(sys.argv[3])))
    print(s.recvfrom(100)[0].decode())
except OSError:
    print("lost")
"""


def exchange(lab: Topology, client: str, source, server: str, listen, target, timeout: float = 2.0) -> str:
    """One datagram from `source` in `client` to `target`, echoed by `server` listening on
    `listen` and answering from its probe address; 'probe' when the echo came back, 'lost'
    otherwise."""
    echo = subprocess.Popen(["ip", "netns", "exec", lab.ns(server), sys.executable, "-c",
                             ECHO.format(port=PORT), str(listen), str(PROBE_ADDRESS[server])])
    try:
        lab.exec(server, "sh", "-c", f"for i in $(seq 50); do ss -Hlun 'sport = :{PORT}' | grep -q . && exit 0;"
                                     " sleep 0.05; done; exit 1")  # the echo socket is bound
        result = lab.exec(client, sys.executable, "-c", ASK, str(source), str(target), str(PORT), str(timeout))
        return result.stdout.strip()
    finally:
        echo.kill()
        echo.wait()


def test_lma_to_mag_probe_addresses_answer_through_the_tunnel(lab, probed):
    assert exchange(lab, "lma", LMA_PROBE, "mag1", MAG_PROBE, MAG_PROBE) == "probe"
    assert exchange(lab, "mag1", MAG_PROBE, "lma", LMA_PROBE, LMA_PROBE) == "probe"


def test_probe_packets_are_srv6_encapsulated_on_the_core_link(lab, probed):
    capture = subprocess.Popen(["ip", "netns", "exec", lab.ns("lma"), "tshark", "-i", "to-mag1", "-c", "2",
                                "-a", "duration:15", "-f", "ip6 proto 43", "-T", "fields",
                                "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "udp.dstport"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lab.exec("lma", "sh", "-c", "for i in $(seq 100); do ss -Hxp | grep -q dumpcap && exit 0; sleep 0.05; done")
    assert exchange(lab, "lma", LMA_PROBE, "mag1", MAG_PROBE, MAG_PROBE) == "probe"
    out, _ = capture.communicate(timeout=20)
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [(src.split(","), dst.split(",")) for src, dst, _ in lines] == [
        (["2001:db8:10:1::1", str(LMA_PROBE)], [str(NODE_ADDRESS["mag1"]), str(MAG_PROBE)]),
        (["2001:db8:10:1::2", str(MAG_PROBE)], [str(NODE_ADDRESS["lma"]), str(LMA_PROBE)]),
    ]


def test_anchor_probes_into_a_home_network_prefix_are_delivered_at_the_access_gateway(lab, probed):
    """The per-mobile-node probe: addressed into the node's prefix, delivered to the MAG."""
    hnp = HOME_PREFIX["mn1"]
    lab.exec("lma", "ip", "-6", "route", "add", str(hnp), "encap", "seg6", "mode", "encap", "segs",
             str(NODE_ADDRESS["mag1"]), "dev", "to-mag1")
    assert exchange(lab, "lma", LMA_PROBE, "mag1", "::", hnp.network_address) == "probe"


@pytest.mark.parametrize("fault", [
    ("lma", "ip -6 route del 2001:db8:fe::11/128"),  # the downlink route to the MAG's probe address
    ("lma", "ip -6 route replace 2001:db8:fe::11/128 encap seg6 mode encap segs 2001:db8:ff::12 dev to-mag1"),  # wrong SID
    ("mag1", "ip -6 rule del from 2001:db8:fe::11 to 2001:db8:fe::1 lookup 100"),  # the uplink rule
    ("mag1", "ip -6 route del default table 100"),  # the tunnel's uplink route
    ("mag1", "sysctl -qw net.ipv6.conf.core.seg6_enabled=0"),  # decapsulation
    ("lma", "ip link set to-mag1 down"),  # the core link
], ids=["downlink-route-deleted", "wrong-sid", "uplink-rule-deleted", "uplink-route-deleted",
        "decapsulation-off", "core-link-down"])
def test_each_fault_on_the_tunnel_loses_the_probe(lab, probed, fault):
    host, command = fault
    lab.exec(host, *command.split())
    assert exchange(lab, "lma", LMA_PROBE, "mag1", MAG_PROBE, MAG_PROBE, timeout=0.5) == "lost"


def test_removing_the_probe_specs_leaves_nothing_of_ours(lab, probed):
    for host, plane in probed.items():
        for key in list(plane.installed()):
            plane.remove(key)
        assert lab.exec(host, "ip", "-6", "route", "show", "table", "all", "proto", "201").stdout == ""
        assert "proto 201" not in lab.exec(host, "ip", "-6", "rule").stdout
