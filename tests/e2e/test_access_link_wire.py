"""Router Advertisement / Solicitation wire format, checked against scapy, and bad input
ending in typed errors (no root needed)."""
from __future__ import annotations

import asyncio
from ipaddress import IPv6Address, IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr

from nf.access import (AccessLink, AccessLinkError, BadAdvertisement, InterfaceUnavailable, MobileNodeIdentities,
                       NdpDecodeError)
from nf.access.ndp import PrefixInformation, RouterAdvertisementMessage, decode_solicitation
from nf.access.ra import AdvertisingTimers, message
from nf.roles.mag_forwarding import AdvertisedPrefix, RouterAdvertisement
from nf.settings import MagSettings, RouterAdvertisementSettings

MAC = bytes.fromhex("020000aa0001")
LINK_LOCAL = IPv6Address("fe80::ad:1")


def mag_settings(fixed_ll: IPv6Address | None = LINK_LOCAL, fixed_mac: bytes | None = MAC) -> MagSettings:
    return MagSettings(lma_address=IPv6Address("2001:db8::1"), access_interfaces=(),
                       router_advertisement=RouterAdvertisementSettings(1800, 2592000, 604800),
                       fixed_link_local_address=fixed_ll, fixed_link_layer_address=fixed_mac,
                       enable_mag_local_routing=False)


def ra_request(interface: str = "acc0", prefixes: tuple[str, ...] = ("2001:db8:1:1::/64",),
               source: IPv6Address | None = LINK_LOCAL) -> RouterAdvertisement:
    return RouterAdvertisement(key="mag/mn1@example.net/", interface=interface, source=source, router_lifetime=1800,
                               prefixes=tuple(AdvertisedPrefix(IPv6Network(p), 2592000, 604800) for p in prefixes))


def test_scapy_decodes_the_advertisement_fields():
    encoded = message(ra_request(prefixes=("2001:db8:1:1::/64", "2001:db8:9::/48")), MAC).encode()
    ra = ICMPv6ND_RA(encoded)
    assert (ra.type, ra.code, ra.chlim, ra.M, ra.O, ra.routerlifetime) == (134, 0, 64, 0, 0, 1800)
    assert ra[ICMPv6NDOptSrcLLAddr].lladdr == "02:00:00:aa:00:01"
    first, second = ra[ICMPv6NDOptPrefixInfo], ra[ICMPv6NDOptPrefixInfo:2]
    assert (first.prefix, first.prefixlen, first.L, first.A) == ("2001:db8:1:1::", 64, 1, 1)
    assert (first.validlifetime, first.preferredlifetime) == (2592000, 604800)
    assert (second.prefix, second.prefixlen, second.A) == ("2001:db8:9::", 48, 0)  # no SLAAC outside /64


def test_withdrawal_zeroes_prefix_lifetimes_and_can_zero_router_lifetime():
    ra = ICMPv6ND_RA(message(ra_request(), MAC, withdrawn=True, router_lifetime=0).encode())
    pio = ra[ICMPv6NDOptPrefixInfo]
    assert (ra.routerlifetime, pio.validlifetime, pio.preferredlifetime) == (0, 0, 0)
    assert pio.prefix == "2001:db8:1:1::"


def test_solicitation_built_by_scapy_is_decoded_with_its_link_layer_address():
    rs = bytes(ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:07"))
    decoded = decode_solicitation(rs, IPv6Address("fe80::7"), 255)
    assert decoded.source_link_layer_address == bytes.fromhex("020000000007")


def test_solicitation_without_option_has_no_link_layer_address():
    assert decode_solicitation(bytes(ICMPv6ND_RS()), IPv6Address("::"), 255).source_link_layer_address is None


@pytest.mark.parametrize("data, source, hop_limit, reason", [
    (bytes(ICMPv6ND_RS()), "fe80::7", 254, "rs-hop-limit"),
    (bytes(ICMPv6ND_RS())[:6], "fe80::7", 255, "rs-too-short"),
    (bytes(ICMPv6ND_RS(code=1)), "fe80::7", 255, "rs-code"),
    (bytes(ICMPv6ND_RS()) + b"\x01\x00" + bytes(6), "fe80::7", 255, "rs-option-length"),
    (bytes(ICMPv6ND_RS()) + b"\x01\x02" + bytes(6), "fe80::7", 255, "rs-option-truncated"),
    (bytes(ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:07")), "::", 255, "rs-unspecified-with-lla"),
])
def test_invalid_solicitations_raise_a_typed_error(data, source, hop_limit, reason):
    with pytest.raises(NdpDecodeError) as raised:
        decode_solicitation(data, IPv6Address(source), hop_limit)
    assert raised.value.reason == reason


@given(st.binary(max_size=64), st.sampled_from([None, 255, 1]))
def test_arbitrary_bytes_decode_or_raise_the_typed_error(data, hop_limit):
    try:
        decode_solicitation(data, IPv6Address("fe80::7"), hop_limit)
    except NdpDecodeError:
        pass


@pytest.mark.parametrize("request_, complaint", [
    (ra_request(prefixes=()), "no home network prefix"),
    (ra_request(interface="other0"), "is for interface 'other0'"),
    (ra_request(source=IPv6Address("2001:db8::5")), "not link-local"),
])
def test_bad_advertisement_requests_are_refused(request_, complaint):
    link = AccessLink("acc0", mag_settings(), asyncio.new_event_loop())
    with pytest.raises(BadAdvertisement, match=complaint):
        link.advertise(request_)
    assert link.advertised() == {}


def test_lifetimes_out_of_range_are_refused():
    with pytest.raises(BadAdvertisement, match="preferred lifetime"):
        PrefixInformation(IPv6Network("2001:db8::/64"), valid_lifetime=10, preferred_lifetime=20)
    with pytest.raises(BadAdvertisement, match="router lifetime"):
        RouterAdvertisementMessage(router_lifetime=9001, prefixes=())


def test_a_missing_interface_is_a_typed_error():
    link = AccessLink("no-such-if0", mag_settings(fixed_ll=None, fixed_mac=None), asyncio.new_event_loop())
    with pytest.raises(InterfaceUnavailable, match="does not exist"):
        link.start()


def test_first_intervals_are_capped_then_follow_the_configured_range():
    timers = AdvertisingTimers()  # RFC 4861 defaults: 198..600 s, first three at most 16 s
    assert all(timers.next_interval(n) <= 16.0 for n in range(3) for _ in range(20))
    assert all(198.0 <= timers.next_interval(3) <= 600.0 for _ in range(20))


def test_mobile_node_identity_from_configuration_or_derived_from_the_mac():
    identities = MobileNodeIdentities({MAC: "mn1@example.net"}, realm="example.net")
    assert identities.identify(MAC) == "mn1@example.net"
    assert identities.identify(bytes.fromhex("020000000007")) == "02-00-00-00-00-07@example.net"
    assert MobileNodeIdentities().identify(MAC) is None
    assert identities.identify(None) is None


def test_advertising_before_start_is_refused_and_leaves_nothing():
    link = AccessLink("acc0", mag_settings(), asyncio.new_event_loop())
    with pytest.raises(AccessLinkError, match="not started"):
        link.advertise(ra_request())
    assert link.advertised() == {}
