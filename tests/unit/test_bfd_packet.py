"""BFD Control packet codec against octets built by hand from the RFC 5880 §4.1 figure."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nf.liveness.bfd.packet import (
    AuthSection,
    BfdDecodeError,
    BfdState,
    ControlPacket,
    Diagnostic,
    decode,
    encode,
)

# Byte 0 is Vers(3) Diag(5), byte 1 Sta(2) P F C A D M, then Detect Mult, Length, and
# five 32-bit words: My Discr, Your Discr, Desired Min TX, Required Min RX, Echo RX (µs).
DOWN_FIRST = bytes.fromhex("20 40 03 18" "11223344" "00000000" "000f4240" "000493e0" "00000000")
UP_POLL = bytes.fromhex("20 e0 03 18" "11223344" "55667788" "000493e0" "000493e0" "00000000")
UP_FINAL = bytes.fromhex("20 d0 03 18" "11223344" "55667788" "000493e0" "000493e0" "00000000")
ADMIN_DOWN_DIAG_7 = bytes.fromhex("27 00 01 18" "00000001" "ffffffff" "000f4240" "0000c350" "00000000")
# Down, diagnostic 3, with C and D set, multiplier 255, echo 50 ms.
DOWN_DIAG_3_C_D = bytes.fromhex("23 4a ff 18" "00000002" "00000003" "00000004" "00000005" "0000c350")


def test_first_packet_of_a_session_is_down_with_your_discriminator_zero():
    packet = ControlPacket(state=BfdState.DOWN, my_discriminator=0x11223344,
                           detect_multiplier=3, desired_min_tx_us=1_000_000,
                           required_min_rx_us=300_000)
    assert encode(packet) == DOWN_FIRST
    assert decode(DOWN_FIRST) == packet


def test_poll_and_final_bits_are_bits_2_and_3_of_the_second_octet():
    common = dict(state=BfdState.UP, my_discriminator=0x11223344,
                  your_discriminator=0x55667788, desired_min_tx_us=300_000,
                  required_min_rx_us=300_000)
    assert encode(ControlPacket(poll=True, **common)) == UP_POLL
    assert encode(ControlPacket(final=True, **common)) == UP_FINAL
    assert decode(UP_POLL).poll and not decode(UP_POLL).final
    assert decode(UP_FINAL).final and not decode(UP_FINAL).poll


def test_admin_down_carries_diagnostic_7_in_the_low_five_bits_of_octet_0():
    packet = decode(ADMIN_DOWN_DIAG_7)
    assert packet.state == BfdState.ADMIN_DOWN
    assert packet.diagnostic == Diagnostic.ADMINISTRATIVELY_DOWN
    assert packet.your_discriminator == 0xFFFFFFFF
    assert packet.required_min_rx_us == 50_000
    assert encode(packet) == ADMIN_DOWN_DIAG_7


def test_control_plane_independent_and_demand_bits_and_echo_interval_decode():
    packet = decode(DOWN_DIAG_3_C_D)
    assert (packet.control_plane_independent, packet.demand, packet.poll, packet.final) == (
        True, True, False, False)
    assert packet.diagnostic == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert packet.detect_multiplier == 255
    assert (packet.desired_min_tx_us, packet.required_min_rx_us,
            packet.required_min_echo_rx_us) == (4, 5, 50_000)
    assert encode(packet) == DOWN_DIAG_3_C_D


def test_octets_after_length_are_ignored():
    assert decode(DOWN_FIRST + b"\x00\x00") == decode(DOWN_FIRST)


def test_authentication_section_is_kept_whole_with_its_type():
    section = bytes.fromhex("04 1c 01 00 00000005") + bytes(20)
    data = bytearray(DOWN_FIRST)
    data[1] |= 0x04
    data[3] = 24 + 28
    packet = decode(bytes(data) + section)
    assert packet.authentication == AuthSection(4, section)
    assert packet.length == 52
    assert encode(packet) == bytes(data) + section


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d.__setitem__(0, 0x40), "bad-version"),                 # version 2
    (lambda d: d.__setitem__(0, 0x00), "bad-version"),                 # version 0
    (lambda d: d.__setitem__(3, 23), "bad-length"),                    # Length below 24
    (lambda d: d.__setitem__(3, 28), "bad-length"),                    # Length past the payload
    (lambda d: d.__setitem__(1, d[1] | 0x04), "bad-length"),           # A bit, Length 24 < 26
    (lambda d: d.__setitem__(2, 0), "detect-multiplier-zero"),
    (lambda d: d.__setitem__(1, d[1] | 0x01), "multipoint"),
    (lambda d: d.__setitem__(slice(4, 8), bytes(4)), "my-discriminator-zero"),
])
def test_rfc_5880_6_8_6_discards_are_typed_with_a_stable_reason(mutate, reason):
    data = bytearray(DOWN_FIRST)
    mutate(data)
    with pytest.raises(BfdDecodeError) as caught:
        decode(bytes(data))
    assert caught.value.reason == reason


def test_checks_run_in_the_rfc_order_version_before_length():
    data = bytearray(DOWN_FIRST)
    data[0] = 0x40  # version 2
    data[2] = 0  # and detect multiplier zero
    with pytest.raises(BfdDecodeError) as caught:
        decode(bytes(data))
    assert caught.value.reason == "bad-version"


def test_shorter_than_the_mandatory_section_is_bad_length():
    with pytest.raises(BfdDecodeError) as caught:
        decode(DOWN_FIRST[:23])
    assert caught.value.reason == "bad-length"


def test_auth_len_disagreeing_with_length_is_bad_length():
    data = bytearray(DOWN_FIRST)
    data[1] |= 0x04
    data[3] = 52
    section = bytes.fromhex("04 10 01 00 00000005") + bytes(20)  # Auth Len 16, not 28
    with pytest.raises(BfdDecodeError) as caught:
        decode(bytes(data) + section)
    assert caught.value.reason == "bad-length"


def test_encode_refuses_poll_and_final_together():
    with pytest.raises(ValueError, match="poll and final"):
        encode(ControlPacket(state=BfdState.UP, my_discriminator=1, poll=True, final=True))


@given(st.one_of(st.binary(max_size=80),
                 st.binary(min_size=0, max_size=60).map(lambda tail: DOWN_FIRST[:4] + tail)))
def test_decode_raises_nothing_but_bfd_decode_error(data):
    try:
        packet = decode(data)
    except BfdDecodeError as exc:
        assert exc.reason
    else:
        assert packet.length <= len(data)
        assert decode(encode(packet)) == packet
