"""Connection and session limits and the failed-login delay, on a fake clock."""
from __future__ import annotations

from mgmt.netconf import admission
from mgmt.netconf.admission import Admission, FailedLogins, Limits, source_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_delay_doubles_with_each_failure_from_a_source_up_to_the_maximum():
    failures = FailedLogins(1.0, 30.0, Clock())
    assert [failures.failed("192.0.2.1") for _ in range(7)] == [
        (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 30.0), (7, 30.0)]


def test_each_source_earns_its_own_delay():
    failures = FailedLogins(1.0, 30.0, Clock())
    for _ in range(4):
        failures.failed("192.0.2.1")
    assert failures.failed("2001:db8::7") == (1, 1.0)


def test_a_source_is_forgotten_after_a_quiet_period():
    clock = Clock()
    failures = FailedLogins(1.0, 30.0, clock)
    for _ in range(4):
        failures.failed("192.0.2.1")
    clock.now += admission.FORGET_AFTER - 1
    assert failures.failed("192.0.2.1") == (5, 16.0)  # still remembered: the quiet period starts again
    clock.now += admission.FORGET_AFTER + 1
    assert failures.failed("192.0.2.1") == (1, 1.0)


def test_the_table_of_sources_is_bounded_dropping_the_least_recent(monkeypatch):
    monkeypatch.setattr(admission, "MAX_SOURCES", 3)
    failures = FailedLogins(1.0, 30.0, Clock())
    failures.failed("192.0.2.1")
    failures.failed("192.0.2.1")
    for n in (2, 3, 4):
        failures.failed(f"192.0.2.{n}")
    assert failures.sources() == 3
    assert failures.failed("192.0.2.1") == (1, 1.0)  # the oldest went first


def test_a_zero_initial_delay_disables_the_delay():
    assert FailedLogins(0.0, 30.0, Clock()).failed("192.0.2.1") == (1, 0.0)


def test_pending_connections_are_limited_per_source_then_globally():
    slots = Admission(Limits(max_pending=3, max_pending_per_source=2))
    assert slots.admit_connection("a") is None and slots.admit_connection("a") is None
    assert slots.admit_connection("a") == "pending-per-source-limit"
    assert slots.admit_connection("b") is None
    assert slots.admit_connection("c") == "pending-limit"
    slots.release_pending("a")
    assert slots.admit_connection("c") is None
    counters = slots.snapshot()
    assert counters.pending == 3
    assert counters.refused["pending-per-source-limit"] == 1 and counters.refused["pending-limit"] == 1


def test_sessions_are_limited_per_source_then_globally():
    slots = Admission(Limits(max_sessions=2, max_sessions_per_source=1))
    assert slots.admit_session("a") is None
    assert slots.admit_session("a") == "session-per-source-limit"
    assert slots.admit_session("b") is None
    assert slots.admit_session("c") == "session-limit"
    slots.release_session("a")
    assert slots.admit_session("a") is None
    assert slots.snapshot().sessions == 2


def test_an_ipv4_mapped_address_is_the_ipv4_source():
    assert source_of("::ffff:192.0.2.9") == "192.0.2.9"
    assert source_of("2001:DB8:0::1") == "2001:db8::1"
    assert source_of("fe80::1%eth0") == "fe80::1"
