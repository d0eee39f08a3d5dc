"""The access link on a real Linux link: a "MAG" namespace runs `AccessLink` on one end of
a veth pair, a "MN" namespace (a host: forwarding off, accept_ra=2, SLAAC on) on the other."""
from __future__ import annotations

import asyncio
import ctypes
import json
import os
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv6Address, IPv6Network

import pytest
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr

from nf.access import AccessLink, AdvertisingTimers
from nf.roles.mag_forwarding import AdvertisedPrefix, RouterAdvertisement
from tests.e2e.test_access_link_wire import LINK_LOCAL, MAC, mag_settings

pytestmark = pytest.mark.root

PREFIX = IPv6Network("2001:db8:1:1::/64")
MAG_IF, MN_IF = "acc0", "mn0"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run this thread in `namespace`; sockets opened here stay there after we return."""
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{namespace}") as target:
        if _libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            _libc.setns(home.fileno(), _CLONE_NEWNET)


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def link_pair() -> Iterator[tuple[str, str]]:
    tag = os.getpid() % 100000
    mag_ns, mn_ns = f"acl-mag-{tag}", f"acl-mn-{tag}"
    try:
        sh("ip", "netns", "add", mag_ns)
        sh("ip", "netns", "add", mn_ns)
        sh("ip", "link", "add", MAG_IF, "netns", mag_ns, "type", "veth", "peer", MN_IF, "netns", mn_ns)
        for key, value in (("forwarding", "0"), ("accept_ra", "2"), ("autoconf", "1"), ("accept_dad", "0")):
            sh("ip", "netns", "exec", mn_ns, "sysctl", "-qw", f"net.ipv6.conf.{MN_IF}.{key}={value}")
        sh("ip", "netns", "exec", mag_ns, "sysctl", "-qw", f"net.ipv6.conf.{MAG_IF}.accept_dad=0")
        sh("ip", "-n", mag_ns, "link", "set", MAG_IF, "up")
        sh("ip", "-n", mn_ns, "link", "set", MN_IF, "up")
        yield mag_ns, mn_ns
    finally:
        for ns in (mag_ns, mn_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Harness:
    """An AccessLink in the MAG namespace, driven on its own event loop."""

    def __init__(self, mag_ns: str, mn_ns: str, timers: AdvertisingTimers = AdvertisingTimers()) -> None:
        self.mag_ns, self.mn_ns = mag_ns, mn_ns
        self.loop = asyncio.new_event_loop()
        self.solicitations: list[tuple[str, bytes | None]] = []
        self.link_events: list[tuple[str, bool]] = []
        self.link = AccessLink(MAG_IF, mag_settings(), self.loop, timers=timers,
                               on_solicitation=lambda i, mac: self.solicitations.append((i, mac)),
                               on_link_event=lambda i, up: self.link_events.append((i, up)))
        with inside(mag_ns):
            self.link.start()

    def close(self) -> None:
        with inside(self.mag_ns):
            self.link.close()
        self.loop.close()

    def until(self, condition: Callable[[], object], timeout: float = 10.0) -> object:
        """Run the loop until `condition()` is truthy; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.loop.run_until_complete(asyncio.sleep(0.05))
            if result := condition():
                return result
        pytest.fail(f"condition not met within {timeout} s")

    def mn(self, *args: str) -> list[dict]:
        return json.loads(sh("ip", "-n", self.mn_ns, "-j", *args) or "[]")

    def mn_mac(self) -> bytes:
        return bytes.fromhex(self.mn("link", "show", MN_IF)[0]["address"].replace(":", ""))


@pytest.fixture
def harness(link_pair) -> Iterator[Harness]:
    h = Harness(*link_pair)
    try:
        yield h
    finally:
        h.close()


def request(key: str = "mag/mn1@example.net/") -> RouterAdvertisement:
    return RouterAdvertisement(key=key, interface=MAG_IF, source=None, router_lifetime=1800,
                               prefixes=(AdvertisedPrefix(PREFIX, 600, 300),))


def address_in(h: Harness, prefix: IPv6Network) -> dict | None:
    for iface in h.mn("-6", "addr", "show", "dev", MN_IF):
        for info in iface.get("addr_info", []):
            if IPv6Address(info["local"]) in prefix:
                return info
    return None


def slaac_address(h: Harness) -> dict | None:
    return address_in(h, PREFIX)


def default_route(h: Harness) -> dict | None:
    routes = h.mn("-6", "route", "show", "default", "dev", MN_IF)
    return routes[0] if routes else None


def test_advertisement_gives_the_mobile_node_an_address_and_the_fixed_router(harness):
    harness.link.advertise(request())
    address = harness.until(lambda: slaac_address(harness))
    assert address["prefixlen"] == 64 and address["preferred_life_time"] <= 300
    route = harness.until(lambda: default_route(harness))
    assert route["gateway"] == str(LINK_LOCAL)  # RFC 5213 6.8: the fixed MAG link-local address
    neighbour = harness.until(lambda: harness.mn("-6", "neigh", "show", str(LINK_LOCAL), "dev", MN_IF))
    assert neighbour[0]["lladdr"] == MAC.hex(":")  # the Source Link-Layer Address option's


def test_withdrawal_removes_the_default_route_and_deprecates_the_address(harness):
    harness.link.advertise(request())
    harness.until(lambda: default_route(harness) and slaac_address(harness))
    assert harness.link.withdraw("mag/mn1@example.net/") is True
    harness.until(lambda: default_route(harness) is None)
    # RFC 4862 5.5.3 e): a host keeps the valid lifetime it has, but stops preferring the address.
    harness.until(lambda: (a := slaac_address(harness)) is None or a["preferred_life_time"] == 0)
    assert harness.link.advertised() == {}
    assert harness.link.withdraw("mag/mn1@example.net/") is False


def test_the_advertisement_on_the_wire_decodes_in_scapy(harness):
    with inside(harness.mn_ns):
        capture = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        capture.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        capture.settimeout(0.05)
        harness.link.advertise(request())

        def received_ra():
            try:
                data, ancillary, _, source = capture.recvmsg(1500, socket.CMSG_SPACE(4))
            except TimeoutError:
                return None
            return (data, ancillary, source) if data[0] == 134 else None

        data, ancillary, source = harness.until(received_ra)
    finally:
        capture.close()
    hop_limit = struct.unpack("@i", ancillary[0][2][:4])[0]
    assert hop_limit == 255 and source[0].split("%")[0] == str(LINK_LOCAL)
    ra = ICMPv6ND_RA(data)
    assert ra.routerlifetime == 1800 and ra[ICMPv6NDOptSrcLLAddr].lladdr == MAC.hex(":")
    pio = ra[ICMPv6NDOptPrefixInfo]
    assert (pio.prefix, pio.prefixlen, pio.L, pio.A) == ("2001:db8:1:1::", 64, 1, 1)
    assert (pio.validlifetime, pio.preferredlifetime) == (600, 300)


def test_solicitation_from_an_unknown_node_is_reported_with_its_mac(harness):
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "down")
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "up")  # a host solicits when its link comes up
    harness.until(lambda: harness.solicitations)
    assert harness.solicitations[0] == (MAG_IF, harness.mn_mac())


def test_solicitation_from_the_advertised_node_is_answered_unicast(harness):
    mac = harness.mn_mac()
    harness.link.advertise(request(), link_layer_address=mac)
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "down")
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "up")
    harness.until(lambda: harness.link.counters["solicited"] >= 1)
    assert harness.solicitations == []
    mn_link_local = next(IPv6Address(a["local"]) for a in harness.mn("-6", "addr", "show", "dev", MN_IF)[0]["addr_info"]
                         if IPv6Address(a["local"]).is_link_local)
    assert harness.link.neighbors[mac] == mn_link_local  # later advertisements go there, unicast
    harness.until(lambda: default_route(harness))


def test_carrier_down_and_up_on_the_mobile_node_side_are_reported(harness):
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "down")
    harness.until(lambda: (MAG_IF, False) in harness.link_events)
    sh("ip", "-n", harness.mn_ns, "link", "set", MN_IF, "up")
    harness.until(lambda: (MAG_IF, True) in harness.link_events)
    assert harness.link_events == [(MAG_IF, False), (MAG_IF, True)]  # one report per change


def test_interface_set_up_is_undone_on_close(link_pair):
    mag_ns, _ = link_pair

    def mag_state() -> tuple[list[str], str]:
        addresses = json.loads(sh("ip", "-n", mag_ns, "-j", "-6", "addr", "show", "dev", MAG_IF))[0]["addr_info"]
        mac = json.loads(sh("ip", "-n", mag_ns, "-j", "link", "show", MAG_IF))[0]["address"]
        return [a["local"] for a in addresses], mac

    _, original_mac = mag_state()
    h = Harness(*link_pair)
    addresses, mac = mag_state()
    assert str(LINK_LOCAL) in addresses and mac == MAC.hex(":")
    h.close()
    addresses, mac = mag_state()
    assert str(LINK_LOCAL) not in addresses and mac == original_mac


def test_advertisements_repeat_until_withdrawn(link_pair):
    h = Harness(*link_pair, timers=AdvertisingTimers(max_interval=0.3, min_interval=0.1, max_initial_interval=0.2))
    try:
        h.link.advertise(request())
        h.until(lambda: h.link.counters["sent"] >= 4)
        h.link.withdraw("mag/mn1@example.net/")
        sent = h.link.counters["sent"]
        end = h.loop.time() + 1.0  # over three maximum intervals: long enough to see a stray one
        h.until(lambda: h.loop.time() >= end, timeout=3.0)
        assert h.link.counters["sent"] == sent
    finally:
        h.close()


def test_withdrawing_one_of_two_keeps_the_default_route(harness):
    other = RouterAdvertisement(key="mag/mn2@example.net/", interface=MAG_IF, source=None, router_lifetime=1800,
                                prefixes=(AdvertisedPrefix(IPv6Network("2001:db8:1:2::/64"), 600, 300),))
    harness.link.advertise(request())
    harness.link.advertise(other)
    harness.until(lambda: default_route(harness) and address_in(harness, other.prefixes[0].prefix))
    harness.link.withdraw(other.key)
    harness.until(lambda: (a := address_in(harness, other.prefixes[0].prefix)) is None or a["preferred_life_time"] == 0)
    assert default_route(harness) is not None  # router lifetime stayed: a prefix is still served here
