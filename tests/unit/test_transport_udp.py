"""UdpTransport: Mobility Header bytes over UDP/IPv6 on loopback, no privilege needed."""
from __future__ import annotations

import asyncio
import functools
import logging
import socket
from ipaddress import IPv6Address

import pytest
from scapy.layers.inet6 import IPv6, MIP6MH_BRR
from scapy.packet import raw

from nf.transport import (
    MAX_MH_LENGTH,
    TransportError,
    UdpTransport,
    open_transport,
)
from tests import waiting

LOOPBACK = IPv6Address("::1")


def mh_bytes() -> bytes:
    """A Binding Refresh Request built by scapy, an implementation independent of ours."""
    return raw(IPv6(src="::1", dst="::1") / MIP6MH_BRR())[40:]


wait_until = functools.partial(waiting.wait_until, timeout=2.0)


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[bytes, IPv6Address, int, IPv6Address]] = []

    def __call__(self, data: bytes, src: IPv6Address, src_port: int, dst: IPv6Address) -> None:
        self.items.append((data, src, src_port, dst))


def test_round_trip_reports_source_and_destination_addresses_with_pktinfo():
    async def scenario():
        server_inbox, client_inbox = Inbox(), Inbox()
        server = UdpTransport("::", server_inbox, port=0)  # wildcard: destination via pktinfo
        client = UdpTransport(LOOPBACK, client_inbox, port=0)
        await server.start()
        await client.start()
        try:
            payload = mh_bytes()
            assert client.send(payload, LOOPBACK, server.local_port)
            await wait_until(lambda: server_inbox.items)
            data, src, src_port, dst = server_inbox.items[0]
            assert (data, src, src_port, dst) == (payload, LOOPBACK, client.local_port, LOOPBACK)

            assert server.send(b"reply", src, src_port, src=dst)
            await wait_until(lambda: client_inbox.items)
            assert client_inbox.items[0] == (b"reply", LOOPBACK, server.local_port, LOOPBACK)
            assert server.counters.datagrams_in == 1
            assert server.counters.bytes_in == len(payload)
            assert server.counters.datagrams_out == 1
            assert client.counters.bytes_out == len(payload)
        finally:
            server.close()
            client.close()

    asyncio.run(scenario())


def test_bound_transport_reports_its_own_address_as_destination():
    async def scenario():
        inbox = Inbox()
        server = UdpTransport(LOOPBACK, inbox, port=0)
        await server.start()
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            peer.sendto(b"x" * 8, ("::1", server.local_port))
            await wait_until(lambda: inbox.items)
            assert inbox.items[0][3] == LOOPBACK
            assert inbox.items[0][2] == peer.getsockname()[1]
        finally:
            peer.close()
            server.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("bind", ["::", "::1"])
def test_burst_below_socket_buffer_arrives_complete_and_in_order(bind):
    count = 2000

    async def scenario():
        inbox = Inbox()
        server = UdpTransport(bind, inbox, port=0)
        await server.start()
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            for i in range(count):
                peer.sendto(i.to_bytes(4, "big") + bytes(4), ("::1", server.local_port))
            await wait_until(lambda: len(inbox.items) == count)
            assert [int.from_bytes(d[:4], "big") for d, *_ in inbox.items] == list(range(count))
            assert server.counters.datagrams_in == count
        finally:
            peer.close()
            server.close()

    asyncio.run(scenario())


def test_oversize_datagrams_are_dropped_and_counted_both_ways():
    async def scenario():
        inbox = Inbox()
        server = UdpTransport(LOOPBACK, inbox, port=0)
        await server.start()
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            assert not server.send(bytes(MAX_MH_LENGTH + 1), LOOPBACK, server.local_port)
            assert server.counters.oversize_dropped == 1
            assert server.counters.datagrams_out == 0

            peer.sendto(bytes(MAX_MH_LENGTH + 1), ("::1", server.local_port))
            peer.sendto(bytes(MAX_MH_LENGTH), ("::1", server.local_port))
            await wait_until(lambda: inbox.items)
            assert [len(d) for d, *_ in inbox.items] == [MAX_MH_LENGTH]
            assert server.counters.oversize_dropped == 2
        finally:
            peer.close()
            server.close()

    asyncio.run(scenario())


def test_send_error_is_counted_not_raised(caplog):
    async def scenario():
        transport = UdpTransport(LOOPBACK, Inbox(), port=0)
        await transport.start()
        try:
            with caplog.at_level(logging.WARNING, logger="nf.transport.endpoint"):
                # UDP to port 0 is refused by the kernel with EINVAL.
                sent = transport.send(b"12345678", LOOPBACK, 0)
            assert sent is False
            assert transport.counters.send_errors == 1
            assert "failed" in caplog.text
        finally:
            transport.close()

    asyncio.run(scenario())


def test_send_on_closed_transport_is_counted_not_raised():
    transport = UdpTransport(LOOPBACK, Inbox(), port=0)
    assert transport.send(b"12345678", LOOPBACK, 5436) is False
    assert transport.counters.send_errors == 1


def test_faulty_handler_is_counted_and_the_transport_keeps_receiving():
    async def scenario():
        seen: list[bytes] = []

        def handler(data, src, src_port, dst):
            seen.append(data)
            if data == b"boom":
                raise ValueError("handler bug")

        server = UdpTransport(LOOPBACK, handler, port=0)
        await server.start()
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            peer.sendto(b"boom", ("::1", server.local_port))
            peer.sendto(b"fine", ("::1", server.local_port))
            await wait_until(lambda: len(seen) == 2)
            assert server.counters.handler_errors == 1
        finally:
            peer.close()
            server.close()

    asyncio.run(scenario())


def test_close_then_restart_on_the_same_port_receives_again():
    async def scenario():
        inbox = Inbox()
        transport = UdpTransport(LOOPBACK, inbox, port=0)
        await transport.start()
        port = transport.local_port
        transport.close()
        assert transport.local_port == 0 and not transport.is_open
        transport.close()  # closing twice is harmless

        restarted = UdpTransport(LOOPBACK, inbox, port=port)
        await restarted.start()
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            peer.sendto(b"again!!!", ("::1", port))
            await wait_until(lambda: inbox.items)
            assert inbox.items[0][0] == b"again!!!"
        finally:
            peer.close()
            restarted.close()

    asyncio.run(scenario())


def test_starting_twice_is_a_typed_error():
    async def scenario():
        transport = UdpTransport(LOOPBACK, Inbox(), port=0)
        await transport.start()
        try:
            with pytest.raises(TransportError, match="already started"):
                await transport.start()
        finally:
            transport.close()

    asyncio.run(scenario())


def test_port_in_use_is_a_typed_error():
    async def scenario():
        first = UdpTransport(LOOPBACK, Inbox(), port=0)
        await first.start()
        try:
            second = UdpTransport(LOOPBACK, Inbox(), port=first.local_port)
            with pytest.raises(TransportError, match="cannot bind"):
                await second.start()
            assert not second.is_open
        finally:
            first.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("address", ["10.0.0.1", "not an address", "", b"\x00", 1.5])
def test_bad_address_is_a_typed_error(address):
    with pytest.raises(TransportError, match="not an IPv6 address"):
        UdpTransport(address, Inbox())


def test_unknown_interface_in_a_scoped_address_is_a_typed_error():
    async def scenario():
        transport = UdpTransport("fe80::1%no-such-if0", Inbox(), port=0)
        with pytest.raises(TransportError, match="unknown interface"):
            await transport.start()
        assert not transport.is_open

    asyncio.run(scenario())


def test_bad_port_is_a_typed_error():
    with pytest.raises(TransportError, match="port out of range"):
        UdpTransport(LOOPBACK, Inbox(), port=70000)


def test_factory_builds_the_configured_kind():
    assert isinstance(open_transport("udp", "::1", Inbox(), port=5436), UdpTransport)
    assert open_transport("udp", None, Inbox()).local_address == IPv6Address("::")
    with pytest.raises(TransportError, match="unknown transport type"):
        open_transport("gre", "::1", Inbox())
