"""The RFC 5847 heartbeat monitor, driven by a fake clock and a recording `send`: no test sleeps.

Wire formats of what the monitor sends are read back with scapy (tests/protocol/wire_oracle.py).
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from nf import wire
from nf.core.events import Event, EventBus
from nf.core.stats import Statistics
from nf.core.timers import TimerService
from nf.liveness.heartbeat import HeartbeatMonitor, HeartbeatTotals, LivenessError
from nf.liveness.peer import Liveness
from nf.model import new_context
from nf.roles.base import RoleContext
from nf.settings import EnumValues, Settings, settings_from_dict
from tests.protocol import wire_oracle as oracle

LOCAL = IPv6Address("2001:db8::1")
PEER = IPv6Address("2001:db8::2")
OTHER = IPv6Address("2001:db8::3")
PEER_PORT = 5436

_ENUMS: EnumValues | None = None


def make_settings(*, interval: int = 60, missing: int = 3, peers: list[dict] | None = None,
                  fast_probe: dict | None = None, roles: tuple[str, ...] = ("dmm-nf-types:lma",),
                  mag: dict | None = None) -> Settings:
    global _ENUMS
    if _ENUMS is None:
        _ENUMS = EnumValues(new_context())
    heartbeat: dict[str, Any] = {"interval": interval, "missing-heartbeats-allowed": missing}
    if fast_probe is not None:
        heartbeat["fast-probe"] = fast_probe
    data: dict[str, Any] = {
        "node": {"name": "node1", "role": list(roles), "address": str(LOCAL)},
        "heartbeat": heartbeat,
        "peers": {"peer": peers if peers is not None else [{"address": str(PEER), "name": "peer1"}]},
    }
    if mag is not None:
        data["mag"] = mag
    return settings_from_dict(data, _ENUMS)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.wall_offset = 1_700_000_000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_offset + self.now


@dataclass
class Sent:
    message: wire.Heartbeat
    dst: IPv6Address
    port: int | None


@dataclass
class Harness:
    monitor: HeartbeatMonitor
    clock: FakeClock
    timers: TimerService
    stats: Statistics
    events: EventBus
    sent: list[Sent] = field(default_factory=list)
    link_up: bool = True  # False: send() reports failure

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward, firing every timer due on the way, in order."""
        end = self.clock.now + seconds
        while (deadline := self.timers.next_deadline()) is not None and deadline <= end:
            self.clock.now = max(self.clock.now, deadline)
            self.timers.run_due()
        self.clock.now = end

    def requests_to(self, address: IPv6Address) -> list[Sent]:
        return [s for s in self.sent if s.dst == address and not s.message.response]

    def responses(self) -> list[Sent]:
        return [s for s in self.sent if s.message.response]

    def respond(self, request: Sent, *, counter: int | None = 7, src: IPv6Address | None = None) -> None:
        options = (wire.RestartCounterOption(counter),) if counter is not None else ()
        reply = wire.Heartbeat(sequence=request.message.sequence, response=True, options=options)
        self.monitor.on_message(reply, src or request.dst, PEER_PORT, LOCAL)

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events.history() if e.kind == kind]


async def start_monitor(settings: Settings | None = None, *, restart_counter: int = 42,
                        first_sequence: int | None = 100) -> Harness:
    clock = FakeClock()
    timers = TimerService(clock=clock.monotonic)
    stats = Statistics()
    events = EventBus(clock=clock.wall)
    harness: Harness

    def send(message: wire.Message, dst: IPv6Address, port: int | None = None) -> bool:
        if not harness.link_up:
            return False
        harness.sent.append(Sent(message, dst, port))
        return True

    ctx = RoleContext(settings=settings or make_settings(), stats=stats, events=events, timers=timers,
                      dataplane=None, clock=clock, restart_counter=restart_counter, send=send)
    harness = Harness(HeartbeatMonitor(ctx, first_sequence=first_sequence), clock, timers, stats, events)
    await harness.monitor.start()
    timers.run_due()
    return harness


def async_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return run


async def until(condition, steps: int = 100) -> None:
    """Let other tasks run until `condition()` holds (bounded: fails instead of hanging)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


# ----- requests ---------------------------------------------------------------------------

@async_test
async def test_first_request_goes_out_at_start_then_one_every_interval():
    h = await start_monitor(make_settings(interval=60))
    assert [s.message.sequence for s in h.requests_to(PEER)] == [100]
    h.advance(59.9)
    assert len(h.requests_to(PEER)) == 1
    h.advance(0.1)
    h.advance(60)
    assert [s.message.sequence for s in h.requests_to(PEER)] == [100, 101, 102]


@async_test
async def test_requests_are_plain_requests_without_options():
    h = await start_monitor()
    request = h.requests_to(PEER)[0]
    packet = oracle.scapy_decode(wire.encode(request.message, LOCAL, PEER), LOCAL, PEER)
    assert (packet.mhtype, packet.R, packet.U, packet.seq) == (13, 0, 0, 100)
    assert not [o for o in packet.options if isinstance(o, oracle.RestartCounter)]


@async_test
async def test_sequence_number_wraps_at_32_bits():
    h = await start_monitor(first_sequence=0xFFFFFFFF)
    h.advance(60)
    assert [s.message.sequence for s in h.requests_to(PEER)] == [0xFFFFFFFF, 0]


@async_test
async def test_a_mag_monitors_its_lma_without_configured_peers():
    lma = IPv6Address("2001:db8::a")
    settings = make_settings(peers=[], roles=("dmm-nf-types:mag",), mag={"lma-address": str(lma)})
    h = await start_monitor(settings)
    assert [s.dst for s in h.sent] == [lma]


@async_test
async def test_per_peer_timing_overrides_the_node_default():
    peer = {"address": str(PEER), "heartbeat": {"interval": 10, "missing-heartbeats-allowed": 2}}
    h = await start_monitor(make_settings(interval=60, missing=3, peers=[peer]))
    h.advance(30)
    assert len(h.requests_to(PEER)) == 4
    assert h.monitor.peer_state(PEER).liveness == "down"  # three misses exceed the peer's two


# ----- responses to requests --------------------------------------------------------------

@async_test
async def test_a_request_is_answered_with_its_sequence_and_our_restart_counter():
    h = await start_monitor(restart_counter=42)
    h.monitor.on_message(wire.Heartbeat(sequence=0xDEADBEEF), OTHER, 40000, LOCAL)
    [reply] = h.responses()
    assert (reply.dst, reply.port) == (OTHER, 40000)
    packet = oracle.scapy_decode(wire.encode(reply.message, LOCAL, OTHER), LOCAL, OTHER)
    assert (packet.R, packet.U, packet.seq) == (1, 0, 0xDEADBEEF)
    assert [o.counter for o in packet.options if isinstance(o, oracle.RestartCounter)] == [42]


@async_test
async def test_responses_are_not_answered():
    h = await start_monitor()
    h.monitor.on_message(wire.Heartbeat(sequence=5, response=True), PEER, PEER_PORT, LOCAL)
    assert h.responses() == []


# ----- round-trip time and path state ---------------------------------------------------

@async_test
async def test_rtt_is_measured_in_microseconds_and_the_path_comes_up():
    h = await start_monitor()
    assert h.monitor.peer_state(PEER).liveness == "unknown"
    h.advance(0.0125)
    h.respond(h.requests_to(PEER)[0])
    state = h.monitor.peer_state(PEER)
    assert (state.liveness, state.rtt_us, state.missed_heartbeats) == ("up", 12500, 0)
    [up] = h.events_of("peer-path-up")
    assert dict(up.data) == {"peer": str(PEER), "name": "peer1", "rtt": 12500}  # no down-duration: first contact


@async_test
async def test_path_goes_down_when_the_misses_exceed_the_allowed_count():
    h = await start_monitor(make_settings(missing=3))
    h.advance(180)  # requests at 0, 60, 120, 180: three of them missed, as many as allowed
    assert h.monitor.peer_state(PEER).missed_heartbeats == 3
    assert h.monitor.peer_state(PEER).liveness == "unknown"
    assert h.events_of("peer-path-down") == []
    h.advance(60)  # the fourth goes unanswered: MISSING_HEARTBEATS exceeds the allowed 3 (RFC 5847 §3.1)
    state = h.monitor.peer_state(PEER)
    assert (state.liveness, state.down_count, state.last_down) == ("down", 1, h.clock.wall())
    [down] = h.events_of("peer-path-down")
    assert down.data["peer"] == str(PEER)
    assert down.data["missed-heartbeats"] == 4
    assert down.data["action"] == "alarm-only"
    assert h.stats.heartbeat_timeouts[str(PEER)] == 4
    h.advance(120)
    assert len(h.events_of("peer-path-down")) == 1  # still down: no second notification


@async_test
async def test_a_response_brings_a_down_path_up_with_the_down_duration():
    h = await start_monitor(make_settings(missing=1))
    h.advance(120)  # down at t=120: two misses exceed one
    assert h.monitor.peer_state(PEER).liveness == "down"
    h.advance(90)
    h.respond(h.requests_to(PEER)[-1])  # the request sent at t=180, answered at t=210
    state = h.monitor.peer_state(PEER)
    assert (state.liveness, state.missed_heartbeats, state.last_up) == ("up", 0, h.clock.wall())
    [up] = h.events_of("peer-path-up")
    assert up.data["down-duration"] == 90


@async_test
async def test_a_late_response_to_a_missed_request_does_not_bring_the_path_up():
    h = await start_monitor(make_settings(missing=1))
    first = h.requests_to(PEER)[0]
    h.advance(120)
    h.respond(first)
    assert h.monitor.peer_state(PEER).liveness == "down"
    assert h.events_of("peer-path-up") == []


@async_test
async def test_a_response_from_another_address_does_not_count():
    h = await start_monitor()
    h.respond(h.requests_to(PEER)[0], src=OTHER)
    assert h.monitor.peer_state(PEER).liveness == "unknown"


@async_test
async def test_unsendable_requests_count_as_missed():
    h = await start_monitor(make_settings(missing=2))
    h.link_up = False
    h.advance(180)
    assert h.monitor.peer_state(PEER).liveness == "down"


@async_test
async def test_path_listeners_hear_down_and_up():
    h = await start_monitor(make_settings(missing=1))
    heard = []
    h.monitor.path_listeners.append(lambda address, state: heard.append((address, state)))
    h.advance(120)
    h.respond(h.requests_to(PEER)[-1])
    assert heard == [(PEER, Liveness.DOWN), (PEER, Liveness.UP)]


# ----- restart detection ------------------------------------------------------------------

@async_test
async def test_restart_is_detected_when_the_counter_changes_not_on_the_first_value():
    h = await start_monitor()
    restarts = []
    h.monitor.restart_listeners.append(lambda *args: restarts.append(args))
    h.respond(h.requests_to(PEER)[-1], counter=7)
    h.advance(60)
    h.respond(h.requests_to(PEER)[-1], counter=7)
    assert h.events_of("peer-restart") == [] and restarts == []
    h.advance(60)
    h.respond(h.requests_to(PEER)[-1], counter=8)
    [event] = h.events_of("peer-restart")
    assert (event.data["previous-restart-counter"], event.data["restart-counter"]) == (7, 8)
    assert event.data["action"] == "re-register"
    assert restarts == [(PEER, 7, 8)]
    state = h.monitor.peer_state(PEER)
    assert (state.restart_counter, state.restart_count, state.last_restart) == (8, 1, h.clock.wall())


@async_test
async def test_a_restart_counter_carried_by_a_request_is_ignored():
    h = await start_monitor()
    h.respond(h.requests_to(PEER)[-1], counter=3)
    request = wire.Heartbeat(sequence=9, options=(wire.RestartCounterOption(4),))
    h.monitor.on_message(request, PEER, PEER_PORT, LOCAL)  # RFC 5847 §3.4: valid in a response only
    assert h.monitor.peer_state(PEER).restart_count == 0


@async_test
async def test_a_failing_listener_does_not_stop_the_others():
    h = await start_monitor()
    heard = []

    def broken(*args):
        raise RuntimeError("listener bug")
    h.monitor.restart_listeners.extend([broken, lambda *args: heard.append(args)])
    h.respond(h.requests_to(PEER)[-1], counter=1)
    h.advance(60)
    h.respond(h.requests_to(PEER)[-1], counter=2)
    assert heard == [(PEER, 1, 2)]


# ----- fast probing -----------------------------------------------------------------------

@async_test
async def test_fast_probing_asks_at_its_own_interval_and_multiplier():
    settings = make_settings(interval=60, missing=3,
                             fast_probe={"enabled": True, "interval": 200, "detect-multiplier": 2})
    h = await start_monitor(settings)
    h.advance(0.2)
    assert len(h.requests_to(PEER)) == 2
    assert h.monitor.peer_state(PEER).liveness == "unknown"
    h.advance(0.2)
    assert h.monitor.peer_state(PEER).liveness == "down"


# ----- probe-path -------------------------------------------------------------------------

@async_test
async def test_probe_resolves_with_the_rtt_of_its_response():
    h = await start_monitor()
    task = asyncio.create_task(h.monitor.probe(PEER, timeout=1.0))
    await until(lambda: len(h.requests_to(PEER)) == 2)
    h.advance(0.003)
    h.respond(h.requests_to(PEER)[-1])
    result = await task
    assert (result.answered, result.rtt_us, result.address) == (True, 3000, PEER)
    assert h.monitor.peer_state(PEER).rtt_us == 3000


@async_test
async def test_probe_times_out_without_a_response():
    h = await start_monitor()
    task = asyncio.create_task(h.monitor.probe(OTHER, timeout=1.0))
    await until(lambda: len(h.requests_to(OTHER)) == 1)
    h.advance(0.999)
    assert not task.done()
    h.advance(0.001)
    result = await task
    assert (result.answered, result.rtt_us) == (False, None)


@async_test
async def test_probe_rejects_bad_input_with_a_typed_error():
    h = await start_monitor()
    with pytest.raises(LivenessError, match="not an IPv6 address"):
        await h.monitor.probe("192.0.2.1", timeout=1.0)
    with pytest.raises(LivenessError, match="timeout"):
        await h.monitor.probe(PEER, timeout=0)


# ----- peers at run time, snapshot, stop --------------------------------------------------

@async_test
async def test_peers_added_at_run_time_are_asked_and_can_be_removed():
    h = await start_monitor()
    assert h.monitor.add_peer(OTHER) is True
    assert h.monitor.add_peer(OTHER) is False
    assert len(h.requests_to(OTHER)) == 0  # first request fires with the timers
    h.advance(0)
    assert len(h.requests_to(OTHER)) == 1
    assert h.monitor.remove_peer(OTHER) is True
    h.advance(600)
    assert len(h.requests_to(OTHER)) == 1
    assert h.monitor.peer_state(OTHER) is None


@async_test
async def test_configured_peers_are_not_removed_by_remove_peer():
    h = await start_monitor()
    assert h.monitor.remove_peer(PEER) is False
    assert list(h.monitor.peers()) == [PEER]


@async_test
async def test_peer_state_holds_the_restart_counter_seen_and_the_path_outcomes():
    h = await start_monitor()
    h.respond(h.requests_to(PEER)[-1], counter=5)
    [state] = h.monitor.peer_states()
    assert (state.address, state.liveness, state.restart_counter) == (PEER, "up", 5)
    assert h.monitor.totals == HeartbeatTotals()


@async_test
async def test_stop_ends_requests_and_pending_probes():
    h = await start_monitor()
    task = asyncio.create_task(h.monitor.probe(OTHER, timeout=5.0))
    await until(lambda: len(h.requests_to(OTHER)) == 1)
    await h.monitor.stop()
    assert (await task).answered is False
    h.advance(600)
    assert len(h.requests_to(PEER)) == 1


@async_test
async def test_reconfigure_follows_added_and_removed_peers():
    h = await start_monitor()
    h.monitor.reconfigure(make_settings(peers=[{"address": str(OTHER), "name": "other"}]))
    h.advance(0)
    assert list(h.monitor.peers()) == [OTHER]
    assert len(h.requests_to(OTHER)) == 1
    h.advance(600)
    assert len(h.requests_to(PEER)) == 1


# ----- any heartbeat is handled -----------------------------------------------------------

heartbeats = st.builds(
    wire.Heartbeat,
    sequence=st.integers(0, 0xFFFFFFFF),
    response=st.booleans(),
    unsolicited=st.booleans(),
    options=st.lists(st.builds(wire.RestartCounterOption, st.integers(0, 0xFFFFFFFF)), max_size=2).map(tuple),
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(heartbeats, st.sampled_from([PEER, OTHER]), st.floats(0, 100)), max_size=20))
def test_any_heartbeat_sequence_leaves_a_consistent_state(traffic):
    async def body():
        h = await start_monitor(make_settings(interval=10, missing=2))
        for message, src, pause in traffic:
            h.advance(pause)
            h.monitor.on_message(message, src, PEER_PORT, LOCAL)
        state = h.monitor.peer_state(PEER)
        assert state.liveness in {"unknown", "up", "down"}
        assert state.missed_heartbeats <= h.stats.heartbeat_timeouts[str(PEER)]
        answered = [m for m, _, _ in traffic if not m.response]
        assert len(h.responses()) == len(answered)
    asyncio.run(body())



@async_test
async def test_check_now_asks_a_peer_of_unknown_state_at_once_and_its_answer_brings_the_path_up():
    h = await start_monitor(make_settings(interval=60))
    h.advance(10)  # the start-up request went unanswered: the peer was not there yet
    assert h.monitor.check_now(PEER) is True
    requests = h.requests_to(PEER)
    assert len(requests) == 2
    h.respond(requests[-1])
    assert h.monitor.peer_state(PEER).liveness == "up"
    assert h.monitor.peer_state(PEER).missed_heartbeats == 0


@async_test
async def test_check_now_leaves_a_peer_of_known_state_to_its_cadence():
    h = await start_monitor(make_settings(interval=60))
    h.respond(h.requests_to(PEER)[0])
    assert h.monitor.check_now(PEER) is False
    assert len(h.requests_to(PEER)) == 1


@async_test
async def test_check_now_asks_only_once_while_the_peer_stays_silent():
    h = await start_monitor(make_settings(interval=60))
    assert h.monitor.check_now(PEER) is True
    assert h.monitor.check_now(PEER) is False
    assert len(h.requests_to(PEER)) == 2  # the start-up request and one early request, no more


# ----- RFC 5847 §3: who is asked -------------------------------------------------------------

@async_test
async def test_a_peer_without_bindings_is_not_asked_until_it_has_one():
    h = await start_monitor(make_settings())
    bindings = {PEER: False}
    h.monitor.has_sessions = bindings.get
    h.advance(300)
    sent = len(h.requests_to(PEER))
    h.advance(300)
    assert len(h.requests_to(PEER)) == sent  # SHOULD NOT without a binding cache entry
    assert h.monitor.peer_state(PEER).liveness == "unknown" and h.monitor.peer_state(PEER).missed_heartbeats == 0
    bindings[PEER] = True
    h.advance(60)
    assert len(h.requests_to(PEER)) == sent + 1


@async_test
async def test_require_bindings_false_asks_every_configured_peer():
    settings = make_settings()
    settings = dataclasses.replace(settings, heartbeat=dataclasses.replace(settings.heartbeat, require_bindings=False))
    h = await start_monitor(settings)
    h.monitor.has_sessions = lambda _address: False
    h.advance(120)
    assert len(h.requests_to(PEER)) == 3


@async_test
async def test_requests_are_answered_whether_or_not_the_peer_has_bindings():
    h = await start_monitor(make_settings())
    h.monitor.has_sessions = lambda _address: False
    h.monitor.on_message(wire.Heartbeat(sequence=5), OTHER, PEER_PORT, LOCAL)
    [reply] = h.responses()
    assert (reply.dst, reply.message.sequence) == (OTHER, 5)


@async_test
async def test_a_peer_that_does_not_support_heartbeats_is_not_asked_again():
    h = await start_monitor(make_settings())
    h.monitor.unsupported(PEER)  # it answered a request with a Binding Error, status 2 (RFC 5847 §3)
    sent = len(h.requests_to(PEER))
    h.advance(600)
    assert len(h.requests_to(PEER)) == sent
    state = h.monitor.peer_state(PEER)
    assert state.heartbeat_supported is False and state.missed_heartbeats == 0


@async_test
async def test_a_restart_is_announced_by_an_unsolicited_response_with_the_restart_counter():
    h = await start_monitor(make_settings(), restart_counter=43)
    assert h.monitor.announce_restart([PEER, OTHER]) == 2  # RFC 5847 §3.2
    announced = [s for s in h.sent if s.message.unsolicited]
    assert [s.dst for s in announced] == [PEER, OTHER]
    assert all(s.message.response for s in announced)
    assert [o.counter for s in announced for o in s.message.options] == [43, 43]
