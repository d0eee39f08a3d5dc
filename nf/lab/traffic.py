"""A paced UDP stream between two lab hosts, for measuring interruptions (handover).

The sender numbers each datagram and paces them on an absolute schedule; the receiver notes
each arrival's time, reports its first arrival at once (so the caller can act mid-stream),
and at the end how many arrived and the longest silence between two arrivals.
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
seen, last, gap, first = set(), None, 0.0, True
while True:
    try:
        data = s.recv(64)
    except socket.timeout:
        break
    now = time.monotonic()
    if data == b"end":
        break
    seen.add(int(data))
    if first:
        print("first", flush=True)
        first = False
    if last is not None:
        gap = max(gap, now - last)
    last = now
print(json.dumps({"received": len(seen), "max_gap_ms": gap * 1000}), flush=True)
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

    @property
    def lost(self) -> int:
        return self.sent - self.received


def udp_stream(topology: Topology, sender: str, receiver: str, address: str, *, rate: float = 1000,
               seconds: float = 2.0, during: Callable[[], object] | None = None) -> StreamResult:
    """Stream `rate` datagrams/s for `seconds` from `sender` to `address` in `receiver`;
    `during` runs once the first datagram has arrived."""
    count = int(rate * seconds)
    rx = subprocess.Popen(["ip", "netns", "exec", topology.ns(receiver), sys.executable, "-c", _RECEIVER,
                           address, str(PORT), str(IDLE_END)], stdout=subprocess.PIPE, text=True)
    tx = None
    try:
        _expect(rx, "bound", 10.0)
        tx = subprocess.Popen(["ip", "netns", "exec", topology.ns(sender), sys.executable, "-c", _SENDER,
                               address, str(PORT), str(rate), str(count)])
        _expect(rx, "first", 10.0)
        if during is not None:
            during()
        tx.wait(timeout=seconds + 30)
        report = rx.communicate(timeout=IDLE_END + 10)[0].strip().splitlines()[-1]
        data = json.loads(report)
        return StreamResult(count, data["received"], data["max_gap_ms"])
    finally:
        for process in (tx, rx):
            if process is not None and process.poll() is None:
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
