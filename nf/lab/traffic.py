"""A paced UDP stream between two lab hosts, for measuring interruptions (handover).

The sender numbers each datagram and paces them on an absolute schedule; the receiver notes
each arrival's time, reports its first arrival at once (so the caller can act mid-stream),
and at the end how many arrived, the longest silence between two arrivals, the highest number
received (whether the stream came back after an interruption) and the source addresses seen.
Several streams can run at once (both directions of a path, say).
"""
from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

from .topology import LabError, Topology

PORT = 7010
IDLE_END = 2.0  # seconds of silence after which the receiver reports

_RECEIVER = """
import json, socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("bound", flush=True)
s.settimeout(float(sys.argv[3]))
seen, last, gap, first, sources = set(), None, 0.0, True, set()
while True:
    try:
        data, peer = s.recvfrom(64)
    except socket.timeout:
        break
    now = time.monotonic()
    if data == b"end":
        break
    seen.add(int(data))
    sources.add(peer[0])
    if first:
        print("first", flush=True)
        first = False
    if last is not None:
        gap = max(gap, now - last)
    last = now
print(json.dumps({"received": len(seen), "max_gap_ms": gap * 1000, "highest": max(seen, default=-1),
                  "sources": sorted(sources)}), flush=True)
"""

_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
address, port, rate, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
start = time.monotonic()
for i in range(count):
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    try:
        s.sendto(str(i).encode(), (address, port))
    except OSError:
        pass  # no route for a moment (handover): the datagram counts as lost
for _ in range(20):
    try:
        s.sendto(b"end", (address, port))
    except OSError:
        pass
    time.sleep(0.01)
"""


@dataclass(frozen=True)
class StreamResult:
    sent: int
    received: int
    max_gap_ms: float  # the longest time between two consecutive arrivals
    highest: int = -1  # the highest datagram number received (sent - 1 when the end came through)
    sources: tuple[str, ...] = ()  # source addresses of the datagrams received

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def reached_the_end(self) -> bool:
        """The last datagram arrived: the stream was flowing when it ended."""
        return self.highest == self.sent - 1


@dataclass(frozen=True)
class Flow:
    sender: str  # host
    receiver: str  # host
    address: str  # the receiver's address the sender streams to


def udp_stream(topology: Topology, sender: str, receiver: str, address: str, *, rate: float = 1000,
               seconds: float = 2.0, during: Callable[[], object] | None = None) -> StreamResult:
    """Stream `rate` datagrams/s for `seconds` from `sender` to `address` in `receiver`;
    `during` runs once the first datagram has arrived."""
    [result] = udp_streams(topology, [Flow(sender, receiver, address)], rate=rate, seconds=seconds, during=during)
    return result


def udp_streams(topology: Topology, flows: list[Flow], *, rate: float = 1000, seconds: float = 2.0,
                during: Callable[[], object] | None = None, idle_end: float = IDLE_END) -> list[StreamResult]:
    """Run one stream per flow at once, each at `rate` datagrams/s for `seconds`; `during` runs
    once every stream's first datagram has arrived. A receiver ends after `idle_end` seconds of
    silence, so an interruption must be shorter to be measured."""
    count = int(rate * seconds)
    receivers: list[subprocess.Popen] = []
    senders: list[subprocess.Popen] = []
    try:
        for flow in flows:
            receivers.append(subprocess.Popen(
                ["ip", "netns", "exec", topology.ns(flow.receiver), sys.executable, "-c", _RECEIVER,
                 flow.address, str(PORT), str(idle_end)], stdout=subprocess.PIPE, text=True))
        for rx in receivers:
            _expect(rx, "bound", 10.0)
        for flow in flows:
            senders.append(subprocess.Popen(["ip", "netns", "exec", topology.ns(flow.sender), sys.executable, "-c",
                                             _SENDER, flow.address, str(PORT), str(rate), str(count)]))
        for rx in receivers:
            _expect(rx, "first", 10.0)
        if during is not None:
            during()
        for tx in senders:
            tx.wait(timeout=seconds + 30)
        results = []
        for rx in receivers:
            data = json.loads(rx.communicate(timeout=idle_end + 10)[0].strip().splitlines()[-1])
            results.append(StreamResult(count, data["received"], data["max_gap_ms"], data["highest"],
                                        tuple(data["sources"])))
        return results
    finally:
        for process in senders + receivers:
            if process.poll() is None:
                process.kill()
                process.wait()


def _expect(process: subprocess.Popen, word: str, timeout: float) -> None:
    """Wait for `word` on the process's output, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([process.stdout], [], [], remaining)[0]:
            raise LabError(f"UDP stream: no {word!r} from the receiver within {timeout:g} s")
        line = process.stdout.readline()
        if not line:
            raise LabError(f"UDP stream: the receiver ended before {word!r}")
        if line.strip() == word:
            return
