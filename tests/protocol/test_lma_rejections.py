"""Every rejection of a Proxy Binding Update, with its exact status and the options RFC 5213
§5.3.6 makes mandatory (RFC 5213 §5.3.1, §5.5, §8.9; RFC 6275 §6.1.8, §9.5.1; RFC 8885 §4.1)."""
from __future__ import annotations

import dataclasses
from ipaddress import IPv6Network

import pytest

from nf.wire import (
    AccessTechnologyTypeOption,
    BindingAckStatus,
    HandoffIndicatorOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    OpaqueMobileNodeIdentifierOption,
    TimestampOption,
)

from .test_lma_harness import (
    LL,
    MAG1,
    MAG2,
    MN,
    MN_MAG1_ONLY,
    MN_STATIC,
    MN_WIFI_ONLY,
    POOL,
    STATIC,
    STRANGER,
    ZERO,
    Harness,
    option_of,
    prefixes_of,
    settings_with,
)


def assert_rejected(pba, status: int, sequence: int = 1) -> None:
    assert pba.status == status
    assert pba.lifetime == 0  # RFC 5213 section 5.3.6: no lifetime on a rejection
    assert pba.proxy and pba.sequence == sequence


def test_binding_update_without_proxy_flag_is_home_registration_not_supported():
    h = Harness()
    assert_rejected(h.register(proxy=False), 131)


def test_unknown_mag_is_not_authorized_for_proxy_registration():
    h = Harness()
    assert_rejected(h.register(STRANGER), 154)


def test_missing_mn_identifier_option_is_160():
    h = Harness()
    assert_rejected(h.register(mn=None), 160)


def test_unknown_mobile_node_is_not_lma_for_this_mobile_node():
    h = Harness()
    assert_rejected(h.register(mn="nobody@example.net"), 153)


def test_unknown_mobile_node_is_accepted_from_the_default_pool_when_configured():
    h = Harness(settings_with(lma={"accept_unknown_mobile_nodes": True}))
    pba = h.register(mn="nobody@example.net")
    assert pba.status == 0
    assert prefixes_of(pba)[0].subnet_of(POOL)


def test_mag_not_in_the_mobile_nodes_profile_is_154():
    h = Harness()
    assert_rejected(h.register(MAG2, mn=MN_MAG1_ONLY), 154)
    assert h.register(MAG1, mn=MN_MAG1_ONLY).status == 0


def test_missing_home_network_prefix_option_is_158():
    h = Harness()
    assert_rejected(h.register(prefixes=()), 158)


def test_missing_handoff_indicator_option_is_161():
    h = Harness()
    assert_rejected(h.register(hi=None), 161)


def test_missing_access_technology_type_option_is_162():
    h = Harness()
    assert_rejected(h.register(att=None), 162)


def test_access_technology_the_profile_does_not_allow_is_administratively_prohibited():
    h = Harness()
    assert_rejected(h.register(mn=MN_WIFI_ONLY, att=3), 129)
    assert h.register(mn=MN_WIFI_ONLY, att=4).status == 0


def test_a_pbu_without_timestamp_falls_back_to_sequence_numbers_and_its_pba_has_no_timestamp():
    h = Harness()
    pba = h.register(timestamp=None, sequence=20)
    assert pba.status == 0 and option_of(pba, TimestampOption) is None  # RFC 5213 §5.5, sequence scheme #1
    assert_rejected(h.register(timestamp=None, sequence=19, hi=5, prefixes=prefixes_of(pba)), 135, sequence=20)
    assert option_of(h.sent[-1].message, TimestampOption) is None


def test_timestamp_outside_the_validity_window_is_156_with_the_lmas_current_time():
    h = Harness()
    pba = h.register(timestamp=TimestampOption.from_time(h.clock.wall() - 0.301))  # window 300 ms
    assert_rejected(pba, 156)
    assert abs(option_of(pba, TimestampOption).to_time() - h.clock.wall()) < 0.001
    assert h.register(timestamp=TimestampOption.from_time(h.clock.wall() - 0.29)).status == 0


def test_a_replayed_pbu_is_156_with_the_lmas_current_time():
    h = Harness()
    first = h.pbu()
    assert h.deliver(first).status == 0
    h.advance(0.1)
    replay = h.deliver(first)  # RFC 5213 §5.5 #6: not greater than the accepted one, so not valid
    assert_rejected(replay, 156)
    assert abs(option_of(replay, TimestampOption).to_time() - h.clock.wall()) < 0.001


def test_out_of_order_pbu_is_157_with_the_lmas_current_time_and_leaves_the_binding_alone():
    h = Harness()
    older, newer = h.pbu(lifetime=400), h.pbu(lifetime=800)
    assert h.deliver(newer).status == 0
    h.advance(0.05)
    pba = h.deliver(older)
    assert_rejected(pba, 157)
    assert abs(option_of(pba, TimestampOption).to_time() - h.clock.wall()) < 0.001  # §5.5 #8, not the PBU's
    entry = h.lma.binding(MN, LL)
    assert entry.lifetime == 800
    assert h.lma.session(entry).updates_rejected == 1
    assert h.lma.session(entry).last_rejection_status == 157


def test_mobile_node_generated_timestamps_skip_the_window_but_not_the_ordering():
    h = Harness(settings_with(timers={"mobile_node_generated_timestamp_in_use": True}))
    assert h.register(timestamp=TimestampOption.from_time(1000.0)).status == 0
    assert_rejected(h.register(timestamp=TimestampOption.from_time(999.0)), 157)


def test_sequence_number_mode_rejects_an_old_sequence_with_135_and_the_last_accepted_one():
    h = Harness(settings_with(timers={"timestamp_based_approach_in_use": False}))
    assert h.register(sequence=10, timestamp=None).status == 0
    assert_rejected(h.register(sequence=10, timestamp=None), 135, sequence=10)
    assert_rejected(h.register(sequence=9, timestamp=None), 135, sequence=10)
    assert h.register(sequence=11, timestamp=None).status == 0


def test_sequence_number_window_wraps_around():
    h = Harness(settings_with(timers={"timestamp_based_approach_in_use": False}))
    assert h.register(sequence=0xFFFF, timestamp=None).status == 0
    assert h.register(sequence=2, timestamp=None).status == 0


def test_prefix_not_assigned_to_the_mobile_node_is_155():
    h = Harness()
    assert_rejected(h.register(prefixes=[IPv6Network("2001:db8:9999::/64")]), 155)


def test_prefix_of_another_mobile_node_is_155():
    h = Harness()
    assert h.register(mn=MN_STATIC).status == 0
    assert_rejected(h.register(mn=MN, prefixes=[STATIC[0]]), 155)


def test_prefix_set_differing_from_the_binding_is_159():
    h = Harness()
    assert h.register(mn=MN_STATIC).status == 0
    assert_rejected(h.register(mn=MN_STATIC, prefixes=[STATIC[0]], hi=5), 159)


def test_a_pbu_with_the_rfc_8885_d_flag_is_refused_at_this_lma():
    h = Harness()
    pbu = h.pbu()
    assert_rejected(h.deliver(dataclasses.replace(pbu, dmm=True)), 128)  # RFC 8885 §4.1: MUST NOT be processed
    assert len(h.lma.cache) == 0


def test_an_option_rfc_5213_allows_once_given_twice_is_refused():
    h = Harness()
    pbu = h.pbu(extra=[MobileNodeIdentifierOption("other@example.net")])
    assert_rejected(h.deliver(pbu), 128)  # RFC 5213 §8.1
    assert len(h.lma.cache) == 0


def test_an_identifier_of_another_subtype_names_no_node_of_ours_and_is_mirrored():
    h = Harness()
    opaque = OpaqueMobileNodeIdentifierOption(2, bytes(16))  # an IPv6 address subtype, RFC 8371
    pbu = h.pbu(mn=None, extra=[opaque])
    pba = h.deliver(pbu)
    assert_rejected(pba, 153)  # RFC 5213 §5.3.1 #7
    assert option_of(pba, OpaqueMobileNodeIdentifierOption) == opaque


@pytest.mark.parametrize("missing, status", [("mn", 160), ("prefixes", 158), ("hi", 161), ("att", 162)])
def test_every_rejection_carries_the_four_mandatory_options_with_their_fallback_values(missing, status):
    h = Harness()
    pba = h.register(**{missing: () if missing == "prefixes" else None})
    assert_rejected(pba, status)
    # RFC 5213 §5.3.6: MN-Identifier (zero length when absent), the request's HNPs (one
    # ALL_ZERO when none), Handoff Indicator and Access Technology Type (0 when absent).
    assert option_of(pba, MobileNodeIdentifierOption).nai == ("" if missing == "mn" else MN)
    assert prefixes_of(pba) == [ZERO]
    assert option_of(pba, HandoffIndicatorOption).value == (0 if missing == "hi" else 1)
    assert option_of(pba, AccessTechnologyTypeOption).value == (0 if missing == "att" else 3)
    assert option_of(pba, MobileNodeLinkLayerIdentifierOption).identifier == LL


def test_a_rejection_copies_every_home_network_prefix_of_the_request():
    h = Harness()
    named = [IPv6Network("2001:db8:9999::/64"), IPv6Network("2001:db8:9999:1::/64")]
    pba = h.register(prefixes=named)
    assert_rejected(pba, 155)
    assert prefixes_of(pba) == named


def test_rejection_mirrors_the_pbu_options():
    h = Harness()
    pbu = h.pbu(STRANGER, extra=[LinkLocalAddressOption(IPv6Network("fe80::1/128").network_address)])
    pba = h.deliver(pbu, STRANGER)
    assert option_of(pba, MobileNodeIdentifierOption).nai == MN
    assert prefixes_of(pba) == [ZERO]
    assert option_of(pba, HandoffIndicatorOption).value == 1
    assert option_of(pba, LinkLocalAddressOption) is not None
    assert option_of(pba, TimestampOption) == option_of(pbu, TimestampOption)


def test_every_rejection_is_answered_with_its_status_and_counted_as_rejected():
    h = Harness()
    h.register(STRANGER)
    h.register(mn=None)
    h.register(mn=None)
    assert [s.message.status for s in h.sent] == [154, 160, 160]
    assert h.lma.counters.pbu_rejected == 3
    assert len(h.lma.cache) == 0


def test_scapy_reads_the_rejection_status_and_proxy_flag():
    h = Harness()
    h.register(STRANGER)
    ba = h.sent[-1].scapy
    assert (ba.status, ba.mhtime) == (154, 0)
    assert "P" in str(ba.flags)


def test_handoff_indicator_outside_rfc_5213_values_is_reason_unspecified():
    h = Harness()
    assert_rejected(h.register(hi=0), 128)
    assert_rejected(h.register(hi=6), 128)


def test_the_checks_run_in_rfc_5213_order():
    # RFC 5213 §5.3: "the specified order MUST be maintained". Each PBU below fails two
    # checks; the answer is the earlier step's status.
    h = Harness()
    stale = TimestampOption.from_time(h.clock.wall() - 60)
    assert h.register(STRANGER, mn=None).status == 154  # step 1 before step 4
    assert h.register(mn=None, prefixes=()).status == 160  # step 4 before step 10
    assert h.register(mn="nobody@example.net", hi=None).status == 153  # step 7 before step 11
    assert h.register(timestamp=stale, prefixes=()).status == 156  # step 9 before step 10
    assert h.register(prefixes=(), att=None).status == 158  # step 10 before step 12
    assert h.register(hi=None, att=None).status == 161  # step 11 before step 12


def test_a_new_session_beyond_max_bindings_is_refused_with_130_and_the_held_one_still_refreshes():
    h = Harness(settings_with(lma={"max_bindings": 1}))
    [prefix] = prefixes_of(h.register())
    refused = h.register(mn=MN_STATIC, ll=None)
    assert refused.status == BindingAckStatus.INSUFFICIENT_RESOURCES
    assert (len(h.lma.cache), h.lma.counters.capacity_rejections, h.lma.counters.pbu_rejected) == (1, 1, 1)
    refreshed = h.register(hi=5, prefixes=(prefix,), sequence=2)
    assert refreshed.status == BindingAckStatus.ACCEPTED and prefixes_of(refreshed) == [prefix]
    assert h.lma.counters.capacity_rejections == 1
