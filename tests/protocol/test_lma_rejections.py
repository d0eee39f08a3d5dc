"""Every rejection of a Proxy Binding Update, with its exact status (RFC 5213 sections 5.3.1,
5.5 and 8.9; RFC 6275 sections 6.1.8 and 9.5.1)."""
from __future__ import annotations

from ipaddress import IPv6Network

from nf.wire import (
    HandoffIndicatorOption,
    LinkLocalAddressOption,
    MobileNodeIdentifierOption,
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


def test_missing_timestamp_is_timestamp_mismatch_with_the_lmas_time():
    h = Harness()
    pba = h.register(timestamp=None)
    assert_rejected(pba, 156)
    assert abs(option_of(pba, TimestampOption).to_time() - h.clock.wall()) < 0.001


def test_timestamp_outside_the_validity_window_is_156_with_the_lmas_current_time():
    h = Harness()
    pba = h.register(timestamp=TimestampOption.from_time(h.clock.wall() - 0.301))  # window 300 ms
    assert_rejected(pba, 156)
    assert abs(option_of(pba, TimestampOption).to_time() - h.clock.wall()) < 0.001
    assert h.register(timestamp=TimestampOption.from_time(h.clock.wall() - 0.29)).status == 0


def test_replayed_pbu_is_timestamp_lower_than_previously_accepted():
    h = Harness()
    first = h.pbu()
    assert h.deliver(first).status == 0
    replay = h.deliver(first)
    assert_rejected(replay, 157)
    assert option_of(replay, TimestampOption) == option_of(first, TimestampOption)  # copied from the PBU


def test_out_of_order_pbu_is_157_and_leaves_the_binding_alone():
    h = Harness()
    older, newer = h.pbu(lifetime=400), h.pbu(lifetime=800)
    assert h.deliver(newer).status == 0
    assert_rejected(h.deliver(older), 157)
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


def test_rejection_mirrors_the_pbu_options():
    h = Harness()
    pbu = h.pbu(STRANGER, extra=[LinkLocalAddressOption(IPv6Network("fe80::1/128").network_address)])
    pba = h.deliver(pbu, STRANGER)
    assert option_of(pba, MobileNodeIdentifierOption).nai == MN
    assert prefixes_of(pba) == [ZERO]
    assert option_of(pba, HandoffIndicatorOption).value == 1
    assert option_of(pba, LinkLocalAddressOption) is not None
    assert option_of(pba, TimestampOption) == option_of(pbu, TimestampOption)


def test_every_rejection_is_counted_by_status():
    h = Harness()
    h.register(STRANGER)
    h.register(mn=None)
    h.register(mn=None)
    assert h.stats.pba_sent_by_status == {154: 1, 160: 2}
    assert h.lma.counters.pbu_rejected == 3
    assert h.stats.pbu_received == 3
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
