"""The Mobility Header checksum (RFC 6275 §6.1.1).

It is the Internet checksum over the RFC 2460 §8.1 pseudo-header (source, destination,
upper-layer length, three zero octets, Next Header 135) followed by the whole Mobility
Header. The same value is used when the Mobility Header travels as a UDP payload.

The one's-complement sum of 16-bit words is congruent to the big-endian integer of the
same octets modulo 0xFFFF (2**16 = 1 mod 0xFFFF), which lets one ``int.from_bytes``
replace a Python loop over words. For the same reason an even-length run of octets adds
its own integer wherever it stands, so the pseudo-header is the sum of its fields' values:
no octets of it are built.
"""
from ipaddress import IPv6Address

from .constants import IPPROTO_MH


def _sum(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> int:
    pseudo = int(src) + int(dst) + len(mobility_header) + IPPROTO_MH
    return (pseudo + int.from_bytes(mobility_header, "big")) % 0xFFFF


def compute(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> int:
    """Checksum for a Mobility Header whose Checksum field is zero (even length)."""
    return -_sum(src, dst, mobility_header) % 0xFFFF


def verifies(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> bool:
    """True when the Checksum field already in ``mobility_header`` is right."""
    return _sum(src, dst, mobility_header) == 0
