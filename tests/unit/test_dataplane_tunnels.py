"""The one tunnel builder: one tunnel per peer whoever asks, per-anchor uplink tables, and the
data-path probe specs."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from types import SimpleNamespace

import pytest

from nf.dataplane import MemoryDataPlane, RouteKind, SpecConflict
from nf.dataplane.base import BindingSpec, Route
from nf.dataplane.tunnels import TunnelBuilder, tunnel_name

NODE = IPv6Address("2001:db8:ff::11")
LMA, STANDBY, OTHER = (IPv6Address(f"2001:db8:ff::{n}") for n in (1, 2, 3))
OWN_PROBE, LMA_PROBE = IPv6Address("2001:db8:fe::11"), IPv6Address("2001:db8:fe::1")


def settings(*, mag: bool = True, decap_sid: str | None = None, encapsulation: str = "srv6"):
    dp = SimpleNamespace(encapsulation=encapsulation, srv6_source_address=None,
                         srv6_decap_sid=IPv6Address(decap_sid) if decap_sid else None, route_table=100)
    return SimpleNamespace(dataplane=dp, node=SimpleNamespace(address=NODE),
                           mag=SimpleNamespace(lma_address=LMA) if mag else None)


def test_a_peer_has_one_tunnel_name_of_at_most_15_characters():
    builder = TunnelBuilder(settings())
    assert builder.to(LMA).name == builder.to(LMA, uplink=True).name == tunnel_name(LMA)
    assert len(tunnel_name(LMA)) <= 15 and tunnel_name(LMA) != tunnel_name(STANDBY)


def test_srv6_tunnels_encapsulate_towards_the_peer_address_and_decapsulate_at_our_sid():
    tunnel = TunnelBuilder(settings(decap_sid="2001:db8:ff:11::1")).to(LMA)
    assert (tunnel.local, tunnel.remote, tunnel.remote_sid) == (NODE, LMA, LMA)
    assert tunnel.local_sid == IPv6Address("2001:db8:ff:11::1")


def test_the_configured_anchor_gets_route_table_and_others_the_next_free_ones_in_order_of_use():
    builder = TunnelBuilder(settings())
    assert builder.to(STANDBY, uplink=True).table == 101
    assert builder.to(OTHER, uplink=True).table == 102
    assert builder.to(LMA, uplink=True).table == 100
    assert builder.to(STANDBY, uplink=True).table == 101  # stable


def test_an_anchor_side_tunnel_has_no_uplink_table():
    assert TunnelBuilder(settings(mag=False)).to(IPv6Address("2001:db8:ff::12")).table is None


def test_the_anchor_side_probe_spec_routes_the_peer_probe_address_into_the_tunnel():
    spec = TunnelBuilder(settings(mag=False)).probe_spec(LMA, OWN_PROBE, LMA_PROBE, access_side=False)
    assert spec.routes == (Route(RouteKind.DOWNLINK, IPv6Network(f"{LMA_PROBE}/128"), tunnel=tunnel_name(LMA)),)


def test_the_access_side_probe_spec_steers_sends_from_our_probe_address_to_the_anchor_into_its_table():
    spec = TunnelBuilder(settings()).probe_spec(LMA, OWN_PROBE, LMA_PROBE, access_side=True)
    kinds = {route.kind: route for route in spec.routes}
    assert kinds[RouteKind.PROBE_UPLINK].source == IPv6Network(f"{OWN_PROBE}/128")
    assert kinds[RouteKind.PROBE_UPLINK].prefix == IPv6Network(f"{LMA_PROBE}/128")
    assert set(kinds) == {RouteKind.PROBE_UPLINK, RouteKind.PROBE_DELIVERY, RouteKind.UNREACHABLE}
    assert spec.tunnel.table == 100


def test_probe_specs_of_two_anchors_coexist_with_the_shared_local_probe_address():
    builder, dp = TunnelBuilder(settings()), MemoryDataPlane()
    dp.apply(TunnelBuilder.probe_local_spec(OWN_PROBE))
    dp.apply(builder.probe_spec(LMA, OWN_PROBE, LMA_PROBE, access_side=True))
    dp.apply(builder.probe_spec(STANDBY, OWN_PROBE, IPv6Address("2001:db8:fe::2"), access_side=True))
    assert {spec.tunnel.table for spec in dp.installed().values() if spec.tunnel} == {100, 101}
    with pytest.raises(SpecConflict):  # the probe address belongs to one spec
        dp.apply(BindingSpec("another", None, TunnelBuilder.probe_local_spec(OWN_PROBE).routes))


def test_only_a_probe_uplink_carries_a_source():
    with pytest.raises(ValueError, match="only a probe uplink has a source"):
        Route(RouteKind.DOWNLINK, IPv6Network("2001:db8::/64"), tunnel="t", source=IPv6Network("::/0"))
    with pytest.raises(ValueError, match="needs a tunnel"):
        Route(RouteKind.PROBE_UPLINK, IPv6Network("2001:db8::/128"), source=IPv6Network("2001:db8::1/128"))
