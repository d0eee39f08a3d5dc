"""The MAG role (RFC 5213 section 6), driven directly with a fake clock.

Every message the MAG sends is encoded and decoded again on the way out, so what the tests
inspect is what would be on the wire.
"""
from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf import wire
from nf.config import load_config
from nf.core.binding_update_list import BulState
from nf.core.events import EventBus
from nf.core.stats import Statistics
from nf.core.timers import TimerService
from nf.dataplane.base import RouteKind
from nf.dataplane.memory import MemoryDataPlane
from nf.roles.base import RoleContext
from nf.roles.mag import MagError, MagRole
from nf.settings import settings_from_tree
from nf.wire import (
    BindingAckStatus,
    BindingRevocationIndication,
    BindingRevocationStatus,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    ProxyBindingAck,
    ProxyBindingUpdate,
    TimestampOption,
)

MAG = IPv6Address("2001:db8::2")
LMA = IPv6Address("2001:db8::1")
MN = "mn1@example.net"
HNP = IPv6Network("2001:db8:100::/64")
MAG_LINK_LOCAL = IPv6Address("fe80::1")
WALL_START = 1_700_000_000.0

CONFIG = f"""<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf" xmlns:dmmt="urn:dmm-nf:yang:dmm-nf-types">
  <node><name>mag1</name><role>dmmt:mag</role><address>{MAG}</address></node>
  <mag>
    <lma-address>{LMA}</lma-address>
    <access-interface><name>acc0</name><access-technology-type>ieee-802-11</access-technology-type></access-interface>
    <access-interface><name>acc1</name><access-technology-type>ieee-802-3</access-technology-type></access-interface>
    <fixed-link-local-address>{MAG_LINK_LOCAL}</fixed-link-local-address>
  </mag>
  <dataplane><backend>dmmt:memory</backend><encapsulation>dmmt:srv6</encapsulation></dataplane>
</dmm-nf>
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.wall_offset = WALL_START - self.now

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory):
    path = tmp_path_factory.mktemp("mag") / "mag.xml"
    path.write_text(CONFIG)
    tree = load_config(path)
    return settings_from_tree(tree, tree.context)


class Harness:
    """A MAG with a memory data plane, a fake clock and a recording `send`."""

    def __init__(self, settings) -> None:
        self.clock = FakeClock()
        self.timers = TimerService(clock=self.clock.monotonic)
        self.dataplane = MemoryDataPlane()
        self.stats = Statistics()
        self.events = EventBus(clock=self.clock.wall)
        self.sent: list[tuple[wire.Message, IPv6Address, int | None]] = []
        self.ctx = RoleContext(settings=settings, stats=self.stats, events=self.events, timers=self.timers,
                               dataplane=self.dataplane, clock=self.clock, restart_counter=1, send=self._send)
        self.mag = MagRole(self.ctx)
        asyncio.run(self.mag.start())

    def _send(self, message: wire.Message, dst: IPv6Address, port: int | None) -> bool:
        on_wire = wire.decode(wire.encode(message, MAG, dst), MAG, dst)
        assert on_wire == message
        self.sent.append((on_wire, dst, port))
        return True

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.run_due()

    def run_until_quiet(self, limit: float = 1000.0) -> None:
        """Fire timers one deadline at a time until none is left (or `limit` seconds pass)."""
        end = self.clock.now + limit
        while (deadline := self.timers.next_deadline()) is not None and deadline <= end:
            self.clock.now = deadline
            self.timers.run_due()

    def pbus(self) -> list[ProxyBindingUpdate]:
        return [m for m, _, _ in self.sent if isinstance(m, ProxyBindingUpdate)]

    def last_pbu(self) -> ProxyBindingUpdate:
        return self.pbus()[-1]

    def answer(self, status: int = 0, lifetime: int = 3600, prefixes=(HNP,), sequence: int | None = None,
               extra=(), mn: str = MN, src: IPv6Address = LMA, link_layer_id: bytes | None = None) -> None:
        """Deliver a PBA from the LMA for the last PBU (through the codec)."""
        pbu = self.last_pbu()
        options = [MobileNodeIdentifierOption(mn), *(HomeNetworkPrefixOption(p) for p in prefixes), *extra]
        if link_layer_id:
            options.append(MobileNodeLinkLayerIdentifierOption(link_layer_id))
        pba = ProxyBindingAck(status=status, sequence=pbu.sequence if sequence is None else sequence,
                              lifetime=lifetime, options=tuple(options))
        self.deliver(pba, src)

    def deliver(self, message: wire.Message, src: IPv6Address = LMA) -> None:
        decoded = wire.decode(wire.encode(message, src, MAG), src, MAG)
        self.mag.on_message(decoded, src, 5436, MAG)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events.history()]


@pytest.fixture
def h(base_settings) -> Harness:
    return Harness(base_settings)


def options_of(message, kind):
    return [o for o in message.options if isinstance(o, kind)]


def registered(h: Harness, **attach) -> None:
    h.mag.attach(MN, **attach)
    h.answer()


# ----- attach: the Proxy Binding Update ------------------------------------------------------

def test_attach_sends_a_pbu_with_the_rfc_5213_flags_and_options(h):
    h.mag.attach(MN, link_layer_id="02:00:00:aa:bb:cc")
    [(pbu, dst, port)] = h.sent
    assert isinstance(pbu, ProxyBindingUpdate)
    assert (dst, port) == (LMA, None)
    assert (pbu.ack, pbu.home_registration, pbu.proxy, pbu.link_local_compat) == (True, True, True, False)
    assert (pbu.key_management, pbu.mobile_router, pbu.map_registration) == (False, False, False)
    assert pbu.lifetime == 3600  # requested-lifetime default
    assert options_of(pbu, MobileNodeIdentifierOption) == [MobileNodeIdentifierOption(MN)]
    assert options_of(pbu, HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(IPv6Network("::/0"))]
    assert options_of(pbu, wire.HandoffIndicatorOption)[0].value == wire.HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE
    assert options_of(pbu, wire.AccessTechnologyTypeOption)[0].value == wire.AccessTechnologyType.IEEE_802_11
    assert options_of(pbu, MobileNodeLinkLayerIdentifierOption)[0].identifier == bytes.fromhex("020000aabbcc")
    assert options_of(pbu, LinkLocalAddressOption) == []  # RFC 5213 §6.9.1.1 #9: a fixed one is configured
    assert options_of(pbu, TimestampOption)[0].to_time() == pytest.approx(WALL_START, abs=1 / 65536)
    assert len(h.pbus()) == 1
    assert h.mag.entry(MN, "02:00:00:aa:bb:cc").state == "registering"


def test_with_timestamps_the_sequence_number_is_one_counter_of_the_mag_and_wraps_at_16_bits(h):
    h.mag._sequence[None] = 0xFFFE
    h.mag.attach(MN)
    h.mag.attach("mn2@example.net")
    h.mag.attach("mn3@example.net")
    assert [p.sequence for p in h.pbus()] == [0xFFFF, 0, 1]  # RFC 5213 §6.9.1.1 #6


def test_with_the_sequence_number_scheme_each_mobile_node_has_its_own_sequence(base_settings):
    timers = dataclasses.replace(base_settings.timers, timestamp_based_approach_in_use=False)
    h = Harness(dataclasses.replace(base_settings, timers=timers))
    h.mag._sequence[MN] = 0xFFFF
    h.mag.attach(MN)
    h.mag.attach("mn2@example.net")
    assert [p.sequence for p in h.pbus()] == [0, 1]
    assert all(options_of(p, TimestampOption) == [] for p in h.pbus())


def without_fixed_link_local(settings):
    return dataclasses.replace(settings, mag=dataclasses.replace(settings.mag, fixed_link_local_address=None))


def test_without_a_fixed_link_local_address_the_pbu_asks_the_lma_for_one_and_uses_it(base_settings):
    h = Harness(without_fixed_link_local(base_settings))
    h.mag.attach(MN)
    [query] = options_of(h.last_pbu(), LinkLocalAddressOption)
    assert query.address == IPv6Address("::")  # RFC 5213 §6.9.1.1 #9: ALL_ZERO asks the LMA
    assert h.last_pbu().link_local_compat is False
    given = IPv6Address("fe80::1234")
    h.answer(extra=(LinkLocalAddressOption(given),))
    assert h.mag.advertisement(MN).source == given  # §6.9.1.2 #15
    h.advance(3570)
    assert options_of(h.last_pbu(), LinkLocalAddressOption) == [LinkLocalAddressOption(given)]


def test_attach_on_a_named_interface_uses_its_access_technology(h):
    h.mag.attach(MN, interface="acc1")
    assert options_of(h.last_pbu(), wire.AccessTechnologyTypeOption)[0].value == wire.AccessTechnologyType.IEEE_802_3


def test_attach_handoff_hint_is_carried(h):
    h.mag.attach(MN, handoff_indicator=wire.HandoffIndicator.HANDOFF_BETWEEN_MAGS_SAME_INTERFACE)
    assert options_of(h.last_pbu(), wire.HandoffIndicatorOption)[0].value == 3
    h.answer()
    assert h.stats.handovers == 1


@pytest.mark.parametrize("kwargs, words", [
    ({"mn_identifier": ""}, "non-empty"),
    ({"mn_identifier": 7}, "non-empty"),
    ({"mn_identifier": MN, "interface": "eth9"}, "not a configured access interface"),
    ({"mn_identifier": MN, "link_layer_id": "zz:zz"}, "hexadecimal"),
    ({"mn_identifier": MN, "handoff_indicator": 5}, "handoff indicator"),
    ({"mn_identifier": MN, "access_technology_type": 300}, "access technology"),
    ({"mn_identifier": "x" * 300}, "longer"),
])
def test_bad_attach_requests_raise_a_typed_error_and_send_nothing(h, kwargs, words):
    with pytest.raises(MagError, match=words):
        h.mag.attach(**kwargs)
    assert h.sent == [] and len(h.mag.bul) == 0


def test_detach_of_an_unknown_mobile_node_is_a_typed_error(h):
    with pytest.raises(MagError, match="not attached"):
        h.mag.detach("nobody@example.net")


# ----- accepted PBA ---------------------------------------------------------------------------

def test_accepted_pba_installs_forwarding_router_advertisement_and_publishes_binding_created(h):
    h.mag.attach(MN)
    h.advance(0.25)
    h.answer(lifetime=3600)
    entry = h.mag.entry(MN)
    assert entry.state == "registered"
    assert entry.home_network_prefixes == (HNP,)
    assert entry.lifetime_granted == 3600 and entry.last_status == 0 and entry.accepted is True
    tunnel = h.dataplane.tunnels[entry.tunnel]
    assert (tunnel.local, tunnel.remote) == (MAG, LMA)
    assert h.dataplane.route(RouteKind.UPLINK, HNP).tunnel == tunnel.name
    assert h.dataplane.route(RouteKind.ACCESS, HNP).interface == "acc0"
    ra = h.mag.advertisement(MN)
    assert ra.source == MAG_LINK_LOCAL and ra.interface == "acc0" and ra.router_lifetime == 1800
    assert [(p.prefix, p.valid_lifetime, p.preferred_lifetime) for p in ra.prefixes] == [(HNP, 2592000, 604800)]
    [created] = h.events.history()
    assert created.kind == "binding-created"
    assert created.data["mn-identifier"] == MN and created.data["home-network-prefix"] == [str(HNP)]
    assert created.data["proxy-coa"] == str(MAG) and created.data["lifetime"] == 3600
    assert h.stats.bindings_created == 1
    assert list(h.mag.counters.pba_rtt_seconds) == [pytest.approx(0.25)]
    assert h.timers.next_deadline() == pytest.approx(h.clock.now + 3600 - 30)  # refresh-advance 30 s


def test_refresh_is_sent_refresh_advance_before_expiry_with_the_assigned_prefix_and_hi_5(h):
    registered(h)
    accepted_at = h.clock.now
    h.advance(3600 - 30 - 0.001)
    assert len(h.pbus()) == 1
    h.advance(0.001)
    refresh = h.last_pbu()
    assert h.clock.now == pytest.approx(accepted_at + 3570)
    assert refresh.sequence == h.pbus()[0].sequence + 1 and refresh.lifetime == 3600
    assert options_of(refresh, HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(HNP)]
    assert options_of(refresh, wire.HandoffIndicatorOption)[0].value == wire.HandoffIndicator.HANDOFF_STATE_NOT_CHANGED
    assert h.mag.entry(MN).state == "refreshing"
    h.answer()
    assert h.mag.entry(MN).state == "registered"
    assert h.kinds() == ["binding-created", "binding-updated"] and h.stats.bindings_refreshed == 1


def test_a_short_lifetime_is_refreshed_at_its_half(h):
    h.mag.attach(MN)
    h.answer(lifetime=40)
    h.advance(20)
    assert len(h.pbus()) == 2


def test_binding_expires_when_no_refresh_is_answered_before_its_lifetime(h):
    h.mag.attach(MN)
    h.answer(lifetime=40)
    h.advance(40)
    assert h.mag.entry(MN) is None
    assert h.dataplane.installed() == {}
    assert h.events.history()[-1].data["reason"] == "expired"


# ----- retransmission ------------------------------------------------------------------------

def test_unanswered_first_registration_backs_off_1_5_3_6_12_24_32_then_gives_up(h):
    h.mag.attach(MN)
    start = h.clock.now
    h.run_until_quiet()
    pbus = h.pbus()
    assert len(pbus) == 6
    assert [p.sequence for p in pbus] == list(range(1, 7))  # a fresh sequence number each time
    assert h.clock.now == pytest.approx(start + 46.5 + 32)
    assert h.stats.pbu_retransmitted == 5 and len(h.pbus()) == 6
    assert h.mag.counters.pba_timeouts == 1
    assert h.mag.entry(MN) is None and h.dataplane.installed() == {}
    deleted = h.events.history()[-1]
    assert deleted.kind == "binding-deleted" and deleted.data["reason"] == "path-down"


def test_a_registration_given_up_publishes_registration_failed_naming_the_lma(h):
    h.mag.attach(MN)
    h.run_until_quiet()
    [failed] = [e for e in h.events.history() if e.kind == "registration-failed"]
    assert dict(failed.data) == {"peer": str(LMA), "mn-identifier": MN, "retransmissions": 5}
    assert h.kinds()[-2:] == ["registration-failed", "binding-deleted"]


def test_an_unanswered_deregistration_is_no_registration_failure(h):
    registered(h)
    h.mag.detach(MN)
    h.run_until_quiet()
    assert "registration-failed" not in h.kinds()


def test_an_accepted_refresh_names_the_lma_that_accepted_it(h):
    registered(h)
    h.advance(3600 - 30)
    h.answer()
    [updated] = [e for e in h.events.history() if e.kind == "binding-updated"]
    assert updated.data["lma-address"] == str(LMA)


def test_every_mag_event_is_a_valid_notification(h):
    from mgmt.notify import EventNotifier
    from nf.model import new_context

    events = []
    h.events.subscribe(events.append)
    registered(h)
    h.advance(3600 - 30)
    h.answer()  # binding-updated
    h.mag.attach("mn2@example.net")
    h.run_until_quiet()  # registration-failed, binding-deleted
    notifier = EventNotifier(new_context(), publish=lambda tree: None)
    try:
        assert {e.kind for e in events} == {"binding-created", "binding-updated", "registration-failed",
                                             "binding-deleted"}
        for event in events:
            tree = notifier.build(event)
            assert tree is not None, event.kind
            tree.free()
    finally:
        notifier.close()


def test_retransmission_times_follow_the_doubling_schedule(h):
    h.mag.attach(MN)
    start = h.clock.now
    times = []
    while h.timers.next_deadline() is not None:
        h.clock.now = h.timers.next_deadline()
        before = len(h.pbus())
        h.timers.run_due()
        if len(h.pbus()) > before:
            times.append(h.clock.now - start)
    assert times == pytest.approx([1.5, 4.5, 10.5, 22.5, 46.5])


def test_a_pba_to_a_retransmission_stops_the_back_off_and_is_not_an_rtt_sample(h):
    h.mag.attach(MN)
    h.advance(1.5)
    h.answer()
    assert h.mag.entry(MN).state == "registered"
    assert not h.mag.counters.pba_rtt_seconds
    h.advance(100)
    assert len(h.pbus()) == 2


def test_a_pba_for_the_superseded_sequence_number_is_dropped(h):
    h.mag.attach(MN)
    first = h.last_pbu().sequence
    h.advance(1.5)
    h.answer(sequence=first)
    assert h.mag.entry(MN).state == "registering"
    assert h.stats.drops_by_reason["pba-unmatched"] == 1


# ----- PBA matching --------------------------------------------------------------------------

def test_duplicate_pba_is_dropped_and_counted(h):
    registered(h)
    h.answer()
    assert h.stats.drops_by_reason["pba-unmatched"] == 1
    assert h.kinds() == ["binding-created"]


@pytest.mark.parametrize("change", [
    {"mn": "other@example.net"},
    {"src": IPv6Address("2001:db8::99")},
    {"sequence": 4242},
])
def test_pba_for_an_unknown_session_is_dropped_and_counted(h, change):  # RFC 5213 §6.9.1.2 #5
    h.mag.attach(MN)
    h.answer(**change)
    assert h.mag.entry(MN).state == "registering"
    assert h.stats.drops_by_reason["pba-unmatched"] == 1
    assert h.dataplane.installed() == {}


@pytest.mark.parametrize("echo", [
    (wire.HandoffIndicatorOption(wire.HandoffIndicator.HANDOFF_STATE_UNKNOWN),),
    (wire.AccessTechnologyTypeOption(wire.AccessTechnologyType.IEEE_802_3),),
    (MobileNodeLinkLayerIdentifierOption(b"\x02\x00\x00\x00\x00\x09"),),
])
def test_a_pba_echoing_other_option_values_is_ignored_and_nothing_is_sent_until_an_operator_acts(h, echo):
    h.mag.attach(MN)
    h.answer(extra=echo)  # RFC 5213 §6.9.1.2 #6
    assert h.mag.entry(MN).state == "failed" and h.dataplane.installed() == {}
    assert h.stats.drops_by_reason["pba-options-differ"] == 1
    h.advance(100)
    assert len(h.pbus()) == 1  # MUST NOT retransmit
    h.mag.attach(MN)  # the administrative action
    assert len(h.pbus()) == 2 and h.mag.entry(MN).state == "registering"


def test_accepting_pba_without_a_home_network_prefix_enables_no_service(h):
    h.mag.attach(MN)
    h.answer(prefixes=())
    assert h.mag.entry(MN).state == "registering"
    assert h.dataplane.installed() == {}
    assert h.stats.drops_by_reason["pba-without-home-network-prefix"] == 1


# ----- rejections ----------------------------------------------------------------------------

REJECTIONS = sorted(int(s) for s in BindingAckStatus if s >= 128)
RETRIED = (BindingAckStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED, BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
           BindingAckStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)


@pytest.mark.parametrize("status", REJECTIONS)
def test_every_rejection_ends_service_to_the_mobile_node(h, status):
    h.mag.attach(MN)
    h.answer(status=status, lifetime=0)
    if status in RETRIED:
        h.answer(status=status, lifetime=0)  # the one retry the RFC allows is spent
    entry = h.mag.entry(MN)
    if status == BindingAckStatus.PROXY_REG_NOT_ENABLED:
        assert entry.state == "failed"  # kept, so the node is not registered again unasked
    else:
        assert entry is None
    assert h.dataplane.installed() == {} and h.mag.advertisement(MN) is None
    assert h.mag.counters.pba_rejected_by_status == {status: 1}
    deleted = h.events.history()[-1]
    assert (deleted.kind, deleted.data["reason"], deleted.data["mn-identifier"]) == ("binding-deleted", "rejected", MN)
    pbus = len(h.pbus())
    h.advance(100)
    assert len(h.pbus()) == pbus  # no further updates for that node


def test_rejected_refresh_removes_installed_forwarding(h):
    registered(h)
    h.advance(3570)
    h.answer(status=BindingAckStatus.ADMINISTRATIVELY_PROHIBITED, lifetime=0)
    assert h.dataplane.installed() == {} and h.mag.entry(MN) is None


def test_timestamp_mismatch_is_not_retried_and_the_lmas_clock_is_not_adopted(h, caplog):
    h.mag.attach(MN)
    lma_clock = WALL_START + 50.0
    h.answer(status=BindingAckStatus.TIMESTAMP_MISMATCH, lifetime=0, prefixes=(),
             extra=(TimestampOption.from_time(lma_clock),))
    assert len(h.pbus()) == 1 and h.mag.entry(MN) is None  # RFC 5213 §6.9.1.2 #9
    assert "+50.000 s from ours" in caplog.text
    h.mag.attach(MN)
    assert options_of(h.last_pbu(), TimestampOption)[0].to_time() == pytest.approx(h.clock.wall(), abs=1e-4)


def test_timestamp_lower_than_accepted_registers_again_once_with_a_fresh_timestamp(h):
    h.mag.attach(MN)
    h.advance(0.2)
    h.answer(status=BindingAckStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED, lifetime=0, prefixes=())
    first, again = h.pbus()  # RFC 5213 §6.9.1.2 #8: SHOULD try to register again
    assert again.sequence != first.sequence
    assert options_of(again, TimestampOption)[0].to_time() == pytest.approx(h.clock.wall(), abs=1e-4)
    h.answer()
    assert h.mag.entry(MN).state == "registered"


def test_refused_prefixes_are_not_asked_for_again_the_retry_asks_for_an_assignment(h):
    registered(h)
    h.advance(3570)
    assert options_of(h.last_pbu(), HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(HNP)]
    h.answer(status=BindingAckStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX, lifetime=0)
    retry = h.last_pbu()  # RFC 5213 §6.9.1.2 #10: MAY ask with one ALL_ZERO prefix
    assert options_of(retry, HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(IPv6Network("::/0"))]
    assert h.dataplane.installed() == {}
    fresh = IPv6Network("2001:db8:300::/64")
    h.answer(prefixes=(fresh,))
    assert h.mag.entry(MN).home_network_prefixes == (fresh,)


def test_proxy_registration_not_enabled_is_not_registered_again_until_an_operator_acts(h):
    h.mag.attach(MN)
    h.answer(status=BindingAckStatus.PROXY_REG_NOT_ENABLED, lifetime=0, prefixes=())
    assert h.mag.entry(MN).state == "failed"  # RFC 5213 §6.9.1.2 #7
    h.advance(1000)
    assert len(h.pbus()) == 1
    h.mag.detach(MN)  # the operator lets the node go: nothing is sent for a refused node
    assert h.mag.entry(MN) is None and len(h.pbus()) == 1


def test_sequence_out_of_window_resynchronises_from_the_lma(base_settings):
    timers = dataclasses.replace(base_settings.timers, timestamp_based_approach_in_use=False)
    h = Harness(dataclasses.replace(base_settings, timers=timers))
    h.mag.attach(MN)
    h.answer(status=BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW, lifetime=0, prefixes=(), sequence=900)
    assert h.last_pbu().sequence == 901
    h.answer()
    assert h.mag.entry(MN).state == "registered"


def test_insufficient_resources_gives_up_without_retrying(h):
    h.mag.attach(MN)
    h.answer(status=BindingAckStatus.INSUFFICIENT_RESOURCES, lifetime=0, prefixes=())
    h.advance(100)
    assert len(h.pbus()) == 1 and h.mag.entry(MN) is None


def test_no_more_than_max_update_rate_updates_a_second_for_one_session(h):
    registered(h)
    for _ in range(5):
        h.mag.attach(MN)  # each re-attach asks for a refresh
    assert len(h.pbus()) == 3  # RFC 6275 §11.8: MAX_UPDATE_RATE, 3 a second
    h.advance(1.0)
    assert len(h.pbus()) == 4


# ----- detach --------------------------------------------------------------------------------

def test_detach_sends_lifetime_zero_with_the_same_prefixes_and_cleans_up(h):
    registered(h)
    h.mag.detach(MN)
    dereg = h.last_pbu()
    assert dereg.lifetime == 0
    assert options_of(dereg, HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(HNP)]
    assert options_of(dereg, MobileNodeIdentifierOption) == [MobileNodeIdentifierOption(MN)]
    assert h.dataplane.installed() == {} and h.mag.advertisement(MN) is None
    assert h.mag.entry(MN).state == "deregistering"
    h.answer(lifetime=0)
    assert h.mag.entry(MN) is None
    assert h.events.history()[-1].data["reason"] == "deregistered"


def test_an_unanswered_deregistration_removes_the_entry_after_initial_bindack_timeout(h):
    registered(h)
    h.mag.detach(MN)
    h.advance(0.999)
    assert h.mag.entry(MN).state == "deregistering"
    h.advance(0.001)  # RFC 5213 §6.9.1.4: INITIAL_BINDACK_TIMEOUT, 1 s, and no retransmission
    assert h.mag.entry(MN) is None and len(h.pbus()) == 2
    assert h.events.history()[-1].data["reason"] == "deregistered"
    h.run_until_quiet()
    assert len(h.pbus()) == 2


def test_a_rejected_deregistration_still_ends_at_initial_bindack_timeout(h):
    registered(h)
    h.mag.detach(MN)
    h.answer(status=BindingAckStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED, lifetime=0)
    assert h.mag.entry(MN).state == "deregistering"
    h.advance(1.0)
    assert h.mag.entry(MN) is None and len(h.pbus()) == 2


def test_detach_before_any_prefix_was_granted_only_forgets_the_entry(h):
    h.mag.attach(MN)
    h.mag.detach(MN)
    assert len(h.pbus()) == 1 and h.mag.entry(MN) is None
    h.run_until_quiet()
    assert len(h.pbus()) == 1


def test_attach_again_while_registered_refreshes_instead_of_duplicating(h):
    registered(h)
    h.mag.attach(MN)
    assert len(h.mag.bul) == 1
    assert options_of(h.last_pbu(), wire.HandoffIndicatorOption)[0].value == 5


# ----- binding revocation (RFC 5846) ---------------------------------------------------------

def bri(**kwargs) -> BindingRevocationIndication:
    defaults = dict(trigger=wire.RevocationTrigger.ADMINISTRATIVE_REASON, sequence=77,
                    options=(MobileNodeIdentifierOption(MN),))
    return BindingRevocationIndication(**{**defaults, **kwargs})


def last_bra(h) -> wire.BindingRevocationAck:
    message, dst, port = h.sent[-1]
    assert isinstance(message, wire.BindingRevocationAck) and dst == LMA and port == 5436
    return message


def test_bri_for_a_known_binding_removes_it_and_answers_success(h):
    registered(h)
    h.deliver(bri())
    bra = last_bra(h)
    assert (bra.status, bra.sequence, bra.proxy) == (BindingRevocationStatus.SUCCESS, 77, True)
    assert h.mag.entry(MN) is None and h.dataplane.installed() == {}
    deleted = h.events.history()[-1]
    assert deleted.data["reason"] == "revoked" and deleted.data["revocation-trigger"] == 1
    assert [m.status for m, _, _ in h.sent if isinstance(m, wire.BindingRevocationAck)] == [0]


def test_bri_for_an_unknown_binding_answers_binding_does_not_exist(h):
    registered(h)
    h.deliver(bri(options=(MobileNodeIdentifierOption("nobody@example.net"),)))
    assert last_bra(h).status == BindingRevocationStatus.BINDING_DOES_NOT_EXIST
    assert h.mag.entry(MN).state == "registered"


def test_bri_naming_another_prefix_of_the_node_does_not_remove_it(h):
    registered(h)
    other = HomeNetworkPrefixOption(IPv6Network("2001:db8:999::/64"))
    h.deliver(bri(options=(MobileNodeIdentifierOption(MN), other)))
    assert last_bra(h).status == BindingRevocationStatus.BINDING_DOES_NOT_EXIST
    assert h.mag.entry(MN) is not None


def test_global_bri_removes_every_session_anchored_at_the_lma(h):
    registered(h)
    h.mag.attach("mn2@example.net")
    h.answer(mn="mn2@example.net", prefixes=(IPv6Network("2001:db8:200::/64"),))
    h.deliver(bri(global_=True, trigger=wire.RevocationTrigger.PER_PEER_POLICY, options=()))
    assert last_bra(h).status == BindingRevocationStatus.SUCCESS and last_bra(h).global_
    assert len(h.mag.bul) == 0 and h.dataplane.installed() == {}


def test_a_realm_bri_removes_the_sessions_of_that_realm_only(h):
    registered(h)  # mn1@example.net
    h.mag.attach("mn2@example.org")
    h.answer(mn="mn2@example.org", prefixes=(IPv6Network("2001:db8:200::/64"),))
    h.mag.attach("mn3@foo.example.net")
    h.answer(mn="mn3@foo.example.net", prefixes=(IPv6Network("2001:db8:300::/64"),))
    h.deliver(bri(global_=True, trigger=wire.RevocationTrigger.REVOKING_MOBILITY_NODE_LOCAL_POLICY,
                  options=(MobileNodeIdentifierOption("@example.net"),)))  # RFC 5846 §8.1, §9.1
    assert last_bra(h).status == BindingRevocationStatus.SUCCESS
    assert {e.mn_identifier for e in h.mag.bul} == {"mn2@example.org", "mn3@foo.example.net"}


def test_a_realm_bri_without_a_realm_needs_the_identity(h):
    registered(h)
    h.deliver(bri(global_=True, trigger=wire.RevocationTrigger.REVOKING_MOBILITY_NODE_LOCAL_POLICY, options=()))
    assert last_bra(h).status == BindingRevocationStatus.REVOKED_MOBILE_NODES_IDENTITY_REQUIRED
    assert h.mag.entry(MN) is not None


def test_a_handover_bri_for_a_node_still_attached_fails_with_mn_is_attached(h):
    registered(h)
    h.deliver(bri(trigger=wire.RevocationTrigger.INTER_MAG_HANDOVER_UNKNOWN))
    assert last_bra(h).status == BindingRevocationStatus.REVOCATION_FAILED_MN_IS_ATTACHED  # RFC 5846 §9.1
    assert h.mag.entry(MN).state == "registered"


def test_a_bri_with_the_v_bit_revokes_no_ipv6_session_and_the_bra_copies_v(h):
    registered(h)
    h.deliver(bri(ipv4_home_address_only=True))
    bra = last_bra(h)
    assert (bra.status, bra.ipv4_home_address_only) == (BindingRevocationStatus.BINDING_DOES_NOT_EXIST, True)
    assert h.mag.entry(MN) is not None  # RFC 5846 §9.1: only an IPv4 home address binding, and there is none


@pytest.mark.parametrize("change, status", [
    ({"trigger": 250}, BindingRevocationStatus.REVOCATION_TRIGGER_NOT_SUPPORTED),
    ({"trigger": wire.RevocationTrigger.PER_PEER_POLICY}, BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED),
    ({"global_": True}, BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED),
    ({"global_": True, "trigger": wire.RevocationTrigger.PER_PEER_POLICY},
     BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED),  # per-peer with options (§9.1: none)
    ({"proxy": False}, BindingRevocationStatus.BINDING_DOES_NOT_EXIST),  # a MAG has proxy bindings only
])
def test_a_bri_the_mag_cannot_act_on_keeps_the_session_and_says_why(h, change, status):
    registered(h)
    h.deliver(bri(**change))
    bra = last_bra(h)
    assert (bra.status, bra.sequence, bra.proxy, bra.global_) == (status, 77, change.get("proxy", True),
                                                                  change.get("global_", False))
    assert h.mag.entry(MN).state == "registered"


def test_bri_without_mobile_node_identifier_is_answered_with_status_131(h):
    h.deliver(bri(options=()))
    assert last_bra(h).status == BindingRevocationStatus.REVOKED_MOBILE_NODES_IDENTITY_REQUIRED


def test_bri_from_a_node_that_is_not_our_lma_is_dropped(h):
    registered(h)
    sent = len(h.sent)
    h.deliver(bri(), src=IPv6Address("2001:db8::66"))
    assert len(h.sent) == sent and h.mag.entry(MN) is not None
    assert h.stats.drops_by_reason["bri-from-unknown-peer"] == 1


# ----- LMA restart (RFC 5847) ----------------------------------------------------------------

def test_lma_restart_reregisters_every_session_anchored_there(h):
    registered(h)
    assert h.mag.on_lma_restart(LMA) == 1  # what the fault dispatcher calls (tests/protocol/test_faults.py)
    again = h.last_pbu()
    assert len(h.pbus()) == 2 and again.lifetime == 3600
    assert options_of(again, HomeNetworkPrefixOption) == [HomeNetworkPrefixOption(HNP)]
    assert h.dataplane.installed() != {}  # forwarding stays while the LMA re-learns the binding
    h.answer()
    assert h.mag.entry(MN).state == "registered"


def test_restart_of_another_anchor_changes_nothing(h):
    registered(h)
    assert h.mag.on_lma_restart(IPv6Address("2001:db8::77")) == 0
    assert len(h.pbus()) == 1


def test_revoke_bindings_policy_removes_sessions_on_lma_restart(base_settings):
    fault = dataclasses.replace(base_settings.fault_policy, on_peer_restart="revoke-bindings")
    h = Harness(dataclasses.replace(base_settings, fault_policy=fault))
    registered(h)
    assert h.mag.on_lma_restart() == 1
    assert h.mag.entry(MN) is None and h.events.history()[-1].data["reason"] == "peer-restart"


# ----- data plane failure, snapshots, stop ---------------------------------------------------

def test_data_plane_failure_deregisters_instead_of_serving_half(h):
    h.mag.attach(MN)
    h.dataplane.fail_next("apply")
    h.answer()
    assert h.last_pbu().lifetime == 0
    assert h.stats.drops_by_reason["dataplane-error"] == 1
    assert h.dataplane.installed() == {}


def test_counts_and_entries_snapshot(h):
    registered(h)
    h.mag.attach("mn2@example.net", link_layer_id=b"\x02\x00\x00\x00\x00\x02")
    counts = h.mag.bul.count_by_state()
    assert counts[BulState.REGISTERED] == 1 and counts[BulState.REGISTERING] == 1 and len(h.mag.bul) == 2
    entries = {e.mn_identifier: e for e in h.mag.entries()}
    assert entries["mn2@example.net"].link_layer_id == bytes.fromhex("020000000002")
    assert entries[MN].remaining_lifetime == 3600


def test_stop_cancels_every_timer(h):
    registered(h)
    h.mag.attach("mn2@example.net")
    asyncio.run(h.mag.stop())
    assert len(h.timers) == 0
    assert BulState.REGISTERED.value == h.mag.entry(MN).state


def test_lma_restart_during_an_initial_attach_keeps_its_handoff_indicator(h):
    h.mag.attach(MN)
    assert h.mag.on_lma_restart() == 1
    assert len(h.pbus()) == 2
    assert options_of(h.last_pbu(), wire.HandoffIndicatorOption)[0].value == 1
