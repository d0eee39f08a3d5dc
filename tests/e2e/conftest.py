"""Fixtures for end-to-end tests in network namespaces: the lab is always torn down."""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from nf.lab import Topology


def _lab_prefix() -> str:
    return f"dmmt{os.getpid() % 10000}-"  # distinct per test run, so parallel runs do not meet


@pytest.fixture
def lab() -> Iterator[Topology]:
    topology = Topology(_lab_prefix())
    try:
        topology.up()
        yield topology
    finally:
        topology.down()


def reachable(topology: Topology, host: str, address: str, timeout: float = 5.0) -> bool:
    """Poll with single pings until one is answered or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = topology.exec(host, "ping", "-6", "-c", "1", "-W", "1", address, check=False)
        if result.returncode == 0:
            return True
        if time.monotonic() >= deadline:
            return False


def udp_round_trip(topology: Topology, client: str, server: str, server_address: str, payload: str) -> str:
    """Send one UDP datagram from `client` to an echo server in `server`; return the echo."""
    echo = ("import socket;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);"
            f"s.bind(('{server_address}',7007));s.settimeout(10);d,a=s.recvfrom(2048);s.sendto(d,a)")
    server_process = subprocess.Popen(["ip", "netns", "exec", topology.ns(server), "python3", "-c", echo])
    try:
        ask = ("import socket,sys,time;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);s.settimeout(0.5)\n"
               "end=time.monotonic()+8\n"
               "while time.monotonic()<end:\n"
               f" s.sendto(b'{payload}',('{server_address}',7007))\n"
               " try:\n  print(s.recvfrom(2048)[0].decode());break\n except OSError: pass\n")
        result = topology.exec(client, "python3", "-c", ask, check=False)
        return result.stdout.strip()
    finally:
        server_process.kill()
        server_process.wait()
