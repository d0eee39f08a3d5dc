"""The RFC 8632 alarm list: raise, re-raise, severity change, clear, status-change bounds,
operator states, purge, compress, summary and the notify-status-changes control."""
from __future__ import annotations

import pytest

from nf.alarms.alarm_list import AlarmKey, AlarmList, AlarmListError, Control, PurgeFilter
from nf.core.events import EventBus

PEER = "/dmm-nf:dmm-nf/peers/peer[address='2001:db8::2']"
OTHER = "/dmm-nf:dmm-nf/peers/peer[address='2001:db8::3']"
POOL = "/dmm-nf:dmm-nf/prefix-pools/pool[name='p1']"
DOWN = AlarmKey(PEER, "dmm-nf-alarms:signalling-path-down")


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(control: Control | None = None):
    clock = Clock()
    bus = EventBus(clock=clock)
    return AlarmList(bus, clock, control), bus, clock


def notifications(bus: EventBus) -> list[tuple[str, str]]:
    return [(e.data["perceived-severity"], e.data["alarm-text"]) for e in bus.history()
            if e.kind == "alarm-notification"]


def test_a_raise_creates_the_alarm_with_one_status_change_and_one_notification():
    alarms, bus, _ = make()
    assert alarms.raise_alarm(DOWN, "major", "no answer")
    [alarm] = alarms.alarms()
    assert (alarm.severity, alarm.text, alarm.is_cleared) == ("major", "no answer", False)
    assert alarm.time_created == alarm.last_raised == alarm.last_changed == 1_000_000
    assert [(c.time, c.severity, c.text) for c in alarm.status_changes] == [(1_000_000, "major", "no answer")]
    [event] = [e for e in bus.history() if e.kind == "alarm-notification"]
    assert event.data == {"resource": PEER, "alarm-type-id": DOWN.type_id, "alarm-type-qualifier": "",
                          "time": 1000.0, "perceived-severity": "major", "alarm-text": "no answer"}


def test_a_fault_reported_again_at_the_same_severity_changes_nothing():
    alarms, bus, clock = make()
    alarms.raise_alarm(DOWN, "major", "first report")
    clock.now += 5
    assert not alarms.raise_alarm(DOWN, "major", "second report")
    [alarm] = alarms.alarms()
    assert alarm.text == "first report" and len(alarm.status_changes) == 1
    assert len(notifications(bus)) == 1


def test_a_severity_change_is_a_status_change_with_the_new_text():
    alarms, bus, clock = make()
    alarms.raise_alarm(DOWN, "major", "tunnel idle")
    clock.now += 1
    alarms.raise_alarm(DOWN, "critical", "tunnel in use")
    [alarm] = alarms.alarms()
    assert (alarm.severity, alarm.text) == ("critical", "tunnel in use")
    assert [c.severity for c in alarm.status_changes] == ["major", "critical"]
    assert alarm.last_raised == 1_000_000 and alarm.last_changed == 1_001_000


def test_a_clear_keeps_the_alarm_and_its_severity_and_a_new_raise_re_raises_it():
    alarms, bus, clock = make()
    alarms.raise_alarm(DOWN, "major", "down")
    clock.now += 10
    assert alarms.clear(DOWN, "up again")
    [alarm] = alarms.alarms()
    assert alarm.is_cleared and alarm.severity == "major" and alarm.text == "up again"
    clock.now += 10
    alarms.raise_alarm(DOWN, "major", "down again")
    assert not alarm.is_cleared and alarm.last_raised == 1_020_000 and alarm.time_created == 1_000_000
    assert [c.severity for c in alarm.status_changes] == ["major", "cleared", "major"]
    assert [s for s, _ in notifications(bus)] == ["major", "cleared", "major"]


def test_a_clear_of_an_alarm_never_raised_or_already_cleared_does_nothing():
    alarms, bus, _ = make()
    assert not alarms.clear(DOWN, "up")
    alarms.raise_alarm(DOWN, "major", "down")
    alarms.clear(DOWN, "up")
    assert not alarms.clear(DOWN, "up")
    assert len(alarms.alarms()[0].status_changes) == 2


def test_changes_in_the_same_millisecond_get_distinct_increasing_times():
    alarms, bus, _ = make()
    alarms.raise_alarm(DOWN, "major", "down")
    alarms.clear(DOWN, "up")
    alarms.raise_alarm(DOWN, "major", "down")
    times = [c.time for c in alarms.alarms()[0].status_changes]
    assert times == [1_000_000, 1_000_001, 1_000_002]
    assert [e.data["time"] for e in bus.history() if e.kind == "alarm-notification"] == [1000.0, 1000.001, 1000.002]


def test_status_changes_are_bounded_by_max_alarm_status_changes_dropping_the_oldest():
    alarms, _, clock = make(Control(max_status_changes=3))
    for n in range(5):
        clock.now += 1
        alarms.raise_alarm(DOWN, "major", f"down {n}")
        alarms.clear(DOWN, f"up {n}")
    texts = [c.text for c in alarms.alarms()[0].status_changes]
    assert texts == ["up 3", "down 4", "up 4"]


def test_a_smaller_max_alarm_status_changes_trims_the_lists_at_once():
    alarms, _, clock = make()
    for n in range(4):
        clock.now += 1
        alarms.raise_alarm(DOWN, "major", f"down {n}")
        alarms.clear(DOWN, f"up {n}")
    alarms.configure(Control(max_status_changes=2))
    assert [c.text for c in alarms.alarms()[0].status_changes] == ["down 3", "up 3"]


def test_infinite_status_changes_keep_every_change_and_zero_keeps_the_latest():
    alarms, _, _ = make(Control(max_status_changes=None))
    for n in range(40):
        alarms.raise_alarm(DOWN, "major", "down")
        alarms.clear(DOWN, "up")
    assert len(alarms.alarms()[0].status_changes) == 80
    alarms.configure(Control(max_status_changes=0))
    assert [c.text for c in alarms.alarms()[0].status_changes] == ["up"]


def test_an_unknown_severity_is_refused():
    alarms, _, _ = make()
    with pytest.raises(AlarmListError):
        alarms.raise_alarm(DOWN, "cleared", "x")


# ----- notify-status-changes (RFC 8632 §6, /alarms/control) ----------------------------------
def test_raise_and_clear_mode_notifies_no_severity_change():
    alarms, bus, _ = make(Control(notify_status_changes="raise-and-clear"))
    alarms.raise_alarm(DOWN, "major", "a")
    alarms.raise_alarm(DOWN, "critical", "b")
    alarms.clear(DOWN, "c")
    alarms.raise_alarm(DOWN, "minor", "d")
    assert [t for _, t in notifications(bus)] == ["a", "c", "d"]


def test_severity_level_mode_follows_the_rfc_8632_example():
    """RFC 8632 §6 notify-status-changes, level major: changes T1..T8, notified at T1, T2,
    T5, T6, T7 and T8."""
    alarms, bus, clock = make(Control(notify_status_changes="severity-level", notify_severity_level="major"))
    steps = ["major", "minor", "warning", "minor", "major", "critical", "major", "clear"]
    for t, severity in enumerate(steps, start=1):
        clock.now += 1
        if severity == "clear":
            alarms.clear(DOWN, f"T{t}")
        else:
            alarms.raise_alarm(DOWN, severity, f"T{t}")
    assert [t for _, t in notifications(bus)] == ["T1", "T2", "T5", "T6", "T7", "T8"]
    assert len(alarms.alarms()[0].status_changes) == 8  # the list records every change


def test_severity_level_mode_always_notifies_a_clear_even_of_an_alarm_below_the_level():
    alarms, bus, _ = make(Control(notify_status_changes="severity-level", notify_severity_level="critical"))
    alarms.raise_alarm(DOWN, "minor", "raised")
    alarms.clear(DOWN, "cleared")
    assert [t for _, t in notifications(bus)] == ["cleared"]


# ----- operator lifecycle -----------------------------------------------------------------
def test_set_operator_state_records_who_when_and_notifies_an_operator_action():
    alarms, bus, clock = make()
    alarms.raise_alarm(DOWN, "major", "down")
    clock.now += 2
    alarm = alarms.set_operator_state(DOWN, "ack", "joe", "ticket 42")
    assert alarm.operator_state == "ack"
    [change] = alarm.operator_state_changes
    assert (change.time, change.operator, change.state, change.text) == (1_002_000, "joe", "ack", "ticket 42")
    assert alarm.last_changed == 1_002_000 and alarms.last_changed == 1_002_000
    [event] = [e for e in bus.history() if e.kind == "operator-action"]
    assert event.data == {"resource": PEER, "alarm-type-id": DOWN.type_id, "alarm-type-qualifier": "",
                          "time": 1002.0, "operator": "joe", "state": "ack", "text": "ticket 42"}


def test_operator_states_cannot_be_shelved_or_set_on_a_missing_alarm():
    alarms, _, _ = make()
    with pytest.raises(AlarmListError, match="no alarm"):
        alarms.set_operator_state(DOWN, "ack", "joe")
    alarms.raise_alarm(DOWN, "major", "down")
    with pytest.raises(AlarmListError, match="operator state"):
        alarms.set_operator_state(DOWN, "shelved", "joe")


def test_a_closed_alarm_raised_again_needs_attention_again():
    alarms, _, _ = make()
    alarms.raise_alarm(DOWN, "major", "down")
    alarms.clear(DOWN, "up")
    alarms.set_operator_state(DOWN, "closed", "joe")
    assert not alarms.alarms()[0].needs_attention
    alarms.raise_alarm(DOWN, "major", "down again")
    alarm = alarms.alarms()[0]
    assert alarm.operator_state == "none" and alarm.operator_state_changes[-1].operator == "dmm-nf"
    assert alarm.needs_attention


def test_closing_a_raised_alarm_takes_it_out_of_what_needs_attention():
    alarms, _, _ = make()
    alarms.raise_alarm(DOWN, "major", "down")
    alarms.raise_alarm(AlarmKey(POOL, "dmm-nf-alarms:prefix-pool-exhausted"), "major", "empty")
    alarms.set_operator_state(DOWN, "closed", "joe", "MAG decommissioned")
    assert alarms.needing_attention_by_severity() == {"indeterminate": 0, "warning": 0, "minor": 0, "major": 1,
                                                      "critical": 0}


# ----- summary -------------------------------------------------------------------------------
def test_the_summary_counts_every_severity_by_clearance_and_closure():
    alarms, _, _ = make()
    alarms.raise_alarm(DOWN, "major", "down")
    other = AlarmKey(OTHER, DOWN.type_id)
    alarms.raise_alarm(other, "major", "down")
    alarms.clear(other, "up")
    alarms.set_operator_state(other, "closed", "joe")
    alarms.raise_alarm(AlarmKey(POOL, "dmm-nf-alarms:prefix-pool-nearly-exhausted"), "warning", "90 %")
    summary = alarms.summary()
    assert list(summary) == ["indeterminate", "warning", "minor", "major", "critical"]
    major = summary["major"]
    assert (major.total, major.not_cleared, major.cleared) == (2, 1, 1)
    assert (major.cleared_closed, major.cleared_not_closed, major.not_cleared_closed,
            major.not_cleared_not_closed) == (1, 0, 0, 1)
    assert summary["warning"].not_cleared_not_closed == 1 and summary["critical"].total == 0


# ----- purge ---------------------------------------------------------------------------------
def populated():
    alarms, bus, clock = make()
    alarms.raise_alarm(DOWN, "major", "down")                                    # t=1000, stays raised
    pool = AlarmKey(POOL, "dmm-nf-alarms:prefix-pool-nearly-exhausted")
    alarms.raise_alarm(pool, "warning", "high")
    clock.now += 3600
    other = AlarmKey(OTHER, DOWN.type_id)
    alarms.raise_alarm(other, "major", "down")
    alarms.clear(other, "up")                                                    # t=4600, cleared
    alarms.clear(pool, "normal")                                                 # t=4600, cleared
    alarms.set_operator_state(pool, "closed", "joe")
    clock.now += 600                                                             # now 5200
    return alarms, (DOWN, pool, other)


@pytest.mark.parametrize(("criteria", "left"), [
    (PurgeFilter("any"), set()),
    (PurgeFilter("cleared"), {"down"}),
    (PurgeFilter("not-cleared"), {"pool", "other"}),
    (PurgeFilter("any", older_than=1800), {"pool", "other"}),
    (PurgeFilter("any", older_than=300), set()),
    (PurgeFilter("any", severity=("below", "major")), {"down", "other"}),
    (PurgeFilter("any", severity=("is", "major")), {"pool"}),
    (PurgeFilter("any", severity=("above", "warning")), {"pool"}),
    (PurgeFilter("any", operator_state="closed"), {"down", "other"}),
    (PurgeFilter("any", operator_state="none"), {"pool"}),
    (PurgeFilter("any", operator="joe"), {"down", "other"}),
    (PurgeFilter("cleared", operator_state="closed", older_than=60), {"down", "other"}),
])
def test_purge_deletes_exactly_the_alarms_matching_every_condition(criteria, left):
    alarms, (down, pool, other) = populated()
    names = {down: "down", pool: "pool", other: "other"}
    purged = alarms.purge(criteria)
    assert {names[a.key] for a in alarms.alarms()} == left
    assert purged == 3 - len(left)


def test_a_purged_alarm_comes_back_as_a_new_entry_when_raised_again():
    alarms, _, clock = make()
    alarms.raise_alarm(DOWN, "major", "down")
    alarms.purge(PurgeFilter("any"))
    assert alarms.not_cleared(DOWN.type_id) == 0
    assert not alarms.clear(DOWN, "up")  # nothing left to clear
    clock.now += 5
    alarms.raise_alarm(DOWN, "major", "down")
    [alarm] = alarms.alarms()
    assert alarm.time_created == 1_005_000 and len(alarm.status_changes) == 1


# ----- compress ------------------------------------------------------------------------------
def test_compress_keeps_only_the_latest_status_change_of_the_selected_alarms():
    alarms, _, _ = make()
    other = AlarmKey(OTHER, DOWN.type_id)
    for key in (DOWN, other):
        alarms.raise_alarm(key, "major", "down")
        alarms.clear(key, "up")
    assert alarms.compress(lambda alarm: alarm.key.resource == PEER) == 1
    assert [c.text for c in alarms.get(DOWN).status_changes] == ["up"]
    assert len(alarms.get(other).status_changes) == 2
    assert alarms.compress() == 1  # the other; an alarm with one change is not counted
