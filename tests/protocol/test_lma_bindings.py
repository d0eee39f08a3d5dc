"""Registration, refresh, expiry, handover and de-registration at the LMA (RFC 5213 sections
5.3 and 5.4), with what each does to the data plane, the events and the counters."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.core.binding_cache import BindingState
from nf.dataplane.base import RouteKind
from nf.dataplane.tunnels import tunnel_name
from nf.wire import (
    AccessTechnologyTypeOption,
    BindingRevocationAck,
    BindingRevocationIndication,
    ProxyBindingAck,
    RevocationTrigger,
    HandoffIndicatorOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    TimestampOption,
)

from .test_lma_harness import (
    LL,
    MAG1,
    MAG2,
    MN,
    MN_STATIC,
    POOL,
    STATIC,
    ZERO,
    Harness,
    option_of,
    prefixes_of,
    settings_with,
)

LL2 = bytes.fromhex("020000000002")


def downlink_tunnel(h: Harness, prefix: IPv6Network) -> str | None:
    route = h.dataplane.route(RouteKind.DOWNLINK, prefix)
    return route.tunnel if route is not None else None


# ----- initial registration ----------------------------------------------------------------
def test_initial_registration_assigns_a_pool_prefix_and_mirrors_the_options():
    h = Harness()
    pbu = h.pbu(sequence=7)
    pba = h.deliver(pbu)
    assert (pba.status, pba.sequence, pba.lifetime, pba.proxy) == (0, 7, 3600, True)
    [prefix] = prefixes_of(pba)
    assert prefix.subnet_of(POOL) and prefix.prefixlen == 64
    assert option_of(pba, MobileNodeIdentifierOption).nai == MN
    assert option_of(pba, HandoffIndicatorOption).value == 1
    assert option_of(pba, AccessTechnologyTypeOption).value == 3
    assert option_of(pba, MobileNodeLinkLayerIdentifierOption).identifier == LL
    assert option_of(pba, TimestampOption) == option_of(pbu, TimestampOption)


def test_scapy_reads_the_assigned_prefix_in_the_pba():
    h = Harness()
    [prefix] = prefixes_of(h.register())
    ba = h.sent[-1].scapy
    hnp = [o for o in ba.options if getattr(o, "otype", None) == 22][0]
    assert (ba.status, ba.mhtime, hnp.plen, hnp.prefix) == (0, 3600 // 4, 64, str(prefix.network_address))


def test_registration_routes_each_prefix_into_the_tunnel_to_the_mag_before_answering():
    h = Harness()
    [prefix] = prefixes_of(h.register())
    assert downlink_tunnel(h, prefix) == tunnel_name(MAG1)
    tunnel = h.dataplane.tunnels[tunnel_name(MAG1)]
    assert (tunnel.remote, tunnel.remote_sid) == (MAG1, MAG1)


def test_registration_creates_a_binding_and_publishes_binding_created():
    h = Harness()
    [prefix] = prefixes_of(h.register())
    entry = h.lma.binding(MN, LL)
    assert (entry.proxy_coa, entry.home_network_prefixes, entry.state) == (MAG1, (prefix,), BindingState.ACTIVE)
    [event] = h.events_of("binding-created")
    assert event.data["mn-identifier"] == MN and event.data["link-layer-id"] == "02:00:00:00:00:01"
    assert event.data["home-network-prefix"] == [str(prefix)] and event.data["proxy-coa"] == str(MAG1)
    assert h.lma.counters.initial_registrations == 1 and h.stats.bindings_created == 1
    assert [s.message.status for s in h.sent] == [0]


def test_static_prefixes_of_the_profile_are_all_assigned():
    h = Harness()
    pba = h.register(mn=MN_STATIC)
    assert prefixes_of(pba) == list(STATIC)
    assert [downlink_tunnel(h, p) for p in STATIC] == [tunnel_name(MAG1)] * 2


def test_one_pool_prefix_per_all_zero_prefix_option():
    h = Harness()
    prefixes = prefixes_of(h.register(prefixes=(ZERO, ZERO)))
    assert len(set(prefixes)) == 2 and all(p.subnet_of(POOL) for p in prefixes)


def test_a_named_free_pool_prefix_is_granted_for_a_new_session():
    h = Harness()
    wanted = IPv6Network("2001:db8:1000:3::/64")
    assert prefixes_of(h.register(prefixes=[wanted])) == [wanted]
    assert next(iter(h.lma.pools)).used == 1


def test_pool_exhaustion_is_130_with_a_pool_exhausted_event():
    h = Harness()
    for index in range(4):
        assert h.register(ll=bytes([2, 0, 0, 0, 0, 10 + index])).status == 0
    pba = h.register(ll=LL2)
    assert (pba.status, pba.lifetime) == (130, 0)
    [event] = h.events_of("pool-exhausted")
    assert (event.data["pool"], event.data["size"], event.data["mn-identifier"]) == ("home", 4, MN)
    assert len(h.lma.cache) == 4


def test_granted_lifetime_is_the_smallest_of_request_policy_and_maximum():
    h = Harness(settings_with(timers={"max_binding_lifetime": 1002}))
    assert h.register(lifetime=8000).lifetime == 1000  # the maximum, in whole 4-second units
    assert h.register(mn=MN_STATIC, lifetime=400).lifetime == 400  # the request
    assert Harness().register(lifetime=8000).lifetime == 3600  # the profile's lifetime


# ----- refresh and expiry -----------------------------------------------------------------
def test_refresh_from_the_same_mag_extends_the_lifetime():
    h = Harness()
    [prefix] = prefixes_of(h.register())
    h.advance(3000)
    pba = h.register(hi=5, prefixes=[prefix])
    assert (pba.status, pba.lifetime, prefixes_of(pba)) == (0, 3600, [prefix])
    h.advance(3000)  # past the first lifetime, inside the second
    assert h.lma.binding(MN, LL) is not None
    assert h.lma.counters.lifetime_extensions_no_handoff == 1
    [event] = h.events_of("binding-updated")
    assert event.data["handoff"] is False


def test_expiry_deletes_the_binding_its_route_and_returns_the_prefix():
    h = Harness()
    [prefix] = prefixes_of(h.register(lifetime=100))
    h.advance(99)
    assert h.lma.binding(MN, LL) is not None
    h.advance(1)
    assert h.lma.binding(MN, LL) is None
    assert downlink_tunnel(h, prefix) is None and h.dataplane.tunnels == {}
    assert next(iter(h.lma.pools)).used == 0
    [event] = h.events_of("binding-deleted")
    assert (event.data["reason"], event.data["home-network-prefix"]) == ("expired", [str(prefix)])
    assert h.lma.counters.bindings_expired == 1 and h.stats.bindings_deleted == 1


# ----- handover -----------------------------------------------------------------------------
def test_handover_moves_the_route_to_the_new_mag():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    pba = h.register(MAG2, hi=3)
    assert (pba.status, prefixes_of(pba)) == (0, [prefix])
    assert h.sent[-1].dst == MAG2
    assert downlink_tunnel(h, prefix) == tunnel_name(MAG2)
    assert tunnel_name(MAG1) not in h.dataplane.tunnels
    entry = h.lma.binding(MN, LL)
    assert entry.proxy_coa == MAG2 and h.lma.session(entry).handoff_count == 1
    assert h.stats.handovers == 1 and h.lma.counters.lifetime_extensions_after_handoff == 1


def test_handover_publishes_binding_updated_with_the_previous_mag():
    h = Harness()
    h.register(MAG1)
    h.register(MAG2, hi=3)
    [event] = h.events_of("binding-updated")
    assert event.data["handoff"] is True
    assert (event.data["proxy-coa"], event.data["previous-proxy-coa"]) == (str(MAG2), str(MAG1))


def test_handover_naming_the_prefix_finds_the_binding_by_prefix():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    assert prefixes_of(h.register(MAG2, hi=4, prefixes=[prefix])) == [prefix]
    assert h.lma.binding(MN, LL).proxy_coa == MAG2


def test_interface_handoff_moves_the_session_to_the_new_interface():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    assert prefixes_of(h.register(MAG2, hi=2, ll=LL2)) == [prefix]
    assert h.lma.binding(MN, LL) is None and h.lma.binding(MN, LL2).proxy_coa == MAG2


# ----- de-registration ----------------------------------------------------------------------
def test_deregistration_waits_min_delay_before_bce_delete_and_drops_the_traffic_meanwhile():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    pba = h.register(MAG1, lifetime=0, prefixes=[prefix], hi=4)
    assert (pba.status, pba.lifetime, prefixes_of(pba)) == (0, 0, [prefix])
    assert h.lma.binding(MN, LL).state is BindingState.DEREGISTRATION_PENDING
    assert downlink_tunnel(h, prefix) is None  # RFC 5213 §5.3.5: SHOULD drop its traffic
    h.advance(9.9)
    assert h.lma.binding(MN, LL) is not None
    h.advance(0.1)  # MinDelayBeforeBCEDelete, 10000 ms
    assert h.lma.binding(MN, LL) is None and downlink_tunnel(h, prefix) is None
    assert h.events_of("binding-deleted")[0].data["reason"] == "deregistered"
    assert h.lma.counters.deregistrations == 1


def test_a_refresh_inside_min_delay_keeps_the_binding_and_routes_it_again():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.register(MAG1, lifetime=0, prefixes=[prefix], hi=4)
    assert h.register(MAG1, prefixes=[prefix], hi=5).status == 0
    h.advance(60)
    assert h.lma.binding(MN, LL).state is BindingState.ACTIVE
    assert downlink_tunnel(h, prefix) == tunnel_name(MAG1)


def test_handover_inside_min_delay_cancels_the_delete():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.register(MAG1, lifetime=0, prefixes=[prefix], hi=4)
    h.advance(5)
    assert h.register(MAG2, hi=3, prefixes=[prefix]).status == 0
    h.advance(60)
    entry = h.lma.binding(MN, LL)
    assert (entry.proxy_coa, entry.state) == (MAG2, BindingState.ACTIVE)
    assert downlink_tunnel(h, prefix) == tunnel_name(MAG2)
    assert h.events_of("binding-deleted") == []


def test_a_deregistration_from_another_mag_than_the_serving_one_is_ignored_without_an_answer():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.register(MAG2, hi=3)
    late = h.pbu(MAG1, lifetime=0, prefixes=[prefix], hi=4)  # the old MAG let go after the handover
    assert h.deliver(late, MAG1) is None  # RFC 5213 §5.3.5 #1: MUST ignore
    assert h.stats.drops_by_reason["pbu-deregistration-not-serving-mag"] == 1
    entry = h.lma.binding(MN, LL)
    assert (entry.proxy_coa, entry.state) == (MAG2, BindingState.ACTIVE)
    h.advance(60)
    assert h.lma.binding(MN, LL) is not None


def test_a_deregistration_stamped_before_the_handover_is_157_and_changes_nothing():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    stale = h.pbu(MAG1, lifetime=0, prefixes=[prefix], hi=4)  # stamped before the handover
    h.register(MAG2, hi=3)
    pba = h.deliver(stale, MAG1)  # §5.3.1 step 9 (§5.5) comes before step 13
    assert (pba.status, pba.lifetime) == (157, 0)
    assert h.lma.binding(MN, LL).proxy_coa == MAG2


def test_a_deregistration_matching_no_session_is_silently_ignored():
    h = Harness()
    assert h.register(lifetime=0, prefixes=[IPv6Network("2001:db8:1000::/64")], hi=4) is None
    assert h.register(lifetime=0, prefixes=[ZERO], hi=4) is None
    assert h.stats.drops_by_reason["pbu-deregistration-no-session"] == 2
    assert len(h.lma.cache) == 0 and h.stats.pba_sent_by_status == {}


# ----- RFC 5213 §5.4.1: which session a PBU is about ------------------------------------------
def test_attachment_over_a_new_interface_without_link_layer_identifier_is_a_new_session():
    h = Harness()
    h.register(MAG1, ll=None)
    pba = h.register(MAG2, ll=None, hi=1)  # §5.4.1.3 #4: HI=1 is not an update
    [second] = prefixes_of(pba)
    assert pba.status == 0 and next(iter(h.lma.pools)).used == 1  # the old session's prefix went back
    assert len(h.events_of("binding-created")) == 2
    entry = h.lma.binding(MN, None)
    assert entry.proxy_coa == MAG2 and entry.home_network_prefixes == (second,)
    assert [e.data["reason"] for e in h.events_of("binding-deleted")] == ["superseded"]
    assert h.lma.counters.initial_registrations == 2 and h.lma.counters.lifetime_extensions_after_handoff == 0


def test_handoff_between_mags_without_link_layer_identifier_updates_the_one_session():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    pba = h.register(MAG2, ll=None, hi=3)  # §5.4.1.3 #2
    assert (pba.status, prefixes_of(pba)) == (0, [prefix])
    assert h.lma.binding(MN, None).proxy_coa == MAG2 and h.lma.counters.lifetime_extensions_after_handoff == 1


def test_handoff_is_only_inferred_when_the_node_has_one_and_only_one_session():
    h = Harness()
    h.register(MAG1, ll=LL)
    h.register(MAG1, ll=LL2, hi=1)
    pba = h.register(MAG2, ll=None, hi=3)  # two sessions: §5.4.1.3 #1 finds no single one
    assert pba.status == 0 and len(h.lma.bindings_of(MN)) == 3
    assert {e.proxy_coa for e in h.lma.bindings_of(MN)} == {MAG1, MAG2}


def test_interface_handoff_with_another_link_layer_identifier_needs_one_and_only_one_session():
    h = Harness()
    h.register(MAG1, ll=LL)
    h.register(MAG1, ll=LL2, hi=1)
    third = bytes.fromhex("020000000003")
    assert h.register(MAG2, ll=third, hi=2).status == 0  # §5.4.1.2 #3: two candidates, a new session
    assert len(h.lma.bindings_of(MN)) == 3


def test_the_link_layer_identifier_matches_only_with_the_same_access_technology():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1, att=3))
    pba = h.register(MAG2, att=4, hi=3)  # §5.4.1.2 #2 needs MN-Identifier, ATT and link-layer id
    assert pba.status == 0
    entry = h.lma.binding(MN, LL)
    assert (entry.proxy_coa, entry.access_technology_type) == (MAG2, 4)
    assert [e.data["reason"] for e in h.events_of("binding-deleted")] == ["superseded"]


def test_a_prefix_named_by_a_new_interface_of_the_same_node_is_not_shared():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1, ll=LL))
    pba = h.register(MAG2, ll=LL2, hi=1, prefixes=[prefix])  # §5.4.1.1 #6, §5.2: prefixes are per interface
    assert pba.status == 155
    assert h.lma.binding(MN, LL).proxy_coa == MAG1 and h.lma.binding(MN, LL2) is None


# ----- HI=4: MaxDelayBeforeNewBCEAssign -----------------------------------------------------
def test_unknown_handoff_state_with_the_sessions_link_layer_identifier_updates_it_at_once():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    pba = h.register(MAG2, hi=4)  # §5.4.1.2 #2: MN-Identifier, ATT and link-layer id match
    assert (pba.status, prefixes_of(pba)) == (0, [prefix])
    assert h.lma.binding(MN, LL).proxy_coa == MAG2


def test_unknown_handoff_state_waits_for_the_previous_mags_deregistration():
    h = Harness(settings_with(lma={"unknown_handoff": "wait"}))
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    assert h.register(MAG2, hi=4, ll=None) is None  # held, not answered yet (§5.4.1.3 #3)
    assert h.lma.binding(MN, None).state is BindingState.HANDOFF_PENDING
    h.advance(1.0)
    h.register(MAG1, lifetime=0, prefixes=[prefix], hi=4, ll=None)
    to_mag1 = [s.message for s in h.sent if s.dst == MAG1]
    to_mag2 = [s.message for s in h.sent if s.dst == MAG2]
    assert (to_mag1[-1].status, to_mag1[-1].lifetime) == (0, 0)
    assert (to_mag2[-1].status, prefixes_of(to_mag2[-1])) == (0, [prefix])
    entry = h.lma.binding(MN, None)
    assert entry.proxy_coa == MAG2 and entry.state is BindingState.ACTIVE


def test_unknown_handoff_state_is_a_new_session_after_max_delay_before_new_bce_assign():
    h = Harness(settings_with(lma={"unknown_handoff": "wait"}))
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    h.register(MAG2, hi=4, ll=None)
    h.advance(1.49)
    assert [s.dst for s in h.sent] == [MAG1]
    h.advance(0.01)  # 1500 ms without a de-registration: §5.4.1.3 #3, a new mobility session
    pba = h.sent[-1].message
    assert h.sent[-1].dst == MAG2 and pba.status == 0
    assert h.lma.binding(MN, None).proxy_coa == MAG2
    assert h.lma.counters.initial_registrations == 2 and h.lma.counters.lifetime_extensions_after_handoff == 0
    assert [e.data["reason"] for e in h.events_of("binding-deleted")] == ["superseded"]


def test_unknown_handoff_state_from_another_interface_becomes_a_new_session_after_the_wait():
    h = Harness(settings_with(lma={"unknown_handoff": "wait"}))
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    assert h.register(MAG2, hi=4, ll=LL2) is None
    assert h.lma.binding(MN, None).state is BindingState.HANDOFF_PENDING
    h.advance(1.5)
    [new_prefix] = prefixes_of(h.sent[-1].message)
    assert new_prefix != prefix
    assert h.lma.binding(MN, None).proxy_coa == MAG1 and h.lma.binding(MN, LL2).proxy_coa == MAG2


def test_unknown_handoff_new_session_creates_it_without_waiting():
    h = Harness(settings_with(lma={"unknown_handoff": "new-session"}))
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    pba = h.register(MAG2, hi=4, ll=LL2)  # §5.4.1.2 #4: MAY create at once, configurable
    assert pba.status == 0 and prefixes_of(pba) != [prefix]
    assert len(h.lma.bindings_of(MN)) == 2


# ----- data-plane failure -------------------------------------------------------------------
def test_data_plane_failure_rejects_with_130_and_leaves_nothing_behind():
    h = Harness()
    h.dataplane.fail_next("apply")
    pba = h.register()
    assert (pba.status, pba.lifetime) == (130, 0)
    assert len(h.lma.cache) == 0 and h.dataplane.installed() == {}
    assert next(iter(h.lma.pools)).used == 0
    assert h.events_of("binding-created") == [] and len(h.events_of("data-path-failure")) == 1


def test_data_plane_failure_on_handover_keeps_the_binding_at_the_old_mag():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.dataplane.fail_next("apply")
    assert h.register(MAG2, hi=3).status == 130
    assert h.lma.binding(MN, LL).proxy_coa == MAG1
    assert downlink_tunnel(h, prefix) == tunnel_name(MAG1)


# ----- snapshots ----------------------------------------------------------------------------
def test_snapshots_count_by_state_mag_and_pool():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.register(MAG2, mn=MN_STATIC)
    h.register(MAG1, lifetime=0, prefixes=[prefix], hi=5)
    assert h.lma.cache.count_by_state() == {BindingState.ACTIVE: 1, BindingState.DEREGISTRATION_PENDING: 1}
    assert {mag: h.lma.cache.count_by_mag(mag) for mag in h.lma.cache.mags()} == {MAG1: 1, MAG2: 1}
    usage = next(iter(h.lma.pools))
    assert (usage.name, usage.size, usage.used, usage.free) == ("home", 4, 1, 3)
    assert h.lma.binding_for_prefix(STATIC[1]).mn_identifier == MN_STATIC
    assert len(h.lma.bindings()) == 2 and len(h.lma.bindings_of(MN)) == 1


# ----- the MAG's link-local address (RFC 5213 §5.3.6, §6.8) -----------------------------------
UNSPECIFIED = LinkLocalAddressOption(IPv6Address("::"))


def test_an_all_zero_link_local_query_gets_an_address_generated_for_the_session():
    h = Harness()
    pba = h.register(extra=[UNSPECIFIED])
    address = option_of(pba, LinkLocalAddressOption).address
    assert address.is_link_local and not address.is_unspecified
    assert h.lma.session(h.lma.binding(MN, LL)).link_local_address == address


def test_the_generated_link_local_address_follows_the_session_to_the_next_mag():
    h = Harness()
    first = option_of(h.register(MAG1, extra=[UNSPECIFIED]), LinkLocalAddressOption).address
    after = option_of(h.register(MAG2, hi=3, extra=[UNSPECIFIED]), LinkLocalAddressOption).address
    assert after == first


def test_a_link_local_address_the_mag_names_is_copied_and_kept():
    h = Harness()
    named = LinkLocalAddressOption(IPv6Address("fe80::77"))
    assert option_of(h.register(extra=[named]), LinkLocalAddressOption) == named
    assert h.lma.session(h.lma.binding(MN, LL)).link_local_address == named.address


def test_no_link_local_address_option_in_the_pba_when_the_pbu_had_none():
    h = Harness()
    h.register(extra=[LinkLocalAddressOption(IPv6Address("fe80::77"))])
    pba = h.register(hi=5, prefixes=prefixes_of(h.sent[-1].message))
    assert pba.status == 0 and option_of(pba, LinkLocalAddressOption) is None  # "MUST NOT be present otherwise"


# ----- HI=4 with binding revocation (RFC 5846 §8.1) -------------------------------------------------
def handoff_bri(h: Harness) -> BindingRevocationIndication:
    [sent] = [s for s in h.sent if isinstance(s.message, BindingRevocationIndication)]
    assert sent.dst == MAG1
    return sent.message


def test_unknown_handoff_state_asks_the_previous_mag_with_a_bri_and_its_success_hands_over():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    h.register(MAG2, hi=4, ll=None)  # held while the previous MAG is asked
    assert [s.dst for s in h.sent if isinstance(s.message, ProxyBindingAck)] == [MAG1]
    bri = handoff_bri(h)
    assert (bri.trigger, bri.proxy, bri.global_) == (RevocationTrigger.INTER_MAG_HANDOVER_UNKNOWN, True, False)
    h.deliver(BindingRevocationAck(status=0, sequence=bri.sequence), MAG1)
    pba = h.sent[-1].message
    assert h.sent[-1].dst == MAG2 and (pba.status, prefixes_of(pba)) == (0, [prefix])
    assert h.lma.binding(MN, None).proxy_coa == MAG2 and h.lma.counters.lifetime_extensions_after_handoff == 1


@pytest.mark.parametrize("status", [132, None])  # MN is attached; no answer at all
def test_unknown_handoff_state_is_a_new_session_when_the_previous_mag_keeps_the_node(status):
    h = Harness()
    h.register(MAG1, ll=None)
    h.register(MAG2, hi=4, ll=None)
    bri = handoff_bri(h)
    if status is not None:
        h.deliver(BindingRevocationAck(status=status, sequence=bri.sequence), MAG1)
    else:
        h.advance(3.0)  # InitMINDelayBRIs 1 s, one retransmission, then MAX_BRACK_TIMEOUT 2 s
    pba = h.sent[-1].message
    assert h.sent[-1].dst == MAG2 and pba.status == 0
    assert h.lma.binding(MN, None).proxy_coa == MAG2
    assert h.lma.counters.initial_registrations == 2 and h.lma.counters.lifetime_extensions_after_handoff == 0


def test_the_previous_mags_deregistration_ends_the_handoff_bri():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1, ll=None))
    h.register(MAG2, hi=4, ll=None)
    handoff_bri(h)
    h.register(MAG1, lifetime=0, prefixes=[prefix], hi=4, ll=None)
    assert h.lma.binding(MN, None).proxy_coa == MAG2
    sent = len(h.sent)
    h.advance(10)
    assert len(h.sent) == sent  # no retransmission of the BRI: it was answered by the de-registration
