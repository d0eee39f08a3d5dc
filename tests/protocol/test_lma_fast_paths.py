"""The LMA's registration fast paths give what the plain ways gave: address text equal to
`str()`, one tunnel object per MAG, the named prefixes of a PBU read once."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from hypothesis import given
from hypothesis import strategies as st

from nf.dataplane.tunnels import tunnel_name
from nf.roles.lma import address_text
from nf.roles.lma_pbu import PbuRequest
from nf.wire import HomeNetworkPrefixOption, ProxyBindingUpdate

from .test_lma_harness import MAG1, MAG2, ZERO, Harness, settings_with

# Hextets biased toward zero runs and IPv4-looking tails, where text forms differ most.
_hextet = st.one_of(st.just(0), st.just(0xFFFF), st.integers(0, 0xFFFF))
_addresses = st.lists(_hextet, min_size=8, max_size=8).map(
    lambda hextets: IPv6Address(sum(h << 16 * (7 - i) for i, h in enumerate(hextets))))


@given(_addresses)
def test_address_text_is_the_ipaddress_text(address):
    assert address_text(address) == str(address)


def test_address_text_keeps_ipaddress_forms_of_embedded_ipv4_and_scopes():
    for text in ("::ffff:102:304", "::102:304", "::ffff:0", "fe80::1%eth0", "::", "::1", "2001:db8::"):
        assert address_text(IPv6Address(text)) == text


def test_binding_created_carries_the_text_of_prefix_mag_and_anchor():
    h = Harness()
    h.register()
    [event] = h.events_of("binding-created")
    [prefix] = h.lma.binding(event.data["mn-identifier"], h.lma.bindings()[0].link_layer_id).home_network_prefixes
    assert event.data["home-network-prefix"] == [str(prefix)]
    assert (event.data["proxy-coa"], event.data["lma-address"]) == (str(MAG1), str(h.ctx.settings.node.address))


def test_bindings_through_one_mag_share_one_tunnel_object_and_another_mag_gets_its_own():
    h = Harness(settings_with(lma={"accept_unknown_mobile_nodes": True}))
    for mag, mn in ((MAG1, "a@example.net"), (MAG1, "b@example.net"), (MAG2, "c@example.net")):
        assert h.register(mag, mn=mn).status == 0
    specs = h.dataplane.installed()
    tunnels = {key.split("/")[1]: spec.tunnel for key, spec in specs.items()}
    assert tunnels["a@example.net"] is tunnels["b@example.net"]
    assert tunnels["c@example.net"].name == tunnel_name(MAG2) and tunnels["c@example.net"].remote == MAG2


def test_a_pbu_request_names_only_its_non_zero_prefixes():
    named = IPv6Network("2001:db8:1000::/64")
    pbu = ProxyBindingUpdate(sequence=1, lifetime=4, options=(
        HomeNetworkPrefixOption(ZERO), HomeNetworkPrefixOption(named), HomeNetworkPrefixOption(named)))
    request = PbuRequest.of(pbu)
    assert request.prefixes == (ZERO, named, named)
    assert request.explicit_prefixes == frozenset({named}) and not request.requests_new_prefix
    assert PbuRequest.of(ProxyBindingUpdate(sequence=1, lifetime=4)).explicit_prefixes == frozenset()
    assert PbuRequest.of(ProxyBindingUpdate(sequence=1, lifetime=4, options=(
        HomeNetworkPrefixOption(ZERO),))).requests_new_prefix
