"""BFD engine: CPU per session at 300 ms × 3 and 50 ms × 3, for 100 and 1,000 sessions.

Needs root. Two namespaces joined by a veth, N addresses on each end so that every session
has its own address pair (RFC 5883 §4.1); one engine process per namespace (tests.bfd_peer),
pinned to different cores. Each process's CPU time (getrusage) is read over a fixed window
once all N sessions are Up, against the same process idle with 0 sessions in the same run;
a session that leaves Up during the window is a flap and is reported.
Run directly with ``.venv/bin/python -m tests.bench --only bfd``.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time

from tests.bfd_peer import PeerProcess

from .harness import baseline, result

PREFIX = f"bfdb{os.getpid() % 10000}-"
A_NET, B_NET = "2001:db8:bfa", "2001:db8:bfb"
CASES = ((100, 0.3), (1000, 0.3), (100, 0.05), (1000, 0.05))
GOAL_SHARE = 50.0  # % of one core for 1,000 sessions at 300 ms × 3: the rest is headroom


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _address(net: str, i: int) -> str:
    return f"{net}::{i + 1:x}"


class Lab:
    def __init__(self, count: int) -> None:
        self.a, self.b = PREFIX + "a", PREFIX + "b"
        self.count = count

    def up(self) -> None:
        for ns in (self.a, self.b):
            _sh("ip", "netns", "add", ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "link", "add", "bfd0", "netns", self.a, "type", "veth", "peer", "name", "bfd0",
            "netns", self.b)
        # The far end's addresses are routed through one link-local next hop, so 1,000
        # sessions need one neighbour entry, not 1,000 (the default gc_thresh3 is 1,024).
        for ns, net, other, mine, theirs in ((self.a, A_NET, B_NET, "fe80::a", "fe80::b"),
                                             (self.b, B_NET, A_NET, "fe80::b", "fe80::a")):
            with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as batch:
                batch.write(f"address add {mine}/64 dev bfd0 nodad\n")
                for i in range(self.count):
                    batch.write(f"address add {_address(net, i)}/128 dev bfd0 nodad\n")
                batch.write(f"route add {other}::/64 via {theirs} dev bfd0\n")
            _sh("ip", "-n", ns, "link", "set", "bfd0", "up")
            try:
                _sh("ip", "-n", ns, "-6", "-batch", batch.name)
            finally:
                os.unlink(batch.name)

    def down(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60)

    def sessions_file(self, side: str, count: int) -> str:
        local, remote = (A_NET, B_NET) if side == "a" else (B_NET, A_NET)
        with tempfile.NamedTemporaryFile("w", suffix=".sessions", delete=False) as f:
            for i in range(count):
                f.write(f"s{i},{_address(local, i)},{_address(remote, i)}\n")
        return f.name


async def _start(lab: Lab, side: str, count: int, interval: float, cpu: int) -> PeerProcess:
    ns = lab.a if side == "a" else lab.b
    path = lab.sessions_file(side, count)
    try:
        return await PeerProcess.start(
            "--sessions-file", path, "--tx", str(interval), "--rx", str(interval), "--quiet",
            prefix=("ip", "netns", "exec", ns, "taskset", "-c", str(cpu)), port=4784)
    finally:
        os.unlink(path)


async def _cpu_window(peers: list[PeerProcess], seconds: float) -> tuple[list[float], list[int]]:
    """CPU seconds each process used over `seconds`, and its flaps (Up -> not Up) then."""
    first = [await p.ask("status", "states") for p in peers]
    await asyncio.sleep(seconds)  # the measurement window itself, not a wait for a condition
    last = [await p.ask("status", "states") for p in peers]
    return ([b["cpu"] - a["cpu"] for a, b in zip(first, last)],
            [b["downs"] - a["downs"] for a, b in zip(first, last)])


async def _all_up(peers: list[PeerProcess], count: int, timeout: float) -> float:
    start = time.monotonic()
    while True:
        states = [(await p.ask("status", "states"))["states"] for p in peers]
        if all(s.get("up", 0) == count for s in states):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"sessions not all up within {timeout} s: {states}")
        await asyncio.sleep(0.2)


def _cpus() -> tuple[int, int]:
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[-1])


async def _measure(lab: Lab, window: float) -> list[dict]:
    cpu_a, cpu_b = _cpus()
    idle = [await _start(lab, "a", 0, 0.3, cpu_a), await _start(lab, "b", 0, 0.3, cpu_b)]
    try:
        idle_cpu, _ = await _cpu_window(idle, window)
    finally:
        for p in idle:
            await p.stop()
    idle_share = 100 * max(idle_cpu) / window
    records = []
    for count, interval in CASES:
        peers = [await _start(lab, "a", count, interval, cpu_a),
                 await _start(lab, "b", count, interval, cpu_b)]
        try:
            bring_up = await _all_up(peers, count, timeout=60)
            used, flaps = await _cpu_window(peers, window)
        finally:
            for p in peers:
                await p.stop()
        share = 100 * max(used) / window  # the busier of the two processes
        per_session_us = 1e6 * (max(used) - max(idle_cpu)) / window / count
        label = f"{count} sessions at {interval * 1000:.0f} ms × 3"
        goal = met = None
        if (count, interval) == (1000, 0.3):
            goal, met = f"< {GOAL_SHARE:.0f} % of one core, no flap", (
                share < GOAL_SHARE and sum(flaps) == 0)
        notes = (f"both sides Up {bring_up:.1f} s after start; per-process CPU "
                 f"{', '.join(f'{100 * u / window:.1f} %' for u in used)} over {window:.0f} s; "
                 f"flaps in the window: {sum(flaps)}")
        records.append(result(f"bfd_cpu_share: {label}", share, "% of one core",
                              baseline=baseline("same process, 0 sessions", idle_share,
                                                "% of one core"),
                              goal=goal, met=met, notes=notes))
        records.append(result(f"bfd_cpu_per_session: {label}", per_session_us,
                              "µs CPU per s", notes="above the idle process, busier side"))
        records.append(result(f"bfd_flaps: {label}", sum(flaps), "sessions left Up",
                              goal="0", met=sum(flaps) == 0))
    return records


def run(quick: bool = False) -> list[dict]:
    lab = Lab(max(count for count, _ in CASES))
    try:
        lab.up()
        return asyncio.run(_measure(lab, window=3.0 if quick else 10.0))
    finally:
        lab.down()


if __name__ == "__main__":
    for record in run(quick=True):
        print(record)
