"""Mobility Header transports: raw IPv6 (protocol 135) and UDP port 5436.

``open_transport(kind, ...)`` builds the one named by the configured transport type.
"""
from __future__ import annotations

from ipaddress import IPv6Address
from typing import Literal

from nf.transport.base import (
    MAX_MH_LENGTH,
    MH_PROTOCOL,
    PMIP6_CNTL_PORT,
    DatagramHandler,
    MhTransport,
    TransportCounters,
    TransportError,
)
from nf.transport.raw import RawMhTransport
from nf.transport.udp import UdpTransport

TransportKind = Literal["raw-ipv6", "udp"]
TRANSPORT_KINDS: tuple[str, ...] = ("raw-ipv6", "udp")


def open_transport(kind: str, address: IPv6Address | str | None, handler: DatagramHandler,
                   port: int = PMIP6_CNTL_PORT) -> MhTransport:
    """The transport for config `transport type`, not yet started.

    `address` None listens on every address (destinations then come from IPV6_PKTINFO);
    `port` applies to udp only.
    """
    if address is None:
        address = IPv6Address("::")
    if kind == "udp":
        return UdpTransport(address, handler, port)
    if kind == "raw-ipv6":
        return RawMhTransport(address, handler)
    raise TransportError(f"unknown transport type {kind!r}; expected one of {TRANSPORT_KINDS}")


__all__ = [
    "MAX_MH_LENGTH", "MH_PROTOCOL", "PMIP6_CNTL_PORT", "TRANSPORT_KINDS", "DatagramHandler",
    "MhTransport", "RawMhTransport", "TransportCounters", "TransportError", "TransportKind",
    "UdpTransport", "open_transport",
]
