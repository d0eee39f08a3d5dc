"""RawMhTransport: Mobility Header over raw IPv6 (Next Header 135); needs root."""
from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
import textwrap
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from scapy.layers.inet6 import IPv6, MIP6MH_BRR, in6_chksum
from scapy.packet import raw

from nf.transport import MH_PROTOCOL, RawMhTransport, open_transport
from tests import waiting

pytestmark = pytest.mark.root

LOOPBACK = IPv6Address("::1")
REPO = Path(__file__).resolve().parents[2]


def brr_with_wrong_checksum() -> bytes:
    """A Binding Refresh Request (scapy-built) whose checksum field is deliberately wrong."""
    mh = bytearray(raw(IPv6(src="::1", dst="::1") / MIP6MH_BRR())[40:])
    mh[4:6] = b"\xde\xad"
    return bytes(mh)


def checksum_ok(mh: bytes, src: str, dst: str) -> bool:
    """Checks the Mobility Header checksum with scapy's pseudo-header sum (RFC 6275 6.1.1)."""
    zeroed = mh[:4] + b"\0\0" + mh[6:]
    return in6_chksum(MH_PROTOCOL, IPv6(src=src, dst=dst), zeroed) == int.from_bytes(mh[4:6], "big")


wait_until = functools.partial(waiting.wait_until, timeout=2.0)


def plain_mh_socket(verify_checksum: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, MH_PROTOCOL)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 4 if verify_checksum else -1)
    sock.settimeout(2)
    return sock


def test_round_trip_on_loopback_with_pktinfo_destination_and_kernel_checksum():
    async def scenario():
        received = []
        receiver = RawMhTransport("::", lambda *args: received.append(args))
        sender = open_transport("raw-ipv6", LOOPBACK, lambda *args: None)
        await receiver.start()
        await sender.start()
        observer = plain_mh_socket(verify_checksum=False)
        try:
            assert sender.send(brr_with_wrong_checksum(), LOOPBACK)
            await wait_until(lambda: received)
            data, src, src_port, dst = received[0]
            assert (src, src_port, dst) == (LOOPBACK, 0, LOOPBACK)
            # The kernel replaced our wrong checksum with the right one (IPV6_CHECKSUM 4).
            assert data[:4] == brr_with_wrong_checksum()[:4]
            assert checksum_ok(data, "::1", "::1")
            assert checksum_ok(observer.recv(4096), "::1", "::1")
        finally:
            observer.close()
            receiver.close()
            sender.close()

    asyncio.run(scenario())


def test_datagram_with_wrong_checksum_never_reaches_the_handler():
    async def scenario():
        received = []
        receiver = RawMhTransport(LOOPBACK, lambda *args: received.append(args))
        await receiver.start()
        unchecked = plain_mh_socket(verify_checksum=False)
        try:
            unchecked.sendto(brr_with_wrong_checksum(), ("::1", 0))
            good = bytearray(brr_with_wrong_checksum())
            good[4:6] = b"\0\0"
            checked = plain_mh_socket(verify_checksum=True)
            checked.sendto(bytes(good), ("::1", 0))
            checked.close()
            # Both were queued before the reader ran, and one readiness event drains the
            # socket: had the kernel let the bad one through, it would be here, first.
            await wait_until(lambda: received)
            assert len(received) == 1
            assert checksum_ok(received[0][0], "::1", "::1")
        finally:
            unchecked.close()
            receiver.close()

    asyncio.run(scenario())


ECHO_IN_NAMESPACE = textwrap.dedent("""
    import asyncio, sys
    from nf.transport import RawMhTransport

    async def main():
        done = asyncio.get_running_loop().create_future()
        def echo(data, src, port, dst):
            transport.send(data, src, src=dst)
            done.set_result(None)
        transport = RawMhTransport("::", echo)
        await transport.start()
        print("ready", flush=True)
        await asyncio.wait_for(done, 5)
        transport.close()

    asyncio.run(main())
""")


@pytest.fixture
def veth_to_namespace():
    """A veth pair: fd00:135::1 here, fd00:135::2 in a fresh network namespace."""
    tag = f"{os.getpid() % 100000}"
    netns, here, there = f"mhraw{tag}", f"mhra{tag}", f"mhrb{tag}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", netns)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", netns)
        ip("addr", "add", "fd00:135::1/64", "dev", here, "nodad")
        ip("-n", netns, "addr", "add", "fd00:135::2/64", "dev", there, "nodad")
        ip("link", "set", here, "up")
        ip("-n", netns, "link", "set", there, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        yield netns
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)


def test_echo_across_a_veth_pair_into_another_namespace(veth_to_namespace):
    echo = subprocess.Popen(
        ["ip", "netns", "exec", veth_to_namespace, sys.executable, "-c", ECHO_IN_NAMESPACE],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert echo.stdout.readline().strip() == "ready", echo.stderr.read()

        async def scenario():
            received = []
            local = RawMhTransport("fd00:135::1", lambda *args: received.append(args))
            await local.start()
            try:
                payload = brr_with_wrong_checksum()
                # The first datagram may wait for neighbour discovery; resend until answered.
                for _ in range(50):
                    local.send(payload, IPv6Address("fd00:135::2"))
                    try:
                        await wait_until(lambda: received, timeout=0.1)
                        break
                    except AssertionError:
                        continue
                data, src, _, dst = received[0]
                assert (src, dst) == (IPv6Address("fd00:135::2"), IPv6Address("fd00:135::1"))
                assert checksum_ok(data, "fd00:135::2", "fd00:135::1")
            finally:
                local.close()

        asyncio.run(scenario())
        assert echo.wait(timeout=5) == 0, echo.stderr.read()
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()
