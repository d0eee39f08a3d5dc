"""Malformed input gives the typed error with the right statistics key, never a crash."""
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.wire import (
    BindingError,
    BindingErrorStatus,
    ChecksumError,
    EncodeError,
    Heartbeat,
    HomeNetworkPrefixOption,
    LengthError,
    MessageValueError,
    MobileNodeIdentifierOption,
    OptionLengthError,
    OptionValueError,
    OversizedError,
    Pad1,
    PadN,
    PayloadProtoError,
    ProxyBindingAck,
    ProxyBindingUpdate,
    RestartCounterOption,
    TimestampOption,
    TruncatedError,
    UnknownMessageType,
    UnknownOption,
    UpdateNotification,
    WireError,
    decode,
    encode,
)
from nf.wire import checksum

SRC, DST = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")


def sealed(octets: bytes) -> bytes:
    """``octets`` with Header Len set from their length and a correct checksum."""
    data = bytearray(octets)
    data[1] = len(data) // 8 - 1
    data[4:6] = b"\x00\x00"
    data[4:6] = checksum.compute(SRC, DST, bytes(data)).to_bytes(2, "big")
    return bytes(data)


def heartbeat_with_options(options: bytes) -> bytes:
    return sealed(bytes.fromhex("3b000d000000" "0000" "00000001") + options)


@pytest.mark.parametrize(
    "error, reason",
    [
        (TruncatedError, "truncated"),
        (OversizedError, "oversized"),
        (LengthError, "bad-length"),
        (PayloadProtoError, "bad-payload-proto"),
        (ChecksumError, "bad-checksum"),
        (OptionLengthError, "bad-option-length"),
        (OptionValueError, "bad-option-value"),
        (MessageValueError, "bad-message-value"),
        (EncodeError, "bad-field"),
        (UnknownMessageType, "unknown-mh-type"),
    ],
)
def test_every_error_is_a_wire_error_with_a_stable_reason(error, reason):
    assert issubclass(error, WireError)
    assert error.reason == reason


@pytest.mark.parametrize("size", [0, 1, 7])
def test_fewer_than_eight_octets_is_truncated(size):
    with pytest.raises(TruncatedError):
        decode(bytes(size), SRC, DST)


def test_header_len_beyond_the_data_is_truncated():
    octets = encode(Heartbeat(1), SRC, DST)
    with pytest.raises(TruncatedError):
        decode(octets[:-8], SRC, DST)


def test_octets_after_the_header_len_are_a_bad_length():
    with pytest.raises(LengthError):
        decode(encode(Heartbeat(1), SRC, DST) + bytes(8), SRC, DST)


def test_more_than_2048_octets_is_oversized():
    with pytest.raises(OversizedError):
        decode(bytes(2056), SRC, DST)


def test_payload_proto_other_than_59_is_rejected():
    octets = bytearray(encode(Heartbeat(1), SRC, DST))
    octets[0] = 6
    with pytest.raises(PayloadProtoError):
        decode(bytes(octets), SRC, DST)


def test_a_flipped_bit_fails_the_checksum_unless_checking_is_off():
    octets = bytearray(encode(Heartbeat(1), SRC, DST))
    octets[11] ^= 0x01  # sequence 1 -> 0
    with pytest.raises(ChecksumError):
        decode(bytes(octets), SRC, DST)
    assert decode(bytes(octets), SRC, DST, verify_checksum=False) == Heartbeat(0)


def test_checksum_covers_the_pseudo_header_addresses():
    octets = encode(Heartbeat(1), SRC, DST)
    with pytest.raises(ChecksumError):
        decode(octets, SRC, IPv6Address("2001:db8::3"))


def test_unknown_mh_type_carries_what_a_binding_error_needs():
    octets = sealed(bytes.fromhex("3b002a000000" "0000"))
    with pytest.raises(UnknownMessageType) as caught:
        decode(octets, SRC, DST)
    assert (caught.value.mh_type, caught.value.src, caught.value.dst) == (42, SRC, DST)
    answer = BindingError.unrecognized_mh_type()
    assert answer.status == BindingErrorStatus.UNRECOGNIZED_MH_TYPE == 2
    assert decode(encode(answer, DST, SRC), DST, SRC) == answer


def test_header_len_shorter_than_the_message_type_needs_is_a_bad_length():
    # A Binding Error needs 24 octets; this one claims 16.
    octets = sealed(bytes.fromhex("3b0007000000" "0200") + bytes(8))
    with pytest.raises(LengthError):
        decode(octets, SRC, DST)


def test_an_option_overrunning_the_message_is_a_bad_option_length():
    with pytest.raises(OptionLengthError):
        decode(heartbeat_with_options(bytes.fromhex("1c080000")), SRC, DST)


def test_an_option_without_its_length_octet_is_a_bad_option_length():
    with pytest.raises(OptionLengthError):
        decode(heartbeat_with_options(bytes.fromhex("00000016")), SRC, DST)


def test_a_fixed_size_option_with_another_length_is_a_bad_option_length():
    # Restart Counter with Length 2 instead of 4
    with pytest.raises(OptionLengthError):
        decode(heartbeat_with_options(bytes.fromhex("1c020000")), SRC, DST)


def test_a_prefix_length_above_128_is_a_bad_option_value():
    bad_hnp = bytes.fromhex("1612" "0081") + bytes(16)
    with pytest.raises(OptionValueError):
        decode(heartbeat_with_options(bad_hnp), SRC, DST)


def test_unknown_options_are_kept_and_the_rest_still_read():
    # RFC 6275 §6.2.1: skip unknown options; here type 200 sits before a Restart Counter.
    octets = heartbeat_with_options(bytes.fromhex("c8020a0b" "1c0400000009" "0100"))
    assert decode(octets, SRC, DST).options == (UnknownOption(200, b"\x0a\x0b"), RestartCounterOption(9))


def test_binding_revocation_type_other_than_1_or_2_is_a_bad_message_value():
    octets = sealed(bytes.fromhex("3b0010000000" "0301000a8000" "01020000"))
    with pytest.raises(MessageValueError):
        decode(octets, SRC, DST)


@pytest.mark.parametrize("lifetime", [-4, 1, 10, 262141, 262144])
def test_lifetime_must_be_a_multiple_of_4_seconds_within_the_field(lifetime):
    with pytest.raises(EncodeError) as caught:
        encode(ProxyBindingUpdate(1, lifetime), SRC, DST)
    assert caught.value.reason == "bad-field"
    assert isinstance(caught.value, ValueError)


def test_largest_lifetime_round_trips():
    message = ProxyBindingAck(0, 1, 262140)
    assert decode(encode(message, SRC, DST), SRC, DST).lifetime == 262140


@pytest.mark.parametrize(
    "message",
    [
        ProxyBindingUpdate(65536, 4),
        Heartbeat(-1),
        ProxyBindingUpdate(1, 4, other_flags=0x0200),  # the P bit is not "other"
        ProxyBindingUpdate(1, 4, other_flags=0x0010),  # nor is RFC 8885's D bit
        UpdateNotification(1, 0x10000),  # the Notification Reason has 16 bits
        UpdateNotification(1, 1, other_flags=0x4000),  # the D bit of RFC 7077 has its name
        ProxyBindingUpdate(1, 4, options=(TimestampOption(1 << 48),)),
        ProxyBindingUpdate(1, 4, options=(UnknownOption(22, bytes(18)),)),  # type 22 has a class
        ProxyBindingUpdate(1, 4, options=(MobileNodeIdentifierOption("x" * 255),)),
        ProxyBindingUpdate(1, 4, options=(MobileNodeIdentifierOption("\ud800"),)),  # lone surrogate
    ],
)
def test_values_that_do_not_fit_their_field_are_encode_errors(message):
    with pytest.raises(EncodeError):
        encode(message, SRC, DST)


def test_a_message_beyond_2048_octets_is_oversized():
    options = tuple(MobileNodeIdentifierOption("x" * 200) for _ in range(11))
    with pytest.raises(OversizedError):
        encode(ProxyBindingUpdate(1, 4, options=options), SRC, DST)


def test_caller_padding_is_ignored_and_replaced_by_the_codec():
    hnp = HomeNetworkPrefixOption(IPv6Network("2001:db8::/64"))
    padded = ProxyBindingUpdate(1, 4, options=(Pad1(), PadN(5), hnp))
    assert encode(padded, SRC, DST) == encode(ProxyBindingUpdate(1, 4, options=(hnp,)), SRC, DST)


def test_hnp_is_aligned_8n_plus_4():
    octets = encode(ProxyBindingUpdate(1, 4, options=(HomeNetworkPrefixOption(IPv6Network("::/0")),)), SRC, DST)
    assert octets.index(bytes((22, 18))) % 8 == 4
