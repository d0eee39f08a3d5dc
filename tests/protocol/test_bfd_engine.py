"""Two BFD engines over loopback (distinct ports), and forged packets against a live session."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import struct
import sys
from ipaddress import IPv6Address

import pytest

from nf.liveness.bfd import (
    BfdAuthentication,
    AuthType,
    BfdBindError,
    BfdEngine,
    BfdSessionError,
    BfdSessionSpec,
    BfdSpecError,
    BfdState,
    ControlPacket,
    Diagnostic,
    encode,
)
from tests.bfd_peer import PeerProcess
from tests.waiting import wait_until

LOOPBACK = "::1"
FAST = dict(desired_min_tx=0.05, required_min_rx=0.05)


def spec(key: str, port: int, **kwargs) -> BfdSessionSpec:
    return BfdSessionSpec(key, LOOPBACK, LOOPBACK, remote_port=port, **{**FAST, **kwargs})


def up(engine: BfdEngine, key: str) -> bool:
    state = engine.session(key)
    return state is not None and state.local_state == BfdState.UP and not state.poll_in_progress


async def started_pair(a_kwargs=None, b_kwargs=None):
    a, b = BfdEngine(port=0), BfdEngine(port=0)
    await a.start()
    await b.start()
    a.add(spec("to-b", b.port, **(a_kwargs or {})))
    b.add(spec("to-a", a.port, **(b_kwargs or {})))
    await wait_until(lambda: up(a, "to-b") and up(b, "to-a"), "both sessions up")
    return a, b


def run(coro):
    return asyncio.run(coro)


def test_two_engines_bring_a_session_up_with_each_sides_discriminator():
    async def scenario():
        a, b = await started_pair()
        try:
            sa, sb = a.session("to-b"), b.session("to-a")
            assert sa.remote_discriminator == sb.local_discriminator != 0
            assert sb.remote_discriminator == sa.local_discriminator != 0
            assert sa.up_count == 1 and sa.last_up is not None
            assert 49152 <= sa.source_port <= 65535
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_timers_negotiate_each_sides_values_reflected():
    async def scenario():
        a, b = await started_pair(a_kwargs=dict(desired_min_tx=0.05, required_min_rx=0.12),
                                  b_kwargs=dict(desired_min_tx=0.08, required_min_rx=0.1,
                                                detect_multiplier=4))
        try:
            sa, sb = a.session("to-b"), b.session("to-a")
            assert sa.negotiated_tx_interval == pytest.approx(0.1)  # b's required rx
            assert sb.negotiated_tx_interval == pytest.approx(0.12)  # a's required rx
            assert sa.remote_desired_min_tx == pytest.approx(0.08)
            assert sa.detection_time == pytest.approx(4 * 0.12)
            assert sb.detection_time == pytest.approx(3 * 0.1)
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_update_changes_timers_through_a_poll_sequence_without_a_flap():
    async def scenario():
        a, b = await started_pair()
        try:
            a.update(spec("to-b", b.port, desired_min_tx=0.2, required_min_rx=0.2))
            assert a.session("to-b").poll_in_progress
            await wait_until(lambda: not a.session("to-b").poll_in_progress, "poll ended")
            await wait_until(lambda: b.session("to-a").negotiated_tx_interval == pytest.approx(0.2),
                             "b slowed down for a")
            assert a.session("to-b").negotiated_tx_interval == pytest.approx(0.2)
            assert a.session("to-b").up_count == 1 and a.session("to-b").down_count == 0
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_stopping_an_engine_is_admin_down_diagnostic_3_at_the_other_end():
    async def scenario():
        a, b = await started_pair()
        seen = []
        b.listeners.append(seen.append)
        await a.stop()
        try:
            assert a.session("to-b").local_state == BfdState.ADMIN_DOWN
            assert a.session("to-b").local_diagnostic == Diagnostic.ADMINISTRATIVELY_DOWN
            await wait_until(lambda: b.session("to-a").local_state == BfdState.DOWN, "b down")
            assert b.session("to-a").local_diagnostic == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
            assert b.session("to-a").remote_state == BfdState.ADMIN_DOWN
            [change] = seen
            assert (change.key, change.old_state, change.new_state, change.local_diagnostic) == (
                "to-a", BfdState.UP, BfdState.DOWN, 3)
            assert change.wall == b.session("to-a").last_down
        finally:
            await b.stop()
    run(scenario())


def test_removing_a_session_tells_the_remote_admin_down():
    async def scenario():
        a, b = await started_pair()
        try:
            a.remove("to-b")
            assert a.session("to-b") is None and len(a) == 0
            await wait_until(lambda: b.session("to-a").local_state == BfdState.DOWN, "b down")
            assert b.session("to-a").local_diagnostic == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_restart_of_one_end_comes_up_again_with_its_new_discriminator():
    async def scenario():
        a, b = await started_pair()
        port = a.port
        old = a.session("to-b").local_discriminator
        await a.stop()
        again = BfdEngine(port=port)
        again.add(spec("to-b", b.port))
        await again.start()
        try:
            await wait_until(lambda: up(again, "to-b") and up(b, "to-a"), "up after restart")
            new = again.session("to-b").local_discriminator
            assert new != old
            assert b.session("to-a").remote_discriminator == new
            assert b.session("to-a").up_count == 2
        finally:
            await again.stop()
            await b.stop()
    run(scenario())


def test_a_listener_that_raises_does_not_stop_the_others_or_the_engine():
    async def scenario():
        a, b = BfdEngine(port=0), BfdEngine(port=0)
        seen = []

        def broken(change):
            raise RuntimeError("listener bug")

        a.listeners += [broken, seen.append]
        await a.start()
        await b.start()
        a.add(spec("to-b", b.port))
        b.add(spec("to-a", a.port))
        try:
            await wait_until(lambda: up(a, "to-b") and up(b, "to-a"), "both up")
            assert [c.new_state for c in seen][-1] == BfdState.UP
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_authenticated_sessions_between_two_engines_come_up():
    async def scenario():
        auth = BfdAuthentication(AuthType.METICULOUS_KEYED_SHA1, key_id=1, key=b"lab-key")
        a, b = await started_pair(a_kwargs=dict(authentication=auth),
                                  b_kwargs=dict(authentication=auth))
        try:
            assert a.session("to-b").authentication_type == 5
            await asyncio.sleep(0)  # let queued packets through before reading counters
            assert a.counters().dropped == 0 and b.counters().dropped == 0
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


# --- the API's refusals -----------------------------------------------------------------
def test_a_busy_port_is_one_bind_error_naming_address_and_port():
    async def scenario():
        holder = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        holder.bind((LOOPBACK, 0))
        port = holder.getsockname()[1]
        try:
            with pytest.raises(BfdBindError) as caught:
                await BfdEngine(port=port, listen_address=LOOPBACK).start()
            assert str(caught.value) == (f"cannot bind BFD socket to [::1]:{port}: "
                                         "address already in use")
        finally:
            holder.close()
    run(scenario())


def test_a_local_address_not_on_this_host_is_one_bind_error():
    async def scenario():
        engine = BfdEngine(port=0)
        await engine.start()
        try:
            with pytest.raises(BfdBindError, match=r"\[2001:db8::dead\]:\d+: address not available"):
                engine.add(BfdSessionSpec("x", "2001:db8::dead", "2001:db8::1"))
            assert len(engine) == 0
        finally:
            await engine.stop()
    run(scenario())


def test_duplicate_key_or_address_pair_and_unknown_keys_are_session_errors():
    engine = BfdEngine(port=0)
    engine.add(spec("one", 4784))
    with pytest.raises(BfdSessionError, match="exists already"):
        engine.add(spec("one", 4784))
    with pytest.raises(BfdSessionError, match="already runs between ::1 and ::1"):
        engine.add(spec("two", 4784))
    with pytest.raises(BfdSessionError, match="no BFD session 'nope'"):
        engine.remove("nope")
    assert engine.session("nope") is None


def test_update_cannot_move_a_session_to_other_addresses():
    engine = BfdEngine(port=0)
    engine.add(spec("one", 4784))
    with pytest.raises(BfdSpecError) as caught:
        engine.update(BfdSessionSpec("one", "::1", "2001:db8::9"))
    assert caught.value.field == "remote_address"


# --- what our packets look like on the wire (RFC 5881 §4-5) ------------------------------
def test_packets_leave_with_hop_limit_255_from_a_source_port_in_49152_65535():
    async def scenario():
        listener = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        listener.bind((LOOPBACK, 0))
        listener.settimeout(5)
        engine = BfdEngine(port=0)
        engine.add(spec("x", listener.getsockname()[1]))
        await engine.start()
        try:
            seen = set()
            for _ in range(2):
                data, ancillary, _, source = await asyncio.to_thread(
                    listener.recvmsg, 1500, socket.CMSG_SPACE(4))
                [(_, _, hop)] = ancillary
                seen.add((int.from_bytes(hop[:4], sys.byteorder), source[1]))
            [(hop_limit, port)] = seen  # one source port for the whole session
            assert hop_limit == 255
            assert port == engine.session("x").source_port and 49152 <= port <= 65535
        finally:
            await engine.stop()
            listener.close()
    run(scenario())


# --- forged packets (RFC 5880 §6.8.6, RFC 5883) -------------------------------------------
class Forger:
    """Sends hand-made datagrams to an engine from its own socket."""

    def __init__(self, port: int, hop_limit: int = 255) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hop_limit)
        self.port = port

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (LOOPBACK, self.port))


def forged_cases(a_discr: int, b_discr: int) -> list[tuple[str, bytes, int]]:
    good = dict(state=BfdState.UP, my_discriminator=b_discr, your_discriminator=a_discr,
                desired_min_tx_us=50_000, required_min_rx_us=50_000)
    ok = encode(ControlPacket(**good))
    with_auth = bytearray(ok)
    with_auth[1] |= 0x04
    with_auth[3] = 52
    with_auth += bytes.fromhex("041c0100") + bytes(24)
    return [
        ("unknown-your-discriminator", encode(ControlPacket(**{**good, "your_discriminator": a_discr ^ 1})), 255),
        ("bad-length", ok[:20], 255),
        ("bad-length", ok[:3] + bytes([60]) + ok[4:], 255),
        ("bad-version", bytes([0x40]) + ok[1:], 255),
        ("detect-multiplier-zero", ok[:2] + b"\x00" + ok[3:], 255),
        ("multipoint", ok[:1] + bytes([ok[1] | 1]) + ok[2:], 255),
        ("my-discriminator-zero", ok[:4] + bytes(4) + ok[8:], 255),
        ("your-discriminator-zero-not-down", encode(ControlPacket(**{**good, "your_discriminator": 0})), 255),
        ("hop-limit-below-minimum", ok, 253),
        ("authentication-mismatch", bytes(with_auth), 255),
    ]


def test_forged_packets_are_counted_by_reason_and_dropped_and_the_session_stays_up():
    async def scenario():
        a, b = await started_pair()
        try:
            sa = a.session("to-b")
            cases = forged_cases(sa.local_discriminator, sa.remote_discriminator)
            before = a.counters()
            forgers = {}
            for _, data, hop_limit in cases:
                forger = forgers.setdefault(hop_limit, Forger(a.port, hop_limit))
                forger.send(data)
            expected = {}
            for reason, _, _ in cases:
                expected[reason] = expected.get(reason, 0) + 1
            await wait_until(lambda: a.counters().dropped - before.dropped == len(cases),
                             "every forged packet counted")
            after = a.counters()
            for reason, count in expected.items():
                assert after.drops[reason] - before.drops[reason] == count, reason
            await asyncio.sleep(0.3)  # six of b's packets at 50 ms: the session must hold
            now = a.session("to-b")
            assert now.local_state == BfdState.UP and now.up_count == 1 and now.down_count == 0
            assert now.remote_discriminator == sa.remote_discriminator
            for forger in forgers.values():
                forger.sock.close()
        finally:
            await a.stop()
            await b.stop()
    run(scenario())


def test_a_first_packet_for_an_address_pair_without_a_session_is_no_session():
    async def scenario():
        engine = BfdEngine(port=0)
        await engine.start()
        forger = Forger(engine.port)
        try:
            forger.send(encode(ControlPacket(state=BfdState.DOWN, my_discriminator=77)))
            await wait_until(lambda: engine.counters().drops["no-session"] == 1, "counted")
            assert engine.counters().dropped == 1
        finally:
            forger.sock.close()
            await engine.stop()
    run(scenario())


def test_garbage_of_every_length_never_raises_out_of_the_engine():
    async def scenario():
        a, b = await started_pair()
        forger = Forger(a.port)
        try:
            before = a.counters().packets_in
            for size in range(0, 80):
                forger.send(os.urandom(size))
            await wait_until(lambda: a.counters().packets_in - before >= 80, "all read")
            assert up(a, "to-b")
        finally:
            forger.sock.close()
            await a.stop()
            await b.stop()
    run(scenario())


# --- a peer in its own process, frozen with SIGSTOP -----------------------------------------
def test_a_silent_peer_is_down_with_diagnostic_1_and_learns_3_when_it_comes_back():
    async def scenario():
        engine = BfdEngine(port=0)
        await engine.start()
        peer = await PeerProcess.start("--session", f"to-us,::1,::1,{engine.port}",
                                       "--tx", "0.05", "--rx", "0.05")
        changes = []
        engine.listeners.append(changes.append)
        engine.add(spec("to-peer", peer.port))
        try:
            await wait_until(lambda: up(engine, "to-peer"), "up", timeout=10)
            peer.process.send_signal(signal.SIGSTOP)
            stopped = asyncio.get_running_loop().time()
            await wait_until(lambda: engine.session("to-peer").local_state == BfdState.DOWN,
                             "down after the detection time")
            state = engine.session("to-peer")
            assert state.local_diagnostic == Diagnostic.CONTROL_DETECTION_TIME_EXPIRED
            assert changes[-1].monotonic - stopped <= state.detection_time + 0.05
            peer.process.send_signal(signal.SIGCONT)
            await wait_until(lambda: up(engine, "to-peer"), "up again", timeout=10)
            peer.process.stdin.write(b"sessions\n")
            await peer.process.stdin.drain()
            while True:
                message = json.loads(await asyncio.wait_for(peer.process.stdout.readline(), 10))
                if message.get("change") == "to-us" and message["new"] == "down":
                    assert message["diagnostic"] == Diagnostic.NEIGHBOR_SIGNALED_SESSION_DOWN
                    break
        finally:
            await peer.stop()
            await engine.stop()
    run(scenario())
