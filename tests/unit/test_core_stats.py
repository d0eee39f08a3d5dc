from ipaddress import IPv6Address

from nf.core.stats import MESSAGE_KINDS, Statistics

PEER = IPv6Address("2001:db8::1")
STRANGER = IPv6Address("2001:db8::99")


def test_messages_are_counted_by_kind_and_code_and_the_rfc_6475_views_read_them():
    stats = Statistics()
    for status in (0, 0, 0, 154):
        stats.sent("pba", None, status)
    stats.received("pbu", None)
    stats.malformed(None, None, "truncated")
    assert (stats.pba_sent, stats.pba_accepted_sent, stats.pba_rejected_sent) == (4, 3, 1)
    assert stats.pba_sent_by_status == {0: 3, 154: 1}
    assert stats.pbu_received == 1 and stats.drops == 1


def test_only_counted_peers_get_counters_of_their_own():
    stats = Statistics(counted_peers=frozenset({PEER}))
    stats.received("pbu", PEER)
    stats.received("pbu", STRANGER)
    stats.sent("pba", PEER, 0)
    stats.send_failed("pba", STRANGER, "socket-error")
    assert stats.messages["pbu"].received == 2 and stats.messages["pba"].send_failures == 1
    assert list(stats.peer_messages) == [PEER]
    assert (stats.peer_messages[PEER]["pbu"].received, stats.peer_messages[PEER]["pba"].sent_by_code) == (1, {0: 1})
    assert stats.send_failures_by_reason == {"socket-error": 1}


def test_drops_count_by_reason_and_by_kind_apart_from_malformed_datagrams():
    stats = Statistics(counted_peers=frozenset({PEER}))
    stats.dropped("pba", PEER, "pba-unmatched")
    stats.malformed("pba", PEER, "bad-checksum")
    stats.malformed(None, PEER, "truncated")
    assert stats.drops_by_reason == {"pba-unmatched": 1, "bad-checksum": 1, "truncated": 1}
    assert (stats.messages["pba"].dropped, stats.messages["pba"].malformed) == (1, 1)
    assert stats.peer_messages[PEER]["pba"].malformed == 1 and stats.messages["pba"].received == 0


def test_copy_is_detached_from_the_counters_it_copies():
    stats = Statistics(counted_peers=frozenset({PEER}))
    stats.received("heartbeat-request", PEER)
    stats.heartbeat_timeouts[str(PEER)] += 1
    copy = stats.copy()
    stats.received("heartbeat-request", PEER)
    stats.heartbeat_timeouts[str(PEER)] += 1
    assert copy.peer_messages[PEER]["heartbeat-request"].received == 1
    assert copy.messages["heartbeat-request"].received == 1
    assert copy.heartbeat_timeouts == {str(PEER): 1}
    assert copy.discontinuity_time == stats.discontinuity_time


def test_reset_zeroes_counters_keeps_the_counted_peers_and_records_discontinuity():
    stats = Statistics(counted_peers=frozenset({PEER}))
    stats.bindings_created = 7
    stats.sent("bri", PEER, 1)
    stats.reset(now=123.0)
    assert stats.bindings_created == 0
    assert stats.bri_sent_by_trigger == {} and stats.peer_messages == {}
    assert set(stats.messages) == set(MESSAGE_KINDS)
    assert stats.counted_peers == {PEER}
    assert stats.discontinuity_time == 123.0
