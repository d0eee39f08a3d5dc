"""The Mobility Header checksum (RFC 6275 §6.1.1).

It is the Internet checksum over the RFC 2460 §8.1 pseudo-header (source, destination,
upper-layer length, three zero octets, Next Header 135) followed by the whole Mobility
Header. The same value is used when the Mobility Header travels as a UDP payload.

The one's-complement sum of 16-bit words is congruent to the big-endian integer of the
same octets modulo 0xFFFF (2**16 = 1 mod 0xFFFF), which lets one ``int.from_bytes``
replace a Python loop over words.
"""
from ipaddress import IPv6Address

from .constants import IPPROTO_MH

_NEXT_HEADER = bytes((0, 0, 0, IPPROTO_MH))


def _sum(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> int:
    pseudo = src.packed + dst.packed + len(mobility_header).to_bytes(4, "big") + _NEXT_HEADER
    return int.from_bytes(pseudo + mobility_header, "big") % 0xFFFF


def compute(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> int:
    """Checksum for a Mobility Header whose Checksum field is zero (even length)."""
    return -_sum(src, dst, mobility_header) % 0xFFFF


def verifies(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> bool:
    """True when the Checksum field already in ``mobility_header`` is right."""
    return _sum(src, dst, mobility_header) == 0
