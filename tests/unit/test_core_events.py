import pytest

from nf.core.events import Event, EventBus


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_subscribers_receive_published_event():
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append)
    event = bus.publish("binding-created", mn_identifier="mn1")
    assert got == [event]
    assert event.kind == "binding-created" and event.data["mn_identifier"] == "mn1"


def test_event_is_immutable():
    event = EventBus().publish("peer-path-down", peer="2001:db8::1")
    with pytest.raises(AttributeError):
        event.kind = "other"
    with pytest.raises(TypeError):
        event.data["peer"] = "x"


def test_unsubscribe_stops_delivery():
    bus = EventBus()
    got = []
    unsubscribe = bus.subscribe(got.append)
    unsubscribe()
    unsubscribe()
    bus.publish("binding-created")
    assert got == []


def test_kind_filter():
    bus = EventBus()
    got = []
    bus.subscribe(got.append, kinds={"peer-restart"})
    bus.publish("binding-created")
    bus.publish("peer-restart")
    assert [e.kind for e in got] == ["peer-restart"]


def test_raising_subscriber_does_not_stop_others():
    bus = EventBus()
    got = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")
    bus.subscribe(broken)
    bus.subscribe(got.append)
    bus.publish("binding-deleted")
    assert len(got) == 1
    assert bus.subscriber_errors == 1


def test_history_is_bounded_by_count():
    bus = EventBus(max_entries=3, max_age=None)
    for i in range(5):
        bus.publish("binding-created", n=i)
    assert [e.data["n"] for e in bus.history()] == [2, 3, 4]


def test_history_is_bounded_by_age():
    clock = FakeClock()
    bus = EventBus(max_entries=100, max_age=60, clock=clock)
    bus.publish("old")
    clock.now += 30
    bus.publish("middle")
    clock.now += 45
    assert [e.kind for e in bus.history()] == ["middle"]
    assert [e.kind for e in bus.history(since=clock.now)] == []


def test_reconfiguring_retention_shrinks_history():
    bus = EventBus(max_entries=10, max_age=None)
    for i in range(6):
        bus.publish("e", n=i)
    bus.configure(max_entries=2, max_age=None)
    assert [e.data["n"] for e in bus.history()] == [4, 5]
    with pytest.raises(ValueError):
        bus.configure(max_entries=-1, max_age=None)


def test_a_subscriber_added_after_a_kind_was_published_receives_it_next_time():
    bus = EventBus()
    early, late = [], []
    bus.subscribe(early.append, kinds={"binding-created"})
    bus.publish("binding-created", n=1)
    bus.subscribe(late.append)
    bus.publish("binding-created", n=2)
    assert [e.data["n"] for e in early] == [1, 2] and [e.data["n"] for e in late] == [2]


def test_unsubscribing_after_a_kind_was_published_stops_delivery_of_it():
    bus = EventBus()
    got = []
    unsubscribe = bus.subscribe(got.append, kinds={"peer-restart"})
    bus.publish("peer-restart", n=1)
    unsubscribe()
    bus.publish("peer-restart", n=2)
    assert [e.data["n"] for e in got] == [1]


def test_subscribers_run_in_subscription_order_whatever_their_filters():
    bus = EventBus()
    order = []
    bus.subscribe(lambda e: order.append("all-1"))
    bus.subscribe(lambda e: order.append("filtered"), kinds={"binding-deleted"})
    bus.subscribe(lambda e: order.append("all-2"))
    bus.publish("binding-deleted")
    assert order == ["all-1", "filtered", "all-2"]


def test_a_bus_that_keeps_no_history_still_delivers():
    bus = EventBus(max_entries=0)
    got = []
    bus.subscribe(got.append)
    bus.publish("binding-created")
    assert len(got) == 1 and bus.history() == []
