"""Router Solicitation and Router Advertisement messages (RFC 4861 sections 4.1, 4.2, 4.6).

Typed frozen dataclasses with `encode()` for what the MAG sends and `decode_solicitation()`
for what it receives. The ICMPv6 checksum is left zero: the kernel fills it in for raw
ICMPv6 sockets (RFC 3542 section 3.1).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from .errors import BadAdvertisement, NdpDecodeError

ROUTER_SOLICITATION = 133
ROUTER_ADVERTISEMENT = 134
OPTION_SOURCE_LINK_LAYER_ADDRESS = 1
OPTION_PREFIX_INFORMATION = 3

PREFIX_ON_LINK = 0x80  # L flag
PREFIX_AUTONOMOUS = 0x40  # A flag (SLAAC, RFC 4862)
INFINITE_LIFETIME = 0xFFFFFFFF
MAX_ROUTER_LIFETIME = 9000  # RFC 4861 section 4.2
ND_HOP_LIMIT = 255  # RFC 4861 section 6.1: anything else was forwarded and is dropped
ADV_CUR_HOP_LIMIT = 64  # AdvCurHopLimit, the Assigned Numbers value RFC 4861 section 6.2.1 points to
SLAAC_PREFIX_LENGTH = 64  # RFC 4862 needs prefix + interface identifier = 128 bits; IIDs are 64 bits


@dataclass(frozen=True, slots=True)
class PrefixInformation:
    prefix: IPv6Network
    valid_lifetime: int
    preferred_lifetime: int
    on_link: bool = True
    autonomous: bool = True

    def __post_init__(self) -> None:
        for name in ("valid_lifetime", "preferred_lifetime"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= INFINITE_LIFETIME:
                raise BadAdvertisement(f"{self.prefix}: {name.replace('_', ' ')} must be 0..{INFINITE_LIFETIME}, "
                                       f"got {value!r}")
        if self.preferred_lifetime > self.valid_lifetime:
            raise BadAdvertisement(f"{self.prefix}: preferred lifetime {self.preferred_lifetime} exceeds valid "
                                   f"lifetime {self.valid_lifetime} (RFC 4862 section 5.5.3 c)")

    def encode(self) -> bytes:
        flags = (PREFIX_ON_LINK if self.on_link else 0) | (PREFIX_AUTONOMOUS if self.autonomous else 0)
        return struct.pack("!BBBBIII16s", OPTION_PREFIX_INFORMATION, 4, self.prefix.prefixlen, flags,
                           self.valid_lifetime, self.preferred_lifetime, 0, self.prefix.network_address.packed)


@dataclass(frozen=True, slots=True)
class RouterAdvertisementMessage:
    router_lifetime: int  # seconds; 0 = not a default router
    prefixes: tuple[PrefixInformation, ...]
    source_link_layer_address: bytes | None = None
    cur_hop_limit: int = ADV_CUR_HOP_LIMIT

    def __post_init__(self) -> None:
        if not isinstance(self.router_lifetime, int) or not 0 <= self.router_lifetime <= MAX_ROUTER_LIFETIME:
            raise BadAdvertisement(f"router lifetime must be 0..{MAX_ROUTER_LIFETIME} s (RFC 4861 section 4.2), "
                                   f"got {self.router_lifetime!r}")
        lla = self.source_link_layer_address
        if lla is not None and not 1 <= len(lla) <= 253:  # the option length counts 8-octet units
            raise BadAdvertisement(f"source link-layer address of {len(lla)} octets")

    def encode(self) -> bytes:
        header = struct.pack("!BBHBBHII", ROUTER_ADVERTISEMENT, 0, 0, self.cur_hop_limit, 0,
                             self.router_lifetime, 0, 0)
        options = b""
        if self.source_link_layer_address:
            options += _link_layer_option(OPTION_SOURCE_LINK_LAYER_ADDRESS, self.source_link_layer_address)
        return header + options + b"".join(p.encode() for p in self.prefixes)


@dataclass(frozen=True, slots=True)
class RouterSolicitation:
    source_link_layer_address: bytes | None


def _link_layer_option(kind: int, address: bytes) -> bytes:
    units = -(-(2 + len(address)) // 8)
    return bytes((kind, units)) + address + bytes(units * 8 - 2 - len(address))


def decode_solicitation(data: bytes, source: IPv6Address, hop_limit: int | None) -> RouterSolicitation:
    """Validate a received Router Solicitation as RFC 4861 section 6.1.1 asks."""
    if hop_limit is not None and hop_limit != ND_HOP_LIMIT:
        raise NdpDecodeError("rs-hop-limit", f"hop limit {hop_limit}, not 255")
    if len(data) < 8:
        raise NdpDecodeError("rs-too-short", f"{len(data)} octets, at least 8 needed")
    if data[0] != ROUTER_SOLICITATION:
        raise NdpDecodeError("rs-wrong-type", f"ICMPv6 type {data[0]}")
    if data[1] != 0:
        raise NdpDecodeError("rs-code", f"ICMP code {data[1]}, not 0")
    link_layer = None
    offset = 8
    while offset < len(data):
        if offset + 2 > len(data):
            raise NdpDecodeError("rs-option-truncated", f"option header at octet {offset} is cut short")
        kind, units = data[offset], data[offset + 1]
        if units == 0:
            raise NdpDecodeError("rs-option-length", f"option {kind} has length 0")
        end = offset + units * 8
        if end > len(data):
            raise NdpDecodeError("rs-option-truncated", f"option {kind} runs past the message")
        if kind == OPTION_SOURCE_LINK_LAYER_ADDRESS:
            link_layer = data[offset + 2:end]  # 6 octets on Ethernet; other links may pad
        offset = end
    if link_layer is not None and source.is_unspecified:
        raise NdpDecodeError("rs-unspecified-with-lla", "unspecified source with a link-layer address option")
    return RouterSolicitation(link_layer)

