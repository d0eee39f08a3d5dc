"""The Mobility Header checksum against RFC 1071's one's-complement sum of 16-bit words
over the RFC 2460 section 8.1 pseudo-header, computed word by word."""
from __future__ import annotations

from ipaddress import IPv6Address

from hypothesis import given
from hypothesis import strategies as st

from nf.wire import checksum

_addresses = st.integers(0, (1 << 128) - 1).map(IPv6Address)
_headers = st.binary(min_size=0, max_size=300).map(lambda b: b + bytes(len(b) % 2))  # even length


def _rfc1071(src: IPv6Address, dst: IPv6Address, mobility_header: bytes) -> int:
    octets = src.packed + dst.packed + len(mobility_header).to_bytes(4, "big") + bytes((0, 0, 0, 135))
    octets += mobility_header
    total = 0
    for i in range(0, len(octets), 2):
        total += octets[i] << 8 | octets[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(_addresses, _addresses, _headers)
def test_checksum_of_a_zeroed_field_matches_the_word_by_word_sum(src, dst, header):
    header = header[:4] + bytes(2) + header[6:] if len(header) >= 6 else header
    assert checksum.compute(src, dst, header) % 0xFFFF == _rfc1071(src, dst, header) % 0xFFFF


@given(_addresses, _addresses, _headers.filter(lambda h: len(h) >= 6))
def test_a_header_carrying_its_checksum_verifies_and_a_flipped_bit_does_not(src, dst, header):
    header = header[:4] + bytes(2) + header[6:]
    value = checksum.compute(src, dst, header)
    sealed = header[:4] + value.to_bytes(2, "big") + header[6:]
    assert checksum.verifies(src, dst, sealed)
    flipped = bytes([sealed[0] ^ 0x01]) + sealed[1:]
    assert not checksum.verifies(src, dst, flipped)
