"""Properties: every encodable message decodes to itself; no input makes decode raise
anything but a WireError.
"""
from ipaddress import IPv6Address, IPv6Network

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nf.wire import (
    AccessTechnologyTypeOption,
    AnchoredPrefixOption,
    BindingError,
    BindingRevocationAck,
    BindingRevocationIndication,
    DlifLinkLayerAddressOption,
    DlifLinkLocalAddressOption,
    HandoffIndicatorOption,
    Heartbeat,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    LocalPrefixOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    OpaqueMobileNodeIdentifierOption,
    PreviousMaarOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    RestartCounterOption,
    ServingMaarOption,
    TimestampOption,
    UnknownOption,
    UpdateNotification,
    UpdateNotificationAck,
    WireError,
    decode,
    encode,
)
from nf.wire.options import PARSERS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
addresses = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
prefixes = st.builds(
    lambda address, length: IPv6Network((address, length), strict=False), addresses, st.integers(0, 128)
)
lifetimes = st.integers(0, 0xFFFF).map(lambda units: units * 4)
link_layer_ids = st.binary(max_size=16)

options = st.one_of(
    st.builds(MobileNodeIdentifierOption, st.text(max_size=40)),
    st.builds(OpaqueMobileNodeIdentifierOption, st.integers(2, 255), st.binary(max_size=40)),
    st.builds(HomeNetworkPrefixOption, prefixes),
    st.builds(AnchoredPrefixOption, prefixes),
    st.builds(LocalPrefixOption, prefixes),
    st.builds(HandoffIndicatorOption, u8),
    st.builds(AccessTechnologyTypeOption, u8),
    st.builds(MobileNodeLinkLayerIdentifierOption, link_layer_ids),
    st.builds(DlifLinkLayerAddressOption, link_layer_ids),
    st.builds(LinkLocalAddressOption, addresses),
    st.builds(ServingMaarOption, addresses),
    st.builds(DlifLinkLocalAddressOption, addresses),
    st.builds(TimestampOption, st.integers(0, 2**48 - 1), u16),
    st.builds(RestartCounterOption, u32),
    st.builds(PreviousMaarOption, addresses, prefixes),
    st.builds(
        UnknownOption,
        u8.filter(lambda t: t not in PARSERS and t not in (0, 1)),
        st.binary(max_size=30),
    ),
)
option_lists = st.lists(options, max_size=6).map(tuple)

messages = st.one_of(
    st.builds(
        ProxyBindingUpdate, u16, lifetimes, option_lists, st.booleans(), st.booleans(), st.booleans(),
        st.booleans(), st.booleans(), st.booleans(), st.booleans(),
        other_flags=st.integers(0, 0x01FF).map(lambda v: v & 0x01EF), dmm=st.booleans(),  # all but D: "other"
    ),
    st.builds(
        ProxyBindingAck, u8, u16, lifetimes, option_lists, st.booleans(), st.booleans(), st.booleans(),
        other_flags=st.sampled_from([0, 0x10, 0x08, 0x04, 0x01, 0x1D]), dmm=st.booleans(),
    ),
    st.builds(BindingError, u8, addresses, option_lists),
    st.builds(Heartbeat, u32, st.booleans(), st.booleans(), option_lists),
    st.builds(BindingRevocationIndication, u8, u16, option_lists, st.booleans(), st.booleans(), st.booleans()),
    st.builds(BindingRevocationAck, u8, u16, option_lists, st.booleans(), st.booleans(), st.booleans()),
    st.builds(UpdateNotification, u16, u16, option_lists, st.booleans(), st.booleans(), st.integers(0, 0x3FFF)),
    st.builds(UpdateNotificationAck, u16, u8, option_lists),
)



@SETTINGS
@given(messages, addresses, addresses)
def test_decode_of_encode_is_the_message(message, src, dst):
    octets = encode(message, src, dst)
    assert len(octets) % 8 == 0
    assert decode(octets, src, dst) == message


@SETTINGS
@given(st.binary(max_size=300), addresses, addresses, st.booleans())
def test_random_octets_raise_only_wire_errors(data, src, dst, verify):
    try:
        decode(data, src, dst, verify_checksum=verify)
    except WireError:
        pass


@SETTINGS
@given(messages, st.data())
def test_truncated_or_extended_messages_raise_only_wire_errors(message, data):
    src = dst = IPv6Address("2001:db8::1")
    octets = encode(message, src, dst)
    cut = data.draw(st.integers(0, len(octets) - 1))
    tail = data.draw(st.binary(min_size=1, max_size=2100))
    for broken in (octets[:cut], octets + tail):
        try:
            decode(broken, src, dst, verify_checksum=False)
        except WireError:
            pass
        else:
            raise AssertionError(f"{broken.hex()} was accepted")


@SETTINGS
@given(messages, st.data())
def test_corrupted_messages_raise_only_wire_errors(message, data):
    src = dst = IPv6Address("2001:db8::1")
    octets = bytearray(encode(message, src, dst))
    for _ in range(data.draw(st.integers(1, 4))):
        octets[data.draw(st.integers(0, len(octets) - 1))] = data.draw(u8)
    try:
        decode(bytes(octets), src, dst, verify_checksum=False)
    except WireError:
        pass
