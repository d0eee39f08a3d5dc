from nf.core.stats import Statistics


def test_counters_by_code_and_totals():
    stats = Statistics()
    stats.pba_sent_by_status[0] += 3
    stats.pba_sent_by_status[154] += 1
    stats.drops_by_reason["truncated"] += 2
    assert stats.pba_sent == 4
    assert (stats.pba_accepted_sent, stats.pba_rejected_sent) == (3, 1)
    assert stats.drops == 2


def test_copy_is_detached_from_the_counters_it_copies():
    stats = Statistics()
    stats.pbu_received = 5
    stats.heartbeats_sent["2001:db8::1"] += 1
    copy = stats.copy()
    stats.pbu_received += 1
    stats.heartbeats_sent["2001:db8::1"] += 1
    assert copy.pbu_received == 5
    assert copy.heartbeats_sent == {"2001:db8::1": 1}
    assert copy.discontinuity_time == stats.discontinuity_time


def test_reset_zeroes_counters_and_records_discontinuity():
    stats = Statistics()
    stats.bindings_created = 7
    stats.bri_sent_by_trigger[1] += 1
    stats.reset(now=123.0)
    assert stats.bindings_created == 0
    assert stats.bri_sent_by_trigger == {}
    assert stats.discontinuity_time == 123.0
