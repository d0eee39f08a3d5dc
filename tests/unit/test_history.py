"""The event history: bounds by count and age, what a query selects (the same in memory and
in the durable store), a restart keeps the history, and a damaged file is set aside."""
from __future__ import annotations

import sqlite3
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from nf.core.events import Event, EventBus
from nf.history import DurableHistory, EventQuery, HistoryFileError, MemoryHistory
from nf.history.sqlite import BLOCK_EVENTS


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def durable(tmp_path: Path, clock: FakeClock):
    """A factory of durable histories on one file; each is closed at the end."""
    opened: list[DurableHistory] = []

    def make(max_entries: int = 1000, max_age: float | None = None, **kwargs) -> DurableHistory:
        history = DurableHistory(tmp_path / "events.db", max_entries, max_age, clock=clock, **kwargs)
        opened.append(history)
        return history
    yield make
    for history in opened:
        history.close()


@pytest.fixture(params=["memory", "durable"])
def history_of(request, durable, clock):
    """Either kind of history: they answer queries alike."""
    def make(max_entries: int = 1000, max_age: float | None = None):
        if request.param == "memory":
            return MemoryHistory(max_entries, max_age, clock)
        return durable(max_entries, max_age)
    return make


def publish(bus_or_history, clock: FakeClock, kind: str, step: float = 1.0, **data) -> None:
    clock.now += step
    event = Event(kind, clock.now, data)
    bus_or_history.record(event)


def sequences(page) -> list[int]:
    return [e.sequence for e in page.events]


def filled(history, clock):
    """Six events a second apart: two MNs, two peers, four kinds."""
    publish(history, clock, "peer-path-up", peer="2001:db8::a")
    publish(history, clock, "binding-created", **{"mn-identifier": "mn1@example.net", "proxy-coa": "2001:db8::a"})
    publish(history, clock, "binding-created", **{"mn-identifier": "mn2@example.net", "proxy-coa": "2001:db8::b"})
    publish(history, clock, "binding-updated", **{"mn-identifier": "mn1@example.net", "proxy-coa": "2001:db8::b",
                                                  "previous-proxy-coa": "2001:db8::a"})
    publish(history, clock, "peer-path-down", peer="2001:db8::a")
    publish(history, clock, "binding-deleted", **{"mn-identifier": "mn2@example.net", "proxy-coa": "2001:db8::b"})
    return history


# ----- bounds ------------------------------------------------------------------------------
def test_the_history_keeps_the_newest_max_entries_events(history_of, clock):
    history = history_of(max_entries=3)
    for i in range(5):
        publish(history, clock, "binding-created", n=i)
    page = history.query(EventQuery())
    assert [e.data["n"] for e in page.events] == [2, 3, 4] and sequences(page) == [3, 4, 5]


def test_events_older_than_max_age_are_gone(history_of, clock):
    history = history_of(max_age=60)
    publish(history, clock, "old")
    publish(history, clock, "middle", step=30)
    clock.now += 45
    assert [e.kind for e in history.query(EventQuery()).events] == ["middle"]


def test_lowering_the_bounds_drops_the_surplus_at_once(history_of, clock):
    history = history_of(max_entries=10)
    for i in range(6):
        publish(history, clock, "e", n=i)
    history.configure(max_entries=2, max_age=None)
    assert [e.data["n"] for e in history.query(EventQuery()).events] == [4, 5]
    with pytest.raises(ValueError):
        history.configure(max_entries=-1, max_age=None)


def test_max_entries_0_keeps_nothing(history_of, clock):
    history = history_of(max_entries=0)
    publish(history, clock, "binding-created")
    assert history.query(EventQuery()).events == []


def test_a_lowered_bound_is_applied_to_the_file_too(durable, clock, tmp_path):
    history = durable(max_entries=1000)
    for i in range(600):
        publish(history, clock, "e", n=i)
    assert history.flush()
    history.configure(max_entries=10, max_age=None)
    history.flush()
    history.close()
    with sqlite3.connect(tmp_path / "events.db") as db:
        [(kept,)] = db.execute("SELECT sum(last_seq - first_seq + 1) FROM blocks")
    assert kept <= BLOCK_EVENTS  # the block holding the newest ten, and nothing older


# ----- queries -----------------------------------------------------------------------------
def test_a_time_range_includes_both_ends_to_the_microsecond(history_of, clock):
    history = filled(history_of(), clock)
    events = history.query(EventQuery()).events
    page = history.query(EventQuery(since=events[1].time, until=events[3].time))
    assert sequences(page) == [2, 3, 4]


def test_kinds_select_events_of_any_of_them(history_of, clock):
    history = filled(history_of(), clock)
    page = history.query(EventQuery(kinds=frozenset({"peer-path-up", "peer-path-down"})))
    assert [e.kind for e in page.events] == ["peer-path-up", "peer-path-down"]


def test_a_mobile_node_selects_its_events(history_of, clock):
    history = filled(history_of(), clock)
    page = history.query(EventQuery(mn_identifier="mn1@example.net"))
    assert [e.kind for e in page.events] == ["binding-created", "binding-updated"]


def test_a_mobile_node_identifier_that_json_escapes_is_found(history_of, clock):
    history = history_of()
    odd = 'mn"\\é@example.net'
    publish(history, clock, "binding-created", **{"mn-identifier": odd})
    publish(history, clock, "binding-created", **{"mn-identifier": "mn@example.net", "note": odd})
    assert sequences(history.query(EventQuery(mn_identifier=odd))) == [1]


def test_a_peer_is_found_in_any_field_that_names_one(history_of, clock):
    history = filled(history_of(), clock)
    page = history.query(EventQuery(peer=IPv6Address("2001:db8:0::a")))
    assert sequences(page) == [1, 2, 4, 5]  # peer, proxy-coa, previous-proxy-coa, peer


def test_a_limit_says_when_more_events_match_and_paging_on_finds_the_rest(history_of, clock):
    history = filled(history_of(), clock)
    first = history.query(EventQuery(limit=4))
    assert sequences(first) == [1, 2, 3, 4] and first.more
    rest = history.query(EventQuery(limit=4, after_sequence=first.events[-1].sequence))
    assert sequences(rest) == [5, 6] and not rest.more


def test_newest_first_returns_the_latest_and_pages_backwards(history_of, clock):
    history = filled(history_of(), clock)
    newest = history.query(EventQuery(limit=2, newest_first=True))
    assert sequences(newest) == [6, 5] and newest.more
    older = history.query(EventQuery(limit=10, newest_first=True, before_sequence=5))
    assert sequences(older) == [4, 3, 2, 1] and not older.more


def test_criteria_combine(history_of, clock):
    history = filled(history_of(), clock)
    page = history.query(EventQuery(kinds=frozenset({"binding-created", "binding-deleted"}),
                                    peer=IPv6Address("2001:db8::b"), mn_identifier="mn2@example.net"))
    assert [e.kind for e in page.events] == ["binding-created", "binding-deleted"]


def test_a_limit_below_1_is_refused():
    with pytest.raises(ValueError):
        EventQuery(limit=0)


# ----- the durable store -------------------------------------------------------------------------
def test_a_restart_keeps_the_history_and_numbering_goes_on(durable, clock):
    first = durable()
    publish(first, clock, "binding-created", **{"mn-identifier": "mn1@example.net"})
    first.close()
    second = durable()
    publish(second, clock, "binding-deleted", **{"mn-identifier": "mn1@example.net"})
    page = second.query(EventQuery())
    assert [(e.sequence, e.kind) for e in page.events] == [(1, "binding-created"), (2, "binding-deleted")]


def test_numbering_goes_on_after_a_restart_even_when_every_event_aged_out(durable, clock):
    first = durable(max_age=10)
    publish(first, clock, "a")
    publish(first, clock, "b")
    first.close()
    clock.now += 100
    second = durable(max_age=10)
    assert second.query(EventQuery()).events == []
    publish(second, clock, "c")
    assert sequences(second.query(EventQuery())) == [3]


def test_any_kind_is_kept_with_its_data_whatever_its_shape(durable, clock):
    history = durable()
    publish(history, clock, "kind-of-a-later-release", peer=IPv6Address("2001:db8::1"), ids=(1, 2),
            nested={"changes": [{"path": "/a", "operation": "create"}]}, raw=b"\x02\x00", flag=True, none=None)
    [event] = history.query(EventQuery()).events
    assert event.kind == "kind-of-a-later-release"
    assert dict(event.data) == {"peer": "2001:db8::1", "ids": [1, 2], "raw": "02:00", "flag": True, "none": None,
                                "nested": {"changes": [{"path": "/a", "operation": "create"}]}}


def test_the_events_of_one_write_share_a_few_blocks_rather_than_a_row_each(durable, clock, tmp_path):
    history = durable(flush_interval=60.0)  # nothing is written until asked
    for i in range(1000):
        publish(history, clock, "binding-created", step=0.001, n=i)
    assert history.flush()
    with sqlite3.connect(tmp_path / "events.db") as db:
        [(rows,)] = db.execute("SELECT count(*) FROM blocks")
    assert rows == -(-1000 // BLOCK_EVENTS)
    assert len(history.query(EventQuery(limit=None)).events) == 1000


def test_a_full_pending_queue_drops_new_events_and_counts_them(durable, clock):
    history = durable(flush_interval=60.0, pending_limit=2)
    for i in range(5):
        publish(history, clock, "binding-created", n=i)
    status = history.status()
    assert (status.recorded, status.dropped, status.pending) == (2, 3, 2)
    assert [e.data["n"] for e in history.query(EventQuery()).events] == [0, 1]


def test_a_failed_write_loses_its_batch_counted_and_the_next_one_is_written(durable, clock):
    history = durable(flush_interval=60.0)
    append = history.file.append

    def full_disk(*args):
        history.file.append = append  # the disk has room again for the next write
        raise sqlite3.OperationalError("database or disk is full")
    history.file.append = full_disk
    publish(history, clock, "lost")
    history.flush()
    publish(history, clock, "kept")
    assert [e.kind for e in history.query(EventQuery()).events] == ["kept"]
    assert (history.status().dropped, history.status().write_failures) == (1, 1)


def test_a_file_that_is_not_a_database_is_set_aside_and_a_new_history_starts(durable, clock, tmp_path):
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not an SQLite database" * 100)
    history = durable()
    assert history.file.set_aside is not None and history.file.set_aside.parent == tmp_path
    assert history.file.set_aside.name.startswith("events.db.corrupt-")
    assert history.file.set_aside.read_bytes().startswith(b"this is not an SQLite database")
    assert "not a database" in history.file.set_aside_reason
    publish(history, clock, "binding-created")
    assert [e.sequence for e in history.query(EventQuery()).events] == [1]


def test_a_database_of_another_kind_is_set_aside(durable, tmp_path):
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute("CREATE TABLE unrelated (x)")
    history = durable()
    assert "not an event history" in history.file.set_aside_reason
    assert history.query(EventQuery()).events == []


def test_a_history_path_that_cannot_be_opened_is_an_error_naming_it(tmp_path):
    (tmp_path / "events.db").mkdir()
    with pytest.raises(HistoryFileError) as error:
        DurableHistory(tmp_path / "events.db", 10, None)
    message = str(error.value)
    assert str(tmp_path / "events.db") in message and "\n" not in message


def test_the_bus_records_every_event_it_publishes_in_its_durable_history(tmp_path, clock):
    bus = EventBus(clock=clock, history=DurableHistory(tmp_path / "events.db", 10, None, clock=clock))
    try:
        bus.publish("peer-path-down", peer=IPv6Address("2001:db8::1"))
        [event] = bus.history()
        assert (event.kind, event.time, event.data["peer"]) == ("peer-path-down", clock.now, "2001:db8::1")
    finally:
        bus.close()
