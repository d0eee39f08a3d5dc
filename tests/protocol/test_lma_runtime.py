"""The LMA inside the runtime, over UDP on loopback, against a scripted MAG socket: the PBU
goes through the runtime's decode and dispatch, the PBA comes back on the wire and is read
by tshark as well as by our codec."""
from __future__ import annotations

import asyncio
import shutil
import socket
import time
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf import wire
from nf.dataplane.base import RouteKind
from nf.model import new_context
from nf.runtime import Runtime
from nf.settings import EnumValues, settings_from_dict
from tests.protocol.wire_oracle import scapy_packet, tshark_decode

LOOPBACK = IPv6Address("::1")
MN = "mn1@example.net"
POOL = IPv6Network("2001:db8:1000::/48")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return sock.getsockname()[1]


def lma_settings(lma_port: int, mag_port: int):
    return settings_from_dict({
        "node": {"name": "lma1", "role": ["dmm-nf-types:lma"], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": lma_port, "listen-address": "::1"},
        "lma": {"allowed-mag": ["::1"], "default-pool": "home"},
        "prefix-pools": {"pool": [{"name": "home", "prefix": str(POOL), "assign-length": 64}]},
        "policy-store": {"mobile-node": [{"mn-identifier": MN, "pool": "home"}]},
        "peers": {"peer": [{"address": "::1", "name": "mag1", "udp-port": mag_port}]},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }, EnumValues(new_context()))


def pbu_octets(sequence: int = 1) -> bytes:
    pbu = wire.ProxyBindingUpdate(sequence=sequence, lifetime=400, options=(
        wire.MobileNodeIdentifierOption(MN),
        wire.HomeNetworkPrefixOption(IPv6Network("::/0")),
        wire.HandoffIndicatorOption(1),
        wire.AccessTechnologyTypeOption(3),
        wire.TimestampOption.from_time(time.time()),
    ))
    return wire.encode(pbu, LOOPBACK, LOOPBACK)


async def receive_pba(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The next PBA's octets; heartbeats from the LMA's liveness monitor are skipped."""
    loop = asyncio.get_running_loop()
    while True:
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
        if isinstance(wire.decode(data, LOOPBACK, LOOPBACK), wire.ProxyBindingAck):
            return data


@pytest.fixture
def mag_socket():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def run_with_lma(tmp_path, mag_socket, scenario):
    lma_port = free_udp_port()
    settings = lma_settings(lma_port, mag_socket.getsockname()[1])

    async def main():
        runtime = Runtime(settings, tmp_path)
        await runtime.start()
        try:
            return await scenario(runtime, ("::1", lma_port))
        finally:
            await runtime.stop()

    return asyncio.run(main())


def test_pbu_over_udp_creates_a_binding_and_the_pba_comes_back(tmp_path, mag_socket):
    async def scenario(runtime, lma):
        mag_socket.sendto(pbu_octets(sequence=3), lma)
        return runtime, await receive_pba(mag_socket)

    runtime, octets = run_with_lma(tmp_path, mag_socket, scenario)
    pba = wire.decode(octets, LOOPBACK, LOOPBACK)
    assert (pba.status, pba.sequence, pba.lifetime) == (0, 3, 400)
    [prefix] = [o.prefix for o in pba.options if isinstance(o, wire.HomeNetworkPrefixOption)]
    assert prefix.subnet_of(POOL)
    entry = runtime.lma.binding(MN)
    assert entry.home_network_prefixes == (prefix,)
    assert runtime.dataplane.route(RouteKind.DOWNLINK, prefix) is not None
    assert runtime.stats.pba_sent_by_status == {0: 1}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_pba_the_lma_sends(tmp_path, mag_socket):
    async def scenario(runtime, lma):
        mag_socket.sendto(pbu_octets(), lma)
        return await receive_pba(mag_socket)

    octets = run_with_lma(tmp_path, mag_socket, scenario)
    [fields] = tshark_decode([scapy_packet(octets, LOOPBACK, LOOPBACK, udp=True)])
    assert fields["mip6.mhtype"] == ["6"]
    assert (fields["mip6.ba.status"], fields["mip6.ba.lifetime"]) == (["0"], [str(400 // 4)])
    assert fields["mip6.mnid.identifier"] == [MN]
    assert fields["mip6.nemo.mnp.pfl"] == ["64"]
    assert fields["mip6.hi"] == ["1"] and fields["mip6.att"] == ["3"]


def test_garbage_does_not_stop_the_lma_answering(tmp_path, mag_socket):
    async def scenario(runtime, lma):
        mag_socket.sendto(b"\x3b\x01\x05\x00garbage", lma)
        mag_socket.sendto(pbu_octets(), lma)
        return runtime, await receive_pba(mag_socket)

    runtime, octets = run_with_lma(tmp_path, mag_socket, scenario)
    assert wire.decode(octets, LOOPBACK, LOOPBACK).status == 0
    assert runtime.stats.drops >= 1
