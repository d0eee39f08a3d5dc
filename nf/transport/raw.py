"""Mobility Header over raw IPv6 (Next Header 135), as RFC 6275 and RFC 5213 carry it.

Needs root (CAP_NET_RAW). The kernel writes the IPv6 header; we send and receive the
Mobility Header alone. IPV6_CHECKSUM with offset 4 (RFC 3542 section 3.1) makes the kernel
compute the Mobility Header checksum over the pseudo-header of the addresses it really uses
on send, and drop datagrams whose checksum is wrong on receive. Linux already does this for
protocol 135 by default; setting it says so explicitly and holds on other kernels too.
"""
from __future__ import annotations

import socket
from ipaddress import IPv6Address

from nf.transport.base import MH_PROTOCOL, DatagramHandler, TransportError
from nf.transport.endpoint import SocketEndpoint

MH_CHECKSUM_OFFSET = 4  # octets from the start of the Mobility Header (RFC 6275 6.1.1)


class RawMhTransport(SocketEndpoint):
    """Mobility Header datagrams on a raw IPv6 socket for protocol 135."""

    carries_ports = False

    def __init__(self, address: IPv6Address | str, handler: DatagramHandler) -> None:
        super().__init__(address, 0, handler)

    def local_name(self) -> str:
        return f"raw IPv6 (Mobility Header, protocol {MH_PROTOCOL}) on [{self._address}]"

    def _open_socket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, MH_PROTOCOL)
        except PermissionError as exc:
            raise TransportError(
                "raw IPv6 Mobility Header socket needs root (CAP_NET_RAW); "
                "use transport type udp for unprivileged setups") from exc
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, MH_CHECKSUM_OFFSET)
        return sock
