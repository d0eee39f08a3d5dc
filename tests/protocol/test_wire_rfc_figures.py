"""Messages neither tshark 4.0 nor scapy 2.6 knows, checked against octets written by hand
from the RFC figures: RFC 7077 §4.1 / §4.2 (Update Notification and its Acknowledgement) and
the D flag of RFC 8885 §4.1 / §4.2.

Every vector below is spelled out field by field from the figure, independently of
nf.wire; only the checksum is filled in, by scapy (RFC 2460 pseudo-header, Next Header 135).
The codec must encode the message to exactly these octets and decode them back.
"""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.wire import (
    AnchoredPrefixOption,
    MobileNodeIdentifierOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    UpdateNotification,
    UpdateNotificationAck,
    decode,
    encode,
)
from tests.protocol import wire_oracle as oracle

LMA = IPv6Address("2001:db8:b::1")
MAG = IPv6Address("2001:db8:a::1")
NAI = "mn1@example.net"
# Mobile Node Identifier option (RFC 4283 §3): Type 8, Length 16, Subtype 1 (NAI), 15 octets of NAI.
MN_ID = "08" "10" "01" + NAI.encode().hex()
PADN_0 = "0100"  # PadN with no data octets: two octets of padding (RFC 6275 §6.2.3)


def _with_checksum(hex_octets: str, src: IPv6Address, dst: IPv6Address) -> bytes:
    octets = bytes.fromhex(hex_octets)
    assert octets[4:6] == b"\x00\x00", "written with a zero checksum"
    checksum = oracle.scapy_checksum(octets, src, dst)
    return octets[:4] + checksum.to_bytes(2, "big") + octets[6:]


# RFC 7077 §4.1, Figure 3: Sequence # (16), Notification Reason (16), A D Reserved(14).
UPN = (
    "3b"  # Payload Proto 59
    "03"  # Header Len: 32 octets = (3 + 1) * 8
    "13"  # MH Type 19
    "00"  # Reserved
    "0000"  # Checksum (filled in below)
    "beef"  # Sequence #
    "0002"  # Notification Reason 2, UPDATE-SESSION-PARAMETERS, in 16 bits
    "c000"  # A = 1, D = 1, Reserved = 0
    + MN_ID + PADN_0
)
# The same with A = 1, D = 0 and a reason above 255, which an 8-bit field could not hold.
UPN_WIDE_REASON = "3b031300" "0000" "0001" "0104" "8000" + MN_ID + PADN_0
# RFC 7077 §4.2, Figure 4: Sequence # (16), Status Code (8), Reserved (24).
UPA = "3b031400" "0000" "beef" "80" "000000" + MN_ID + PADN_0
# RFC 8885 §4.1: |A|H|L|K|M|R|P|F|T|B|S|D| Rsrvd | -> A H P D = 1100 0010 0001 0000.
PBU_D = "3b030500" "0000" "0007" "c210" "0096" + MN_ID + PADN_0
# RFC 8885 §4.2: | Status |K|R|P|T|B|S|D| | -> P and D = 0010 0010; then Sequence, Lifetime.
PBA_D = (
    "3b060600" "0000" "00" "22" "0007" "0096" + MN_ID
    + "01040000" "0000"  # PadN of 4 data octets, so the Anchored Prefix starts at 8n+4 (octet 36)
    + "41" "12" "00" "40" "20010db8000100020000000000000000"  # Anchored Prefix, RFC 8885 §4.3
)

VECTORS = {
    "upn": (UPN, LMA, MAG, UpdateNotification(
        sequence=0xBEEF, reason=2, ack_requested=True, retransmit=True, options=(MobileNodeIdentifierOption(NAI),))),
    "upn-wide-reason": (UPN_WIDE_REASON, LMA, MAG, UpdateNotification(
        sequence=1, reason=0x0104, ack_requested=True, retransmit=False, options=(MobileNodeIdentifierOption(NAI),))),
    "upa": (UPA, MAG, LMA, UpdateNotificationAck(
        sequence=0xBEEF, status=128, options=(MobileNodeIdentifierOption(NAI),))),
    "pbu-d-flag": (PBU_D, MAG, LMA, ProxyBindingUpdate(
        sequence=7, lifetime=600, dmm=True, options=(MobileNodeIdentifierOption(NAI),))),
    "pba-d-flag": (PBA_D, LMA, MAG, ProxyBindingAck(
        status=0, sequence=7, lifetime=600, dmm=True,
        options=(MobileNodeIdentifierOption(NAI), AnchoredPrefixOption(IPv6Network("2001:db8:1:2::/64"))))),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_hand_built_octets_decode_to_the_message(name):
    hex_octets, src, dst, message = VECTORS[name]
    assert decode(_with_checksum(hex_octets, src, dst), src, dst) == message


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_message_encodes_to_the_hand_built_octets(name):
    hex_octets, src, dst, message = VECTORS[name]
    assert encode(message, src, dst).hex() == _with_checksum(hex_octets, src, dst).hex()


def test_an_rfc_7077_update_notification_reads_its_16_bit_reason_and_the_a_flag():
    upn = decode(_with_checksum(UPN_WIDE_REASON, LMA, MAG), LMA, MAG)
    assert (upn.reason, upn.ack_requested, upn.retransmit, upn.other_flags) == (0x0104, True, False, 0)


def test_the_d_flag_is_bit_11_of_the_pbu_flags_and_bit_6_of_the_pba_flags():
    assert ProxyBindingUpdate.FIXED.flags("dmm") == 0x0010
    assert ProxyBindingAck.FIXED.flags("dmm") == 0x02
    assert UpdateNotification.FIXED.flags("retransmit") == 0x4000
    assert UpdateNotification.FIXED.flags("ack_requested") == 0x8000
