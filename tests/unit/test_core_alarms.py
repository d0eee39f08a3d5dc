from nf.core.alarms import AlarmTable
from nf.core.events import EventBus


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def make():
    clock = Clock()
    bus = EventBus(clock=clock)
    return AlarmTable(bus, clock), bus, clock


def test_path_down_raises_and_path_up_clears_with_notifications():
    table, bus, clock = make()
    bus.publish("peer-path-down", peer="2001:db8::2", **{"missed-heartbeats": 3})
    [alarm] = table.raised()
    assert (alarm.alarm_type, alarm.resource, alarm.severity) == ("peer-path-down", "2001:db8::2", "major")
    assert "3 missed" in alarm.text and alarm.raised_time == 1000.0
    clock.now = 1060.0
    bus.publish("peer-path-up", peer="2001:db8::2")
    assert table.raised() == []
    assert table.alarms()[0].cleared_time == 1060.0
    assert [e.kind for e in bus.history()] == ["peer-path-down", "alarm-raised", "peer-path-up", "alarm-cleared"]


def test_a_repeated_fault_keeps_one_alarm_and_its_first_raise_time():
    table, bus, clock = make()
    bus.publish("peer-path-down", peer="2001:db8::2")
    clock.now = 1010.0
    bus.publish("peer-path-down", peer="2001:db8::2")
    [alarm] = table.alarms()
    assert alarm.raised_time == 1000.0 and alarm.last_changed == 1010.0
    assert [e.kind for e in bus.history()].count("alarm-raised") == 1


def test_recovery_of_another_peer_clears_nothing():
    table, bus, _ = make()
    bus.publish("peer-path-down", peer="2001:db8::2")
    bus.publish("peer-path-up", peer="2001:db8::3")
    assert len(table.raised()) == 1


def test_clear_of_an_unknown_alarm_is_false():
    table, _, _ = make()
    assert table.clear("peer-path-down", "2001:db8::9") is False
