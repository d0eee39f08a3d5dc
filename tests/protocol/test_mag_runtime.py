"""The MAG inside the runtime, over UDP on loopback, against a scripted LMA socket.

The PBU the MAG puts on the wire is decoded by tshark as well as by our codec; the PBA the
test sends back goes through the runtime's decode and dispatch into the MAG.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf import wire
from nf.dataplane.base import RouteKind
from nf.model import new_context
from nf.runtime import Runtime
from nf.settings import EnumValues, settings_from_dict
from tests.protocol.wire_oracle import expert_problems, scapy_packet, tshark_decode
from tests.waiting import wait_until

LOOPBACK = IPv6Address("::1")
MN = "mn1@example.net"
HNP = IPv6Network("2001:db8:100::/64")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return sock.getsockname()[1]


async def receive_pbu(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, int]:
    """The next PBU's octets and source port; the MAG's heartbeats to its LMA are skipped."""
    loop = asyncio.get_running_loop()
    while True:
        data, (_, port, *_) = await asyncio.wait_for(loop.sock_recvfrom(sock, 4096), timeout)
        if isinstance(wire.decode(data, LOOPBACK, LOOPBACK), wire.ProxyBindingUpdate):
            return data, port


@pytest.fixture
def lma_socket():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def mag_settings(mag_port: int, lma_port: int):
    return settings_from_dict({
        "node": {"name": "mag1", "role": ["dmm-nf-types:mag"], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": mag_port, "listen-address": "::1"},
        "mag": {"lma-address": "::1", "access-interface": [{"name": "acc0"}],
                "fixed-link-local-address": "fe80::1"},
        "peers": {"peer": [{"address": "::1", "name": "lma1", "udp-port": lma_port}]},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }, EnumValues(new_context()))


def test_attach_registers_through_the_runtime_over_udp(tmp_path, lma_socket):
    settings = mag_settings(free_udp_port(), lma_socket.getsockname()[1])
    captured: list[bytes] = []

    async def scenario() -> None:
        runtime = Runtime(settings, tmp_path)
        await runtime.start()
        try:
            mag = runtime.mag
            await asyncio.to_thread(runtime.call, mag.attach, MN, "02:00:00:aa:bb:cc")
            data, mag_port = await receive_pbu(lma_socket)
            captured.append(data)
            pbu = wire.decode(data, LOOPBACK, LOOPBACK)
            assert pbu.proxy and pbu.ack and pbu.lifetime == 3600
            pba = wire.ProxyBindingAck(status=0, sequence=pbu.sequence, lifetime=3600, options=(
                wire.MobileNodeIdentifierOption(MN), wire.HomeNetworkPrefixOption(HNP),
                wire.MobileNodeLinkLayerIdentifierOption(bytes.fromhex("020000aabbcc"))))
            lma_socket.sendto(wire.encode(pba, LOOPBACK, LOOPBACK), ("::1", mag_port))
            await wait_until(lambda: getattr(mag.entry(MN, "02:00:00:aa:bb:cc"), "state", None) == "registered")
            assert runtime.dataplane.route(RouteKind.UPLINK, HNP) is not None
            assert runtime.stats.pba_received_by_status == {0: 1}
            assert [e.kind for e in runtime.events.history()] == ["binding-created"]
        finally:
            await runtime.stop()

    asyncio.run(scenario())
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed: the second decoder is unavailable")
    [fields] = tshark_decode([scapy_packet(captured[0], LOOPBACK, LOOPBACK, udp=True)])
    assert expert_problems(fields) == []
    assert fields["mip6.mhtype"] == ["5"]
    assert fields["mip6.bu.p_flag"] == ["1"] and fields["mip6.bu.a_flag"] == ["1"] and fields["mip6.bu.h_flag"] == ["1"]
    assert fields["mip6.bu.lifetime"] == ["900"]  # 3600 s in 4-second units
    assert fields["mip6.mnid.identifier"] == [MN]
    assert fields["mip6.nemo.mnp.pfl"] == ["0"]  # ALL_ZERO prefix: please assign one
    assert fields["mip6.hi"] == ["1"] and fields["mip6.att"] == ["3"]
    assert fields["mip6.mnlli.lli"] == ["02:00:00:aa:bb:cc"]
    assert "mip6.lila_lla" not in fields  # a fixed MAG link-local address: no option (RFC 5213 §6.9.1.1 #9)
    assert fields["mip6.bu.l_flag"] == ["0"]
    assert len(fields["mip6.timestamp_tmp"]) == 1
