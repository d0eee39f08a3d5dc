"""Mobility Header over UDP port 5436 (IANA pmip6-cntl): unprivileged and loopback setups."""
from __future__ import annotations

import socket
from ipaddress import IPv6Address

from nf.transport.base import PMIP6_CNTL_PORT, DatagramHandler
from nf.transport.endpoint import SocketEndpoint


class UdpTransport(SocketEndpoint):
    """Mobility Header datagrams on a UDP/IPv6 socket bound to `address` and `port`."""

    def __init__(self, address: IPv6Address | str, handler: DatagramHandler,
                 port: int = PMIP6_CNTL_PORT) -> None:
        super().__init__(address, port, handler)

    def _open_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        return sock
