"""RFC 5847 (and RFC 6275 §9.3.3) in a running node, over UDP on loopback: a Binding Error
of status 2 in answer to heartbeats stops them; a restarted LMA tells the MAGs it had
sessions with by an unsolicited Heartbeat Response; Binding Errors go only to unicast
sources, rate limited.
"""
from __future__ import annotations

import asyncio
import time

from nf import wire
from nf.wire import checksum
from nf.liveness.session_peers import FILE_NAME as SESSION_PEERS
from nf.runtime import BINDING_ERRORS_PER_SECOND, _TokenBucket

from .test_integration_lma_mag import (
    LOOPBACK,
    ScriptedPeer,
    crafted_pbu,
    free_udp_port,
    lma_settings,
    running,
    wait_for,
)


async def next_message(peer: ScriptedPeer, timeout: float = 2.0) -> wire.Message | None:
    """The next message the scripted peer receives, or None when `timeout` passes first."""
    loop = asyncio.get_running_loop()
    try:
        data = await asyncio.wait_for(loop.sock_recv(peer.sock, 4096), timeout)
    except asyncio.TimeoutError:
        return None
    return wire.decode(data, LOOPBACK, LOOPBACK)


def test_a_binding_error_answering_heartbeats_stops_them_to_that_peer(tmp_path):
    mag = ScriptedPeer()
    port = free_udp_port()
    settings = lma_settings(port, {LOOPBACK: mag.sock.getsockname()[1]}, heartbeat={
        "require-bindings": False, "fast-probe": {"enabled": True, "interval": 20, "detect-multiplier": 3}})

    async def scenario() -> None:
        async with running(settings, tmp_path / "lma") as lma:
            request = await next_message(mag)
            assert isinstance(request, wire.Heartbeat) and not request.response
            error = wire.BindingError(status=wire.BindingErrorStatus.UNRECOGNIZED_MH_TYPE)
            mag.send(wire.encode(error, LOOPBACK, LOOPBACK), port)
            await wait_for(lambda: lma.liveness.peer_state(LOOPBACK).heartbeat_supported is False,
                           "the peer marked without heartbeat support")
            while (late := await next_message(mag, timeout=0.01)) is not None:
                assert isinstance(late, wire.Heartbeat)  # sent before the error arrived
            assert await next_message(mag, timeout=0.2) is None  # ten fast-probe intervals: nothing more

    try:
        asyncio.run(scenario())
    finally:
        mag.close()


def test_a_restarted_lma_announces_its_restart_counter_to_the_mags_it_had_sessions_with(tmp_path):
    mag = ScriptedPeer()
    port = free_udp_port()
    settings = lma_settings(port, {LOOPBACK: mag.sock.getsockname()[1]})

    async def scenario() -> None:
        async with running(settings, tmp_path / "lma") as lma:
            mag.send(crafted_pbu(time.time()), port)
            await wait_for(lambda: (tmp_path / "lma" / SESSION_PEERS).exists(), "the session peers recorded")
            assert (tmp_path / "lma" / SESSION_PEERS).read_text().split() == ["::1"]
            first_counter = lma.restart_counter
        while await next_message(mag, timeout=0.05) is not None:
            pass  # what the first run sent
        async with running(settings, tmp_path / "lma") as lma:
            assert lma.restart_counter == first_counter + 1
            while True:
                message = await next_message(mag)
                assert message is not None, "no unsolicited Heartbeat Response after the restart"
                if isinstance(message, wire.Heartbeat) and message.unsolicited:
                    break
            assert message.response  # RFC 5847 §3.2: U=1, R=1, the new Restart Counter
            assert [o.counter for o in message.options] == [first_counter + 1]

    try:
        asyncio.run(scenario())
    finally:
        mag.close()


def test_binding_errors_for_unknown_message_types_are_rate_limited(tmp_path):
    attacker = ScriptedPeer()  # a configured peer (a stranger is not answered at all)
    port = free_udp_port()
    settings = lma_settings(port, {LOOPBACK: attacker.sock.getsockname()[1]})
    unknown = bytes((59, 0, 99, 0, 0, 0, 0, 0))  # MH Type 99, with its checksum
    unknown = unknown[:4] + checksum.compute(LOOPBACK, LOOPBACK, unknown).to_bytes(2, "big") + unknown[6:]

    async def scenario() -> None:
        async with running(settings, tmp_path / "lma") as lma:
            for _ in range(3 * BINDING_ERRORS_PER_SECOND):
                attacker.send(unknown, port)
            await wait_for(lambda: lma.stats.drops_by_reason["unknown-mh-type"] == 3 * BINDING_ERRORS_PER_SECOND,
                           "every datagram counted")
            errors = 0
            while (message := await next_message(attacker, timeout=0.05)) is not None:
                errors += isinstance(message, wire.BindingError)
            assert errors <= BINDING_ERRORS_PER_SECOND + 1  # RFC 6275 §9.3.3: like ICMPv6 (RFC 4443 §2.4)
            assert lma.stats.drops_by_reason["binding-error-rate-limited"] >= BINDING_ERRORS_PER_SECOND - 1

    try:
        asyncio.run(scenario())
    finally:
        attacker.close()


def test_the_binding_error_budget_refills_at_its_rate():
    bucket = _TokenBucket(10)
    assert sum(bucket.take(100.0) for _ in range(15)) == 10
    assert bucket.take(100.05) is False
    assert bucket.take(100.2) is True  # a token is back a tenth of a second on
