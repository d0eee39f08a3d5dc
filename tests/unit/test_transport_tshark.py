"""What the transports put on the wire, as tshark (an independent decoder) reads it."""
from __future__ import annotations

import asyncio
import subprocess
from ipaddress import IPv6Address

import pytest
from scapy.layers.inet6 import IPv6, MIP6MH_BRR
from scapy.packet import raw

from nf.transport import RawMhTransport, UdpTransport

pytestmark = pytest.mark.root

LOOPBACK = IPv6Address("::1")


def capture_one(capture_filter: str, decode_as: list[str], fields: list[str], send) -> list[str]:
    """Starts tshark on lo, calls `send` once it captures, returns the fields of one packet."""
    command = ["tshark", "-i", "lo", "-c", "1", "-f", capture_filter, "-T", "fields"]
    for rule in decode_as:
        command += ["-d", rule]
    for name in fields:
        command += ["-e", name]
    tshark = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = ""
        while "Capture started" not in started:  # logged once packets are being taken
            line = tshark.stderr.readline()
            assert line, f"tshark ended before capturing: {started}"
            started += line
        send()
        out, _ = tshark.communicate(timeout=10)
    finally:
        if tshark.poll() is None:
            tshark.kill()
            tshark.wait()
    return out.strip().split("\t")


def brr() -> bytes:
    return raw(IPv6(src="::1", dst="::1") / MIP6MH_BRR())[40:]


def test_udp_transport_datagram_decodes_as_mobility_header():
    async def scenario():
        transport = UdpTransport(LOOPBACK, lambda *a: None, port=0)
        await transport.start()
        try:
            port = transport.local_port + 1 if transport.local_port < 65535 else 1024
            fields = capture_one(f"udp and dst port {port}", [f"udp.port=={port},mipv6"],
                                 ["ipv6.dst", "udp.dstport", "mip6.mhtype", "mip6.hlen"],
                                 lambda: transport.send(brr(), LOOPBACK, port))
            assert fields == ["::1", str(port), "0", "0"]
        finally:
            transport.close()

    asyncio.run(scenario())


def test_raw_transport_packet_is_ipv6_next_header_135_mobility_header():
    async def scenario():
        transport = RawMhTransport(LOOPBACK, lambda *a: None)
        await transport.start()
        try:
            fields = capture_one("ip6 proto 135", [],
                                 ["ipv6.nxt", "ipv6.dst", "mip6.mhtype", "mip6.csum"],
                                 lambda: transport.send(brr(), LOOPBACK))
            assert fields[:3] == ["135", "::1", "0"]
            assert int(fields[3], 16) == int.from_bytes(brr()[4:6], "big")
        finally:
            transport.close()

    asyncio.run(scenario())
