"""Two runtimes exchange real RFC 5847 heartbeats over UDP on loopback.

One of them is stopped (its path goes down at the other) and started again with the same
state directory: its restart counter file increments, and the other detects the restart
from the Restart Counter in the heartbeat responses.
"""
from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv6Address
from pathlib import Path

from nf.liveness.heartbeat import HeartbeatMonitor
from nf.liveness.restart_counter import FILE_NAME
from nf.model import new_context
from nf.runtime import Runtime
from nf.settings import EnumValues, Settings, settings_from_dict
from nf.snapshot import SnapshotRequest, take
from tests.waiting import wait_until

LOOPBACK = IPv6Address("::1")
FAST_PROBE_MS = 20


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return sock.getsockname()[1]


def node_settings(enums: EnumValues, name: str, port: int, peer_port: int) -> Settings:
    return settings_from_dict({
        "node": {"name": name, "role": [], "address": "::1"},
        "transport": {"type": "dmm-nf-types:udp", "udp-port": port, "listen-address": "::1"},
        # Nodes without roles have no bindings: only require-bindings false lets them ask (RFC 5847 §3).
        "heartbeat": {"require-bindings": False,
                      "fast-probe": {"enabled": True, "interval": FAST_PROBE_MS, "detect-multiplier": 3}},
        "peers": {"peer": [{"address": "::1", "name": f"peer-of-{name}", "udp-port": peer_port}]},
        "dataplane": {"backend": "dmm-nf-types:memory"},
    }, enums)


async def start_node(settings: Settings, state_dir: Path) -> tuple[Runtime, HeartbeatMonitor]:
    runtime = Runtime(settings, state_dir)
    await runtime.start()
    return runtime, runtime.liveness


def peer_state(monitor: HeartbeatMonitor) -> dict:
    return monitor.peer_state(LOOPBACK)


def test_heartbeats_over_udp_detect_path_down_and_a_peer_restart(tmp_path):
    enums = EnumValues(new_context())
    port_a, port_b = free_udp_port(), free_udp_port()
    settings_a = node_settings(enums, "a", port_a, port_b)
    settings_b = node_settings(enums, "b", port_b, port_a)

    async def scenario() -> None:
        runtime_a, monitor_a = await start_node(settings_a, tmp_path / "a")
        runtime_b, monitor_b = await start_node(settings_b, tmp_path / "b")
        try:
            await wait_until(lambda: peer_state(monitor_a).liveness == "up"
                           and peer_state(monitor_b).liveness == "up")
            [state] = take(runtime_a, SnapshotRequest.of(peers=(LOOPBACK,))).peers
            assert state.restart_counter == runtime_b.restart_counter == 0
            assert 0 < state.rtt_us < 1_000_000
            assert state.count("heartbeat-response", "received") >= 1 and state.heartbeats_received >= 1

            await runtime_b.stop()
            await wait_until(lambda: peer_state(monitor_a).liveness == "down")
            assert [e.data["peer"] for e in runtime_a.events.history() if e.kind == "peer-path-down"] == ["::1"]

            runtime_b, monitor_b = await start_node(settings_b, tmp_path / "b")
            assert (tmp_path / "b" / FILE_NAME).read_text().strip() == "1"
            await wait_until(lambda: peer_state(monitor_a).restart_count == 1
                           and peer_state(monitor_a).liveness == "up")
            [restart] = [e for e in runtime_a.events.history() if e.kind == "peer-restart"]
            assert (restart.data["previous-restart-counter"], restart.data["restart-counter"]) == (0, 1)
            assert peer_state(monitor_b).restart_count == 0  # b lost its memory of a: first value again
        finally:
            await runtime_b.stop()
            await runtime_a.stop()

    asyncio.run(scenario())
