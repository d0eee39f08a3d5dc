"""Binding revocation from the LMA (RFC 5846): BRI contents, BRA handling, retransmission,
global revocation per MAG and the peer-restart fault policy."""
from __future__ import annotations

import asyncio

import pytest

from nf.core.binding_cache import BindingState
from nf.dataplane.base import RouteKind
from nf.roles.lma import UnknownMobileNode
from nf.wire import (
    BindingRevocationAck,
    BindingRevocationIndication,
    HomeNetworkPrefixOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    RevocationTrigger,
)

from .test_lma_harness import LL, MAG1, MAG2, MN, MN_STATIC, STATIC, Harness, prefixes_of, settings_with

ADMIN = RevocationTrigger.ADMINISTRATIVE_REASON


def bris(h: Harness) -> list:
    return [s for s in h.sent if isinstance(s.message, BindingRevocationIndication)]


def ack(bri: BindingRevocationIndication, status: int = 0) -> BindingRevocationAck:
    return BindingRevocationAck(status=status, sequence=bri.sequence, proxy=True, global_=bri.global_)


def test_revoke_sends_a_proxy_bri_with_the_trigger_identity_and_prefixes():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    assert h.lma.revoke(MN, ADMIN) == 1
    [sent] = bris(h)
    bri = sent.message
    assert sent.dst == MAG1
    assert (bri.trigger, bri.proxy, bri.global_) == (ADMIN, True, False)
    assert [o.nai for o in bri.options if isinstance(o, MobileNodeIdentifierOption)] == [MN]
    assert [o.prefix for o in bri.options if isinstance(o, HomeNetworkPrefixOption)] == [prefix]
    assert not [o for o in bri.options if isinstance(o, MobileNodeLinkLayerIdentifierOption)]  # §5.1: not a BRI option
    assert h.lma.binding(MN, LL).state is BindingState.REVOCATION_PENDING


def test_scapy_reads_the_bri_type_trigger_and_proxy_flag():
    h = Harness()
    h.register(MAG1)
    h.lma.revoke(MN, ADMIN)
    layer = bris(h)[0].scapy
    assert (layer.brtype, layer.code, str(layer.flags)) == (1, 1, "P")


def test_bra_deletes_the_binding_and_reports_its_status():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    [revocation] = h.lma.begin_revocation(MN, ADMIN)
    h.deliver(ack(bris(h)[0].message), MAG1)
    assert (revocation.done, revocation.status, revocation.revoked) == (True, 0, 1)
    assert h.lma.binding(MN, LL) is None
    assert h.dataplane.route(RouteKind.DOWNLINK, prefix) is None
    [event] = h.events_of("binding-deleted")
    assert (event.data["reason"], event.data["revocation-trigger"]) == ("revoked", ADMIN)


def test_lost_bra_is_retransmitted_with_the_same_sequence_then_given_up():
    h = Harness()
    h.register(MAG1)
    [revocation] = h.lma.begin_revocation(MN, ADMIN)
    h.advance(0.99)
    assert len(bris(h)) == 1
    h.advance(0.01)  # MINDelayBRIs, 1 s
    first, again = (s.message for s in bris(h))
    assert again == first
    h.advance(1.99)
    assert not revocation.done
    h.advance(0.01)  # BRIMaxRetriesNumber (1) retransmission, then twice the delay
    assert len(bris(h)) == 2
    assert (revocation.done, revocation.timed_out, revocation.status) == (True, True, None)
    assert h.lma.binding(MN, LL) is None
    assert (h.lma.counters.bri_retransmissions, h.lma.counters.bri_timeouts) == (1, 1)


def test_bra_to_the_retransmission_completes_the_revocation():
    h = Harness()
    h.register(MAG1)
    [revocation] = h.lma.begin_revocation(MN, ADMIN)
    h.advance(1.0)
    h.deliver(ack(bris(h)[-1].message, status=128), MAG1)  # binding does not exist at the MAG
    assert (revocation.status, revocation.timed_out) == (128, False)
    h.advance(10)
    assert len(bris(h)) == 2 and h.lma.binding(MN, LL) is None


def test_bra_from_another_mag_or_sequence_is_dropped():
    h = Harness()
    h.register(MAG1)
    [revocation] = h.lma.begin_revocation(MN, ADMIN)
    bri = bris(h)[0].message
    h.deliver(ack(bri), MAG2)
    h.deliver(BindingRevocationAck(status=0, sequence=(bri.sequence + 1) & 0xFFFF), MAG1)
    assert not revocation.done and h.lma.binding(MN, LL) is not None
    assert h.stats.drops_by_reason["unexpected-bra"] == 2


def test_revoking_an_unknown_mobile_node_is_a_typed_error():
    h = Harness()
    with pytest.raises(UnknownMobileNode):
        h.lma.revoke("nobody@example.net", ADMIN)


def test_revoke_all_sends_one_global_bri_and_removes_only_that_mags_bindings():
    h = Harness()
    h.register(MAG1)
    h.register(MAG1, mn=MN_STATIC)
    h.register(MAG2, ll=bytes.fromhex("020000000009"))
    revocation = h.lma.revoke_all(MAG1, RevocationTrigger.PER_PEER_POLICY)
    [sent] = bris(h)
    assert (sent.dst, sent.message.global_, sent.message.trigger) == (MAG1, True, RevocationTrigger.PER_PEER_POLICY)
    assert "G" in str(sent.scapy.flags)
    h.deliver(ack(sent.message), MAG1)
    assert revocation.revoked == 2
    assert h.lma.cache.mags() == [MAG2] and h.lma.cache.count_by_mag(MAG2) == 1


def test_revoke_all_without_bindings_sends_nothing():
    h = Harness()
    assert h.lma.revoke_all(MAG1) is None and bris(h) == []


def test_peer_restart_with_revoke_bindings_policy_removes_the_mags_bindings():
    h = Harness(settings_with(fault_policy={"on_peer_restart": "revoke-bindings"}))
    h.register(MAG1, mn=MN_STATIC)
    assert h.lma.on_peer_restart(MAG1) == 1
    h.deliver(ack(bris(h)[0].message), MAG1)
    assert h.lma.binding_for_prefix(STATIC[0]) is None
    assert h.events_of("binding-deleted")[0].data["reason"] == "peer-restart"


def test_peer_restart_with_re_register_policy_keeps_the_bindings():
    h = Harness()
    h.register(MAG1)
    assert h.lma.on_peer_restart(MAG1) == 1
    assert bris(h) == [] and h.lma.binding(MN, LL).state is BindingState.ACTIVE


def test_a_binding_that_moved_during_revocation_is_kept():
    h = Harness()
    h.register(MAG1)
    h.lma.revoke(MN, ADMIN)
    h.register(MAG2, hi=3)
    h.deliver(ack(bris(h)[0].message), MAG1)
    assert h.lma.binding(MN, LL).proxy_coa == MAG2


def test_revoke_and_wait_returns_the_bra_status_and_the_bindings_removed():
    h = Harness()
    h.register(MAG1)

    async def scenario():
        waiting = asyncio.ensure_future(h.lma.revoke_and_wait(MN, ADMIN))
        await asyncio.sleep(0)  # let it send the BRI
        h.deliver(ack(bris(h)[0].message, status=0), MAG1)
        return await asyncio.wait_for(waiting, timeout=5)

    assert asyncio.run(scenario()) == (0, 1)
    assert h.lma.binding(MN, LL) is None


def test_revoke_and_wait_reports_no_status_when_the_mag_never_answers():
    h = Harness()
    h.register(MAG1)

    async def scenario():
        waiting = asyncio.ensure_future(h.lma.revoke_and_wait(MN, ADMIN))
        await asyncio.sleep(0)  # let it send the BRI
        h.advance(3.0)  # MINDelayBRIs, one retransmission, give up
        return await asyncio.wait_for(waiting, timeout=5)

    assert asyncio.run(scenario()) == (None, 1)


def test_retransmissions_double_the_wait_up_to_max_brack_timeout_and_stop_at_bri_max_retries():
    h = Harness(settings_with(timers={"bri_max_retries": 3}))  # RFC 5846 §11: configurable
    h.register(MAG1)
    [revocation] = h.lma.begin_revocation(MN, ADMIN)
    sent_at = [h.clock.now]
    while not revocation.done:
        h.advance(0.25)
        sent_at += [h.clock.now] * (len(bris(h)) - len(sent_at))
    gaps = [round(b - a, 2) for a, b in zip(sent_at, sent_at[1:])]
    assert gaps == [1.0, 2.0, 2.0]  # InitMINDelayBRIs 1 s, doubled, capped at MAX_BRACK_TIMEOUT 2 s (§6.3)
    assert revocation.timed_out and h.lma.binding(MN, LL) is None


def test_a_revocation_with_a_global_trigger_for_one_node_is_refused():
    h = Harness()
    h.register(MAG1)
    with pytest.raises(ValueError, match="per-node trigger"):  # RFC 5846 §6.1.1
        h.lma.begin_revocation(MN, RevocationTrigger.PER_PEER_POLICY)
    assert bris(h) == [] and h.lma.binding(MN, LL).state is BindingState.ACTIVE


# ----- a BRI from a MAG (RFC 5846 §8.2) -------------------------------------------------------------
def bri_from_mag(**kwargs) -> BindingRevocationIndication:
    defaults = dict(trigger=ADMIN, sequence=9, options=(MobileNodeIdentifierOption(MN),))
    return BindingRevocationIndication(**{**defaults, **kwargs})


def bra_to(h: Harness, mag) -> BindingRevocationAck:
    sent = h.sent[-1]
    assert isinstance(sent.message, BindingRevocationAck) and sent.dst == mag
    return sent.message


def test_a_mag_revokes_a_binding_it_serves_and_gets_success():
    h = Harness()
    [prefix] = prefixes_of(h.register(MAG1))
    h.deliver(bri_from_mag(options=(MobileNodeIdentifierOption(MN), HomeNetworkPrefixOption(prefix))), MAG1)
    bra = bra_to(h, MAG1)
    assert (bra.status, bra.sequence, bra.proxy, bra.global_) == (0, 9, True, False)
    assert h.lma.binding(MN, LL) is None
    assert h.events_of("binding-deleted")[0].data["revocation-trigger"] == ADMIN


def test_a_mag_cannot_revoke_a_binding_another_mag_serves():
    h = Harness()
    h.register(MAG1)
    h.deliver(bri_from_mag(), MAG2)
    assert bra_to(h, MAG2).status == 128  # Binding Does NOT Exist (for that MAG)
    assert h.lma.binding(MN, LL) is not None


def test_a_global_revocation_from_a_mag_is_not_authorized_unless_configured():
    h = Harness()
    h.register(MAG1)
    per_peer = bri_from_mag(trigger=RevocationTrigger.PER_PEER_POLICY, global_=True)
    h.deliver(per_peer, MAG1)
    bra = bra_to(h, MAG1)
    assert (bra.status, bra.global_) == (130, True)  # Global Revocation NOT Authorized (§8.2)
    assert h.lma.binding(MN, LL) is not None
    h = Harness(settings_with(lma={"accept_global_revocation": True}))
    h.register(MAG1)
    h.register(MAG2, mn=MN_STATIC)
    h.deliver(per_peer, MAG1)
    assert bra_to(h, MAG1).status == 0
    assert h.lma.binding(MN, LL) is None and h.lma.bindings_of(MN_STATIC) != []


@pytest.mark.parametrize("change, status", [
    ({"trigger": 250}, 133),  # reserved for testing: Revocation Trigger NOT Supported (§6.2.1)
    ({"trigger": RevocationTrigger.PER_PEER_POLICY}, 134),  # a global trigger without G (§6.2.1)
    ({"global_": True}, 134),  # G with a per-node trigger
    ({"options": ()}, 131),  # no MN-Identifier
    ({"ipv4_home_address_only": True}, 128),  # no IPv4 home address bindings here
])
def test_a_bri_the_lma_cannot_act_on_is_answered_with_its_status_and_copies_the_flags(change, status):
    h = Harness()
    h.register(MAG1)
    bri = bri_from_mag(**change)
    h.deliver(bri, MAG1)
    bra = bra_to(h, MAG1)
    assert (bra.status, bra.ipv4_home_address_only, bra.global_, bra.sequence) == \
        (status, bri.ipv4_home_address_only, bri.global_, 9)
    assert h.lma.binding(MN, LL) is not None


def test_a_bri_from_an_unknown_peer_is_dropped():
    from .test_lma_harness import STRANGER
    h = Harness()
    h.register(MAG1)
    sent = len(h.sent)
    h.deliver(bri_from_mag(), STRANGER)
    assert len(h.sent) == sent and h.stats.drops_by_reason["bri-from-unknown-peer"] == 1
