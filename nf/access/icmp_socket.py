"""A raw ICMPv6 socket tied to one access interface (RFC 3542).

It receives only Router Solicitations (ICMP6_FILTER), sends with hop limit 255 as Neighbor
Discovery requires, and names the source address and outgoing interface of every packet
with IPV6_PKTINFO, so an advertisement leaves from the MAG's (fixed) link-local address on
exactly this link. The kernel computes the ICMPv6 checksum.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv6Address

from .errors import InterfaceUnavailable
from .ndp import ND_HOP_LIMIT, ROUTER_SOLICITATION

ICMP6_FILTER = 1  # <netinet/icmp6.h>; option level IPPROTO_ICMPV6
ALL_ROUTERS = IPv6Address("ff02::2")
_RECEIVE_BUFFER = 1500
_ANCILLARY_SPACE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4)  # in6_pktinfo + hop limit


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    source: IPv6Address
    hop_limit: int | None


def _pass_only(icmp_type: int) -> bytes:
    """An ICMP6_FILTER that blocks every type but one (a set bit blocks, RFC 3542 3.2)."""
    words = [0xFFFFFFFF] * 8
    words[icmp_type >> 5] &= ~(1 << (icmp_type & 31))
    return struct.pack("=8I", *words)


class IcmpSocket:
    def __init__(self, interface: str) -> None:
        try:
            self.index = socket.if_nametoindex(interface)
        except OSError:
            raise InterfaceUnavailable(f"access interface {interface!r} does not exist") from None
        self.interface = interface
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, _pass_only(ROUTER_SOLICITATION))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ND_HOP_LIMIT)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ND_HOP_LIMIT)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            # Solicitations go to all-routers; a host (forwarding off) has not joined it.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                            ALL_ROUTERS.packed + struct.pack("@I", self.index))
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            raise InterfaceUnavailable(f"cannot open an ICMPv6 socket on {interface!r}: {e}") from None
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes, source: IPv6Address, destination: IPv6Address) -> None:
        pktinfo = source.packed + struct.pack("@I", self.index)
        self._sock.sendmsg([data], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)], 0,
                           (str(destination), 0, 0, self.index))

    def receive(self) -> Received | None:
        """One waiting packet, or None when nothing is queued."""
        try:
            data, ancillary, _flags, address = self._sock.recvmsg(_RECEIVE_BUFFER, _ANCILLARY_SPACE)
        except (BlockingIOError, InterruptedError):
            return None
        hop_limit = None
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                hop_limit = struct.unpack("@i", value[:4])[0]
        return Received(data, IPv6Address(address[0].split("%")[0]), hop_limit)

    def close(self) -> None:
        self._sock.close()
